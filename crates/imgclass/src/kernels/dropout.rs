//! Dropout masks from a counter-based generator (SplitMix64's output function over a key and
//! the element's index, Steele et al. 2014): every element is one hash, in parallel, with no
//! generator state to step through, so a mask costs a fraction of a ChaCha draw per element
//! and depends only on (key, index) — the same on any number of threads and on every device.
//!
//! The key is a value, not process-wide state: each training step draws a [`DropoutKey`] from
//! its own generator and hands it to the network (`Net::with_dropout_key`), and each place in
//! the network that applies dropout derives its own key from it with [`DropoutKey::site`]. So
//! each layer of each step draws its own mask, a resumed run draws the masks of an
//! uninterrupted one, and two networks training in one process never see each other's keys.

use std::mem::MaybeUninit;

use burn::nn::Dropout;
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use super::simd::{vectorized, written};
use crate::util::rng::splitmix64 as mix;

/// Elements per parallel task.
const CHUNK: usize = 1 << 14;

/// The key of one training step's dropout masks. A network holds the key of the step it is in
/// (the default, 0, until a step sets one); a place that applies dropout masks with
/// [`DropoutKey::site`] of it, so no two places share a mask.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DropoutKey(u64);

impl DropoutKey {
    /// The key drawn for a step (from the step's generator).
    pub(crate) fn new(key: u64) -> Self {
        DropoutKey(key)
    }

    /// The key of dropout site `site` of the network (block `i`'s dropout, the head's `j`th…):
    /// independent of the other sites' keys and of other steps' keys.
    pub(crate) fn site(self, site: u64) -> DropoutKey {
        DropoutKey(mix(self.0 ^ mix(site.wrapping_add(1))))
    }
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
/// the mask of `key` (a site's key: see [`DropoutKey::site`]) from this module's generator.
pub(crate) fn dropout<const D: usize>(layer: &Dropout, x: Tensor<D>, key: DropoutKey) -> Tensor<D> {
    if !layer.training.is_enabled() || !x.device().is_autodiff() || layer.prob == 0.0 {
        return x;
    }
    let keep = 1.0 - layer.prob;
    let shape = x.shape();
    let values = mask(key.0, shape.num_elements(), keep, (1.0 / keep) as f32);
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
    fn each_site_of_a_step_and_each_step_has_its_own_key() {
        let steps = [DropoutKey::new(1), DropoutKey::new(2)];
        let keys: Vec<DropoutKey> = steps.iter().flat_map(|k| (0..3).map(|site| k.site(site))).collect();
        for (i, a) in keys.iter().enumerate() {
            assert!(keys[i + 1..].iter().all(|b| b != a), "key {i} repeats: {keys:?}");
        }
        assert_eq!(DropoutKey::new(1).site(2), steps[0].site(2), "a key is a function of its inputs alone");
    }

    #[test]
    fn neighbouring_elements_are_uncorrelated() {
        let m = mask(11, 200_000, 0.5, 1.0);
        let both = m.windows(2).filter(|w| w[0] > 0.0 && w[1] > 0.0).count() as f64 / 199_999.0;
        assert!((both - 0.25).abs() < 0.01, "P(both kept) = {both}");
    }
}
