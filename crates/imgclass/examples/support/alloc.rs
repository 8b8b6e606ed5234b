//! The CLI's allocator setting (`crates/imgclass-cli/src/alloc.rs`, which explains it), copied
//! so that the benchmarks measure the speed the CLI runs at: glibc keeps freed memory for reuse
//! instead of handing large blocks back to the kernel and faulting them in again every step.

/// Keeps glibc's freed memory for reuse; whether it applied (only on Linux with glibc).
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes the allocator's parameters; the values are in range.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
                && libc::mallopt(libc::M_MMAP_MAX, 0) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}
