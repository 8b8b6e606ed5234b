//! The training objective of [`LossConfig`]: cross-entropy against soft targets — the label,
//! smoothed, and (with mixup or CutMix) blended with a partner image's label in the
//! proportion the images were blended — weighted per class for `fit.balance`.
//!
//! One formula covers every case: with targets `T` (rows sum to 1) and class weights `w`,
//! loss = Σᵢₖ wₖ Tᵢₖ (−log pᵢₖ) / Σᵢₖ wₖ Tᵢₖ. One-hot targets and unit weights give the
//! plain mean cross-entropy; one-hot targets and weights give PyTorch's weighted mean.

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;

use super::balance::{class_weights, label_weights};
use super::state::Env;
use crate::config::{Balance, LossConfig, Mix};
use crate::data::Batch;
use crate::data::targets::TaskKind;
use crate::task::Task;
use crate::util::rng::Rng;

/// The loss a run trains with.
pub(crate) struct Objective {
    config: LossConfig,
    classes: usize,
    /// Per-class weights (`fit.balance` weights), else all 1.
    weights: Vec<f32>,
    /// Beyond single-label, the task whose loss this is.
    task: Option<Task>,
}

/// Each image's partner (its label and its row in the batch) and the weight λ of its own
/// target, after blending a batch.
pub(crate) struct Blend {
    partner: Vec<i64>,
    rows: Vec<usize>,
    lambda: Vec<f32>,
}

impl Objective {
    /// The objective of `env`'s config, data and task.
    pub fn new(env: &Env) -> Self {
        let classes = env.data.classes.len();
        let multi = env.task.kind() == TaskKind::MultiLabel;
        let weights = match env.config.fit.balance {
            Some(Balance::Weights) if multi => label_weights(&env.data.train.targets, classes),
            Some(Balance::Weights) => class_weights(&env.data.train.labels, classes),
            _ => vec![1.0; classes],
        };
        let task = (!env.task.is_single_label()).then(|| env.task.clone());
        Objective { config: env.config.loss.clone(), classes, weights, task }
    }

    /// Blends the batch's images as `loss.mix` says, with draws from `rng`; what the loss
    /// then needs to blend the targets (`None`: no mixing, or a batch of one image).
    pub fn blend(&self, batch: &mut Batch, rng: &mut Rng) -> Option<Blend> {
        let n = batch.shape[0];
        let (alpha, paste) = match self.config.mix {
            _ if n < 2 => return None,
            Mix::None => return None,
            Mix::Mixup { alpha } => (alpha, false),
            Mix::Cutmix { alpha } => (alpha, true),
        };
        let mut perm: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut perm);
        let plane = batch.x.len() / n;
        let source = batch.x.clone();
        let partner = |i: usize| &source[perm[i] * plane..(perm[i] + 1) * plane];
        let lambda = if paste {
            let [_, c, h, w] = batch.shape;
            let (rows, cols) = cut_box(rng.beta(alpha, alpha), (h, w), rng);
            for (i, x) in batch.x.chunks_mut(plane).enumerate() {
                for ch in 0..c {
                    for r in rows.clone() {
                        let at = ch * h * w + r * w + cols.start;
                        x[at..at + cols.len()].copy_from_slice(&partner(i)[at..at + cols.len()]);
                    }
                }
            }
            vec![1.0 - (rows.len() * cols.len()) as f32 / (h * w) as f32; n]
        } else {
            let lambda: Vec<f32> = (0..n).map(|_| rng.beta(alpha, alpha).max(0.5) as f32).collect();
            for (i, (x, l)) in batch.x.chunks_mut(plane).zip(&lambda).enumerate() {
                x.iter_mut().zip(partner(i)).for_each(|(a, b)| *a = l * *a + (1.0 - l) * b);
            }
            lambda
        };
        Some(Blend { partner: perm.iter().map(|&j| batch.y[j]).collect(), rows: perm, lambda })
    }

    /// The mean loss of `logits` (`[n, classes]`) against `labels` (single-label) or `targets`
    /// (`n × classes`, the other tasks), blended by `blend`.
    pub fn loss(&self, logits: Tensor<2>, labels: &[i64], targets: &[f32], blend: Option<&Blend>) -> Tensor<1> {
        if let Some(task) = &self.task {
            let k = self.classes;
            let mut t = targets.to_vec();
            if let Some(b) = blend {
                for (i, row) in t.chunks_mut(k).enumerate() {
                    let other = &targets[b.rows[i] * k..(b.rows[i] + 1) * k];
                    row.iter_mut().zip(other).for_each(|(a, o)| *a = b.lambda[i] * *a + (1.0 - b.lambda[i]) * o);
                }
            }
            return task.loss_tensor(logits, &t, &self.weights, self.config.label_smoothing as f32);
        }
        let k = self.classes;
        let n = labels.len();
        let eps = self.config.label_smoothing as f32;
        let mut targets = vec![eps / k as f32; n * k];
        for (i, &y) in labels.iter().enumerate() {
            let row = &mut targets[i * k..(i + 1) * k];
            match blend {
                Some(b) => {
                    row[y as usize] += (1.0 - eps) * b.lambda[i];
                    row[b.partner[i] as usize] += (1.0 - eps) * (1.0 - b.lambda[i]);
                }
                None => row[y as usize] += 1.0 - eps,
            }
        }
        for row in targets.chunks_mut(k) {
            row.iter_mut().zip(&self.weights).for_each(|(t, w)| *t *= w);
        }
        let total: f32 = targets.iter().sum();
        targets.iter_mut().for_each(|t| *t /= total);
        let device = logits.device();
        let t = Tensor::<2>::from_data(TensorData::new(targets, [n, k]), &device);
        (log_softmax(logits, 1) * t).sum().neg()
    }
}

/// CutMix's rectangle for weight `lambda` in an `h × w` image: sides `√(1 − λ)` of the
/// image's, centred at a uniform point, clipped to the image (fastai's `rand_bbox`).
fn cut_box(lambda: f64, (h, w): (usize, usize), rng: &mut Rng) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let ratio = (1.0 - lambda).sqrt();
    let (ch, cw) = ((h as f64 * ratio) as usize, (w as f64 * ratio) as usize);
    let (cy, cx) = (rng.below(h), rng.below(w));
    let span = |c: usize, half: usize, n: usize| c.saturating_sub(half)..(c + half).min(n);
    (span(cy, ch / 2, h), span(cx, cw / 2, w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::loss::CrossEntropyLossConfig;

    fn objective(label_smoothing: f64, mix: Mix, weights: Vec<f32>) -> Objective {
        Objective { config: LossConfig { label_smoothing, mix }, classes: weights.len(), weights, task: None }
    }

    fn logits(device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(vec![2.0f32, -1.0, 0.5, 0.1, 0.3, -2.0], [2, 3]), device)
    }

    #[test]
    fn hard_targets_give_burns_cross_entropy_plain_weighted_and_smoothed() {
        let device = Device::default();
        let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2], [2]), &device);
        let cases: [(f64, Vec<f32>); 3] = [(0.0, vec![1.0; 3]), (0.0, vec![0.5, 1.0, 3.0]), (0.1, vec![1.0; 3])];
        for (eps, w) in cases {
            let mut reference = CrossEntropyLossConfig::new();
            if eps > 0.0 {
                reference = reference.with_smoothing(Some(eps as f32));
            }
            if w.iter().any(|&v| v != 1.0) {
                reference = reference.with_weights(Some(w.clone()));
            }
            let expected = reference.init(&device).forward(logits(&device), y.clone()).into_scalar::<f32>();
            let ours = objective(eps, Mix::None, w).loss(logits(&device), &[0, 2], &[], None).into_scalar::<f32>();
            assert!((ours - expected).abs() < 1e-5, "ε {eps}: {ours} vs burn's {expected}");
        }
    }

    #[test]
    fn a_blended_target_is_the_blend_of_the_two_losses() {
        let device = Device::default();
        let obj = objective(0.0, Mix::MIXUP, vec![1.0; 3]);
        let blend = Blend { partner: vec![1, 1], rows: vec![1, 0], lambda: vec![0.7, 0.7] };
        let mixed = obj.loss(logits(&device), &[0, 2], &[], Some(&blend)).into_scalar::<f32>();
        let a = obj.loss(logits(&device), &[0, 2], &[], None).into_scalar::<f32>();
        let b = obj.loss(logits(&device), &[1, 1], &[], None).into_scalar::<f32>();
        assert!((mixed - (0.7 * a + 0.3 * b)).abs() < 1e-5);
    }

    fn batch(n: usize, h: usize, w: usize) -> Batch {
        let x = (0..n).flat_map(|i| vec![i as f32; h * w]).collect();
        let (indices, y) = ((0..n).collect(), (0..n as i64).collect());
        Batch { indices, x, y, targets: Vec::new(), shape: [n, 1, h, w], skipped: Vec::new(), views: 1 }
    }

    #[test]
    fn mixup_blends_each_image_with_its_partner_by_its_own_weight_of_at_least_a_half() {
        let mut b = batch(8, 4, 4);
        let blend = objective(0.0, Mix::MIXUP, vec![1.0; 8]).blend(&mut b, &mut Rng::new(3)).unwrap();
        for i in 0..8 {
            let (l, j) = (blend.lambda[i], blend.partner[i] as f32);
            assert!(l >= 0.5);
            let want = l * i as f32 + (1.0 - l) * j;
            assert!(b.x[i * 16..(i + 1) * 16].iter().all(|v| (v - want).abs() < 1e-5));
        }
    }

    #[test]
    fn cutmix_pastes_one_rectangle_whose_area_sets_lambda() {
        let mut b = batch(6, 10, 10);
        let blend = objective(0.0, Mix::CUTMIX, vec![1.0; 6]).blend(&mut b, &mut Rng::new(5)).unwrap();
        let mut mixed = 0;
        for i in 0..6 {
            let img = &b.x[i * 100..(i + 1) * 100];
            let pasted = img.iter().filter(|&&v| v != i as f32).count();
            let partner = blend.partner[i] as usize;
            assert!(
                img.iter().all(|&v| v == i as f32 || v == partner as f32),
                "image {i}: only its own or its partner's pixels"
            );
            if partner == i {
                assert_eq!(pasted, 0, "image {i}, its own partner, pastes itself: unchanged");
            } else {
                assert!((1.0 - pasted as f32 / 100.0 - blend.lambda[i]).abs() < 1e-6, "image {i}: λ is the area kept");
                mixed += 1;
            }
        }
        assert!(mixed >= 3, "only {mixed} of 6 images have another image as partner");
    }

    #[test]
    fn no_mix_leaves_the_batch_alone() {
        let mut b = batch(4, 2, 2);
        let before = b.x.clone();
        assert!(objective(0.1, Mix::None, vec![1.0; 4]).blend(&mut b, &mut Rng::new(1)).is_none());
        assert_eq!(b.x, before);
    }
}
