//! The allocator setting the binary chooses for itself (a library must not change a process's
//! allocator behind its caller's back).

/// Makes the C allocator keep freed memory for reuse, for a program that trains or predicts:
/// glibc's malloc serves each block over its threshold (dynamic, at most 32 MB) with fresh
/// pages from the kernel and unmaps it when freed, so every step of a network whose batches of
/// activations are larger (EfficientNet-Lite0 at 224 px: 150 MB each) takes page faults, page
/// zeroing and TLB flushes for all of them — measured, a third of its training time. This sets
/// the threshold to 32 MB, fixed, stops trimming the heap, and turns the mapping of blocks off
/// altogether, so that the blocks over 32 MB come from the heap too (measured: Lite0
/// inference 87 → 120 img/s, training unchanged); the memory a run peaked at stays with the
/// process until it exits. Call it once, first thing. Returns whether it applied: only on
/// Linux with glibc. (The library's benchmarks, `crates/imgclass/examples`, call a copy.)
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
