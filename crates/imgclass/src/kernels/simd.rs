//! Runs a kernel's inner loops compiled for the widest vector instructions the CPU has, and
//! gives them output buffers without a zero fill ([`written`]).
//!
//! The crate is compiled for baseline x86-64, whose vectors are SSE's 4 lanes; the loops of
//! batch norm, pooling, col2im and dropout masks then run at a quarter (AVX-512) or half (AVX2)
//! of what the CPU can do. [`vectorized`] calls a closure from inside a function compiled with
//! `#[target_feature]`: the closure is inlined there, so its loops are vectorized for those
//! features, chosen once per process from what the CPU reports (as the `gemm` crate chooses
//! its micro-kernels). The compiler keeps every operation and its order (it never contracts a
//! multiply and an add into an FMA on its own), so results are bit for bit those of the
//! baseline build: only the speed differs.
//!
//! (A closure handed to a `#[target_feature]` function is not reliably inlined: measured, the
//! closures stayed separate SSE functions. An `#[inline(always)]` function is.) The body must
//! not hand its work to other threads (rayon's tasks are separate functions that would lose
//! the features): the parallel loop calls the defined function inside each task.

use std::mem::MaybeUninit;
use std::sync::OnceLock;

/// `len` values written by `write`, which gets the vector's storage before any value is in it
/// and must write every element (`MaybeUninit::write`): an output buffer without the zero fill
/// of `vec![0.0; len]`, which for a layer's activations costs a pass over memory.
///
/// Debug builds and the unit tests fill the storage with a marker first and check that no
/// element still holds it afterwards.
///
/// # Safety
/// `write` must initialize all `len` elements.
pub(crate) unsafe fn written(len: usize, write: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut v = Vec::with_capacity(len);
    #[cfg(any(debug_assertions, test))]
    v.spare_capacity_mut()[..len].fill(MaybeUninit::new(f32::from_bits(UNWRITTEN)));
    write(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: the caller guarantees that `write` initialized every element.
    unsafe { v.set_len(len) };
    #[cfg(any(debug_assertions, test))]
    if let Some(i) = v.iter().position(|x| x.to_bits() == UNWRITTEN) {
        panic!("a kernel left element {i} of its {len}-element output unwritten");
    }
    v
}

/// The marker of unwritten output in checked builds: a NaN whose payload no arithmetic makes.
#[cfg(any(debug_assertions, test))]
const UNWRITTEN: u32 = 0x7fa5_a5a5;

/// `buf` filled with zeros, as initialized values (for loops that add into their output).
#[inline(always)]
pub(crate) fn zeroed(buf: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    buf.fill(MaybeUninit::new(0.0));
    // SAFETY: every element was just written; `MaybeUninit<f32>` has `f32`'s layout.
    unsafe { &mut *(buf as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// `buf` as the values written into it.
///
/// # Safety
/// Every element of `buf` must have been written.
#[inline(always)]
pub(crate) unsafe fn assume_written(buf: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: the caller guarantees that every element is initialized; same layout.
    unsafe { &mut *(buf as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// `values` as storage to overwrite (for an output whose old values are not read).
///
/// # Safety
/// Only initialized `f32`s may be written through the returned slice (`MaybeUninit::write`,
/// a matrix product's output), never `MaybeUninit::uninit()`: `values` is read as `f32`s
/// afterwards.
pub(crate) unsafe fn as_uninit(values: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // SAFETY: same layout; the caller writes only initialized values.
    unsafe { &mut *(values as *mut [f32] as *mut [MaybeUninit<f32>]) }
}

/// The instruction sets the loops are compiled for, from the most capable to the least (so a
/// level a CPU supports compares `>=` to the one it was detected at).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// AVX-512 F/BW/DQ/VL (16 lanes of f32; 64-bit integer multiplies for the dropout hash).
    Avx512,
    /// AVX2 and FMA (8 lanes).
    Avx2,
    /// The build's baseline.
    Baseline,
}

pub(crate) fn level() -> Level {
    #[cfg(test)]
    if let Some(forced) = forced::get() {
        return forced;
    }
    detected()
}

/// What the CPU supports, read once.
pub(crate) fn detected() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(detect)
}

/// Tests run the kernels at each level the CPU supports, to compare them bit for bit.
#[cfg(test)]
pub(crate) mod forced {
    use std::sync::atomic::{AtomicU8, Ordering};

    use super::Level;

    static FORCED: AtomicU8 = AtomicU8::new(0);

    pub(crate) fn get() -> Option<Level> {
        match FORCED.load(Ordering::Relaxed) {
            1 => Some(Level::Avx512),
            2 => Some(Level::Avx2),
            3 => Some(Level::Baseline),
            _ => None,
        }
    }

    /// Runs the kernels at `level` (which the CPU must support) until [`clear`]; for the whole
    /// process, so only for comparisons whose results every level must match anyway.
    pub(crate) fn set(level: Level) {
        assert!(level >= super::detected(), "{level:?} is not supported by this CPU");
        let code = match level {
            Level::Avx512 => 1,
            Level::Avx2 => 2,
            Level::Baseline => 3,
        };
        FORCED.store(code, Ordering::Relaxed);
    }

    pub(crate) fn clear() {
        FORCED.store(0, Ordering::Relaxed);
    }
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Level {
    let has = |f: &[bool]| f.iter().all(|x| *x);
    use std::arch::is_x86_feature_detected as d;
    if has(&[d!("avx512f"), d!("avx512bw"), d!("avx512dq"), d!("avx512vl"), d!("avx2"), d!("fma")]) {
        Level::Avx512
    } else if has(&[d!("avx2"), d!("fma")]) {
        Level::Avx2
    } else {
        Level::Baseline
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Level {
    Level::Baseline
}

/// Defines `fn $name(args) -> R` that runs the `#[inline(always)]` function `$body` on the
/// same arguments, compiled for the CPU's widest vectors: the body is inlined into one copy
/// per instruction set (a `#[target_feature]` function), and the copy is chosen at run time.
/// Arguments take concrete types (slices, numbers, references to plain structs).
macro_rules! vectorized {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $body:path;) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
            unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                $body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
            unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                $body($($arg),*)
            }
            match $crate::kernels::simd::level() {
                // SAFETY: the CPU reported every feature these copies are compiled with.
                #[cfg(target_arch = "x86_64")]
                $crate::kernels::simd::Level::Avx512 => unsafe { avx512($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                $crate::kernels::simd::Level::Avx2 => unsafe { avx2($($arg),*) },
                _ => $body($($arg),*),
            }
        }
    };
}
pub(crate) use vectorized;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "left element 2 of its 4-element output unwritten")]
    fn an_output_element_a_kernel_forgot_to_write_is_caught() {
        let skip_one = |buf: &mut [MaybeUninit<f32>]| {
            for (i, x) in buf.iter_mut().enumerate().filter(|(i, _)| *i != 2) {
                x.write(i as f32);
            }
        };
        // SAFETY: deliberately broken, to see the check catch it: in checked builds the
        // marker initializes every element first.
        let _ = unsafe { written(4, skip_one) };
    }

    #[inline(always)]
    fn loops(x: &[f32]) -> (Vec<f32>, f32) {
        let y: Vec<f32> = x.iter().map(|v| v * 1.7 + 0.3).collect();
        let mut acc = [0.0f32; 8];
        for c in x.chunks_exact(8) {
            for l in 0..8 {
                acc[l] += c[l] * c[l];
            }
        }
        (y, acc.iter().sum())
    }

    vectorized! {
        fn fast(x: &[f32]) -> (Vec<f32>, f32) = loops;
    }

    #[test]
    fn a_vectorized_function_gives_the_baseline_results_bit_for_bit() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin()).collect();
        assert_eq!(fast(&x), loops(&x));
        assert_eq!(level(), level(), "the level is chosen once");
    }
}
