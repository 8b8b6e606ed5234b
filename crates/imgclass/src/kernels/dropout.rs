//! Dropout masks from a counter-based generator (SplitMix64's output function over a key and
//! the element's index, Steele et al. 2014): every element is one hash, in parallel, with no
//! generator state to step through, so a mask costs a fraction of a ChaCha draw per element
//! and depends only on (key, index) — the same on any number of threads and on every device.
//!
//! The key is the training step's seed ([`seed_dropout`]) mixed with a count of dropout calls
//! since it was set, so each layer of each step draws its own mask and a resumed run draws the
//! masks of an uninterrupted one.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::nn::Dropout;
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use super::simd::{vectorized, written};
use crate::util::rng::splitmix64 as mix;

static KEY: AtomicU64 = AtomicU64::new(0);
static CALLS: AtomicU64 = AtomicU64::new(0);

/// Elements per parallel task.
const CHUNK: usize = 1 << 14;

/// Sets the key of the next dropout masks (the trainer calls it before every step with a hash
/// of the run's seed and the step) and restarts the count of calls.
pub fn seed_dropout(seed: u64) {
    KEY.store(seed, Ordering::Relaxed);
    CALLS.store(0, Ordering::Relaxed);
}

/// `n` mask values: `scale` with probability `keep`, else 0; element `i` from `mix(key, i)`.
fn mask(key: u64, n: usize, keep: f64, scale: f32) -> Vec<f32> {
    let threshold = (keep * 4_294_967_296.0).min(4_294_967_295.0) as u64;
    let write = |out: &mut [MaybeUninit<f32>]| {
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(t, chunk)| fill_mask(chunk, (t * CHUNK) as u64, key, threshold, scale))
    };
    // SAFETY: the chunks cover the mask, and `fill_mask` writes every element of its chunk.
    unsafe { written(n, write) }
}

vectorized! {
    /// The mask values of elements `first..first + chunk.len()` (`first` even).
    fn fill_mask(chunk: &mut [MaybeUninit<f32>], first: u64, key: u64, threshold: u64, scale: f32) = fill_mask_loops;
}

#[inline(always)]
fn fill_mask_loops(chunk: &mut [MaybeUninit<f32>], first: u64, key: u64, threshold: u64, scale: f32) {
    for (pair, values) in chunk.chunks_mut(2).enumerate() {
        let bits = mix(key.wrapping_add((first / 2 + pair as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        for (half, v) in values.iter_mut().enumerate() {
            let u = (bits >> (32 * half)) & 0xFFFF_FFFF;
            v.write(if u < threshold { scale } else { 0.0 });
        }
    }
}

/// A [`Dropout`] layer's forward, as [`Dropout::forward`] (identity outside training), with
/// its mask from this module's generator.
pub(crate) fn dropout<const D: usize>(layer: &Dropout, x: Tensor<D>) -> Tensor<D> {
    if !layer.training.is_enabled() || !x.device().is_autodiff() || layer.prob == 0.0 {
        return x;
    }
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let key = mix(KEY.load(Ordering::Relaxed) ^ mix(call.wrapping_add(1)));
    let keep = 1.0 - layer.prob;
    let shape = x.shape();
    let values = mask(key, shape.num_elements(), keep, (1.0 / keep) as f32);
    let mask = Tensor::from_data(TensorData::new(values, shape), &x.device());
    x * mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mask_keeps_its_share_and_scales_what_it_keeps() {
        let m = mask(7, 1_000_001, 0.9, 1.0 / 0.9);
        let kept = m.iter().filter(|v| **v > 0.0).count() as f64 / m.len() as f64;
        assert!((kept - 0.9).abs() < 0.002, "kept {kept}");
        assert!(m.iter().all(|v| *v == 0.0 || (*v - 1.0 / 0.9).abs() < 1e-6));
        let mean = m.iter().map(|v| f64::from(*v)).sum::<f64>() / m.len() as f64;
        assert!((mean - 1.0).abs() < 0.003, "expected value {mean}");
    }

    #[test]
    fn a_mask_depends_on_its_key_only() {
        assert_eq!(mask(3, 100_000, 0.5, 2.0), mask(3, 100_000, 0.5, 2.0));
        let (a, b) = (mask(3, 100_000, 0.5, 2.0), mask(4, 100_000, 0.5, 2.0));
        let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        assert!((45_000..55_000).contains(&same), "{same} equal of 100000: keys are not independent");
    }

    #[test]
    fn neighbouring_elements_are_uncorrelated() {
        let m = mask(11, 200_000, 0.5, 1.0);
        let both = m.windows(2).filter(|w| w[0] > 0.0 && w[1] > 0.0).count() as f64 / 199_999.0;
        assert!((both - 0.25).abs() < 0.01, "P(both kept) = {both}");
    }
}
