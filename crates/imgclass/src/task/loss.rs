//! The losses of the tasks beyond one class, on tensors (training) and on one image's outputs
//! (validation, top losses), and the answers read from raw outputs. The two forms compute the
//! same numbers; a test holds them together.
//!
//! - multi-label: binary cross-entropy of σ(z) (PyTorch's `BCEWithLogitsLoss`, in the stable
//!   form max(z, 0) − z·t + log(1 + e^−|z|)), per-class weights, label smoothing pulling each
//!   target ε/2 towards ½ (fastai's `BCEWithLogitsLossFlat` with smoothed targets);
//! - numbers: MSE, L1 or Huber (δ 1) between the standardized prediction and the standardized
//!   target, so every target weighs the same whatever its units;
//! - counts: Poisson negative log-likelihood λ − y·log λ of the rate λ = μ·eᶻ (PyTorch's
//!   `PoissonNLLLoss` with `log_input`) less its value at λ = y, y − y·log y: half the Poisson
//!   deviance, 0 for a perfect fit and never negative (so a loss's ratios, as lr_find's
//!   stopping rule, keep their meaning), with the same gradient.

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::{relu, sigmoid};

use super::Task;
use crate::config::ValueLoss;
use crate::data::targets::TaskKind;

/// The smallest mean rate a count model's offset starts from (all-zero counts).
const MIN_RATE: f32 = 1e-2;

/// The Poisson negative log-likelihood's value at λ = y: y − y·log y (0 for y = 0).
fn saturated(y: f32) -> f32 {
    if y > 0.0 { y - y * y.ln() } else { 0.0 }
}

/// How a task's answers follow from the raw outputs `z`, output by output.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnswerMap {
    /// softmax(z) over the outputs.
    Softmax,
    /// σ(z).
    Sigmoid,
    /// low + (high − low)·σ(z).
    Range { low: f32, high: f32 },
    /// z·scale + shift, then max(·, 0) when `non_negative`.
    Affine { scale: Vec<f32>, shift: Vec<f32>, non_negative: bool },
    /// exp(z + offset).
    ExpOffset { offset: Vec<f32> },
}

fn logistic(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl Task {
    pub(super) fn offset(&self, c: usize) -> f32 {
        self.mean[c].max(MIN_RATE).ln()
    }

    pub(super) fn poisson(&self) -> bool {
        self.kind == TaskKind::Count && self.loss == ValueLoss::Poisson
    }

    /// The answers of one image's raw outputs `z`: probabilities (softmax for single-label, a
    /// sigmoid each for multi-label), numbers, or counts (the rate, not rounded).
    pub(crate) fn answer_row(&self, z: &[f32]) -> Vec<f32> {
        match self.kind {
            TaskKind::SingleLabel => {
                let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f32> = z.iter().map(|v| (v - m).exp()).collect();
                let s: f32 = e.iter().sum();
                e.iter().map(|v| v / s).collect()
            }
            TaskKind::MultiLabel => z.iter().map(|&v| logistic(v)).collect(),
            _ if self.poisson() => z.iter().enumerate().map(|(c, &v)| (v + self.offset(c)).exp()).collect(),
            _ => {
                let y = (0..z.len()).map(|c| self.standardized_prediction(z[c], c) * self.std[c] + self.mean[c]);
                if self.kind == TaskKind::Count { y.map(|v| v.max(0.0)).collect() } else { y.collect() }
            }
        }
    }

    /// [`Task::answer_row`] as one elementwise map of the outputs, for a graph to compute
    /// (an exported ONNX file's `probabilities`).
    pub(crate) fn answer_map(&self) -> AnswerMap {
        match (self.kind, self.y_range) {
            (TaskKind::SingleLabel, _) => AnswerMap::Softmax,
            (TaskKind::MultiLabel, _) => AnswerMap::Sigmoid,
            _ if self.poisson() => {
                AnswerMap::ExpOffset { offset: (0..self.mean.len()).map(|c| self.offset(c)).collect() }
            }
            (_, Some(r)) => AnswerMap::Range { low: r.low as f32, high: r.high as f32 },
            (kind, None) => AnswerMap::Affine {
                scale: self.std.clone(),
                shift: self.mean.clone(),
                non_negative: kind == TaskKind::Count,
            },
        }
    }

    /// Numbers: the prediction for target `c` on the standardized scale.
    pub(super) fn standardized_prediction(&self, z: f32, c: usize) -> f32 {
        match self.y_range {
            Some(r) => {
                let y = r.low as f32 + (r.high - r.low) as f32 * logistic(z);
                (y - self.mean[c]) / self.std[c]
            }
            None => z,
        }
    }

    /// One image's loss (unweighted, unsmoothed): what validation averages and top losses rank.
    pub(crate) fn row_loss(&self, z: &[f32], t: &[f32]) -> f32 {
        let k = z.len().max(1) as f32;
        let per = |c: usize| -> f32 {
            match self.kind {
                TaskKind::SingleLabel => 0.0,
                TaskKind::MultiLabel => z[c].max(0.0) - z[c] * t[c] + (-z[c].abs()).exp().ln_1p(),
                _ if self.poisson() => {
                    let log_rate = z[c] + self.offset(c);
                    log_rate.exp() - t[c] * log_rate - saturated(t[c])
                }
                _ => {
                    let d = self.standardized_prediction(z[c], c) - (t[c] - self.mean[c]) / self.std[c];
                    match self.loss {
                        ValueLoss::L1 => d.abs(),
                        ValueLoss::Huber => {
                            let q = d.abs().min(1.0);
                            0.5 * q * q + (d.abs() - q)
                        }
                        _ => d * d,
                    }
                }
            }
        };
        (0..z.len()).map(per).sum::<f32>() / k
    }

    /// The mean training loss of raw outputs `z` (`[n, k]`) against `targets` (`n × k`
    /// row-major: 0/1 per class, blended by mixup, or the numbers), with per-class `weights`
    /// and label smoothing `eps` (multi-label).
    pub(crate) fn loss_tensor(&self, z: Tensor<2>, targets: &[f32], weights: &[f32], eps: f32) -> Tensor<1> {
        let [n, k] = z.dims();
        let device = z.device();
        let row = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [1, k]), &device);
        let matrix = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [n, k]), &device);
        match self.kind {
            TaskKind::SingleLabel => z.sum().mul_scalar(0.0),
            TaskKind::MultiLabel => {
                let t = matrix(targets.iter().map(|&t| t * (1.0 - eps) + eps / 2.0).collect());
                let bce = relu(z.clone()) - z.clone() * t + z.abs().neg().exp().log1p();
                (bce * row(weights.to_vec())).mean()
            }
            _ if self.poisson() => {
                let log_rate = z + row((0..k).map(|c| self.offset(c)).collect());
                let nll = log_rate.clone().exp() - log_rate * matrix(targets.to_vec());
                (nll - matrix(targets.iter().map(|&y| saturated(y)).collect())).mean()
            }
            _ => {
                let standardized =
                    targets.iter().enumerate().map(|(i, &t)| (t - self.mean[i % k]) / self.std[i % k]).collect();
                let prediction = match self.y_range {
                    Some(r) => {
                        let y = sigmoid(z).mul_scalar(r.high - r.low).add_scalar(r.low);
                        (y - row(self.mean.clone())) / row(self.std.clone())
                    }
                    None => z,
                };
                let d = (prediction - matrix(standardized)).abs();
                match self.loss {
                    ValueLoss::L1 => d.mean(),
                    ValueLoss::Huber => {
                        let q = d.clone().clamp_max(1.0);
                        (q.clone().powf_scalar(2.0).mul_scalar(0.5) + d - q).mean()
                    }
                    _ => d.powf_scalar(2.0).mean(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::YRange;

    fn task(kind: TaskKind, loss: ValueLoss, y_range: Option<YRange>) -> Task {
        let mut t = Task::single_label(vec!["a".into(), "b".into()]);
        (t.kind, t.loss, t.y_range) = (kind, loss, y_range);
        (t.mean, t.std, t.thresholds) = (vec![3.0, 1.5], vec![2.0, 0.5], vec![0.5; 2]);
        t
    }

    #[test]
    fn the_tensor_loss_is_the_mean_of_the_row_losses_for_every_task_and_loss() {
        let device = Device::default();
        let z = [0.3f32, -1.2, 2.0, 0.1, -0.4, 0.9];
        let cases = [
            (TaskKind::MultiLabel, ValueLoss::Auto, None, [1.0f32, 0.0, 1.0, 1.0, 0.0, 0.0]),
            (TaskKind::Regression, ValueLoss::Mse, None, [4.0, 1.0, 0.5, 2.5, 3.0, 1.0]),
            (TaskKind::Regression, ValueLoss::L1, None, [4.0, 1.0, 0.5, 2.5, 3.0, 1.0]),
            (TaskKind::Regression, ValueLoss::Huber, None, [9.0, 1.0, 0.5, 2.5, 3.0, 1.0]),
            (
                TaskKind::Regression,
                ValueLoss::Mse,
                Some(YRange { low: 0.0, high: 6.0 }),
                [4.0, 1.0, 0.5, 2.5, 3.0, 1.0],
            ),
            (TaskKind::Count, ValueLoss::Poisson, None, [4.0, 1.0, 0.0, 2.0, 3.0, 1.0]),
        ];
        for (kind, loss, range, t) in cases {
            let task = task(kind, loss, range);
            let tensor = Tensor::<2>::from_data(TensorData::new(z.to_vec(), [3, 2]), &device);
            let got = task.loss_tensor(tensor, &t, &[1.0, 1.0], 0.0).into_scalar::<f32>();
            let rows: f32 =
                (0..3).map(|i| task.row_loss(&z[i * 2..i * 2 + 2], &t[i * 2..i * 2 + 2])).sum::<f32>() / 3.0;
            assert!((got - rows).abs() < 1e-5, "{kind:?} {loss:?} {range:?}: tensor {got}, rows {rows}");
        }
    }

    #[test]
    fn binary_cross_entropy_is_pytorchs_and_smoothing_pulls_targets_to_a_half() {
        // torch.nn.functional.binary_cross_entropy_with_logits(tensor([[2., -1.]]), tensor([[1., 0.]]))
        // = (log(1 + e^-2) + log(1 + e^-1)) / 2 = 0.220095
        let t = task(TaskKind::MultiLabel, ValueLoss::Auto, None);
        assert!((t.row_loss(&[2.0, -1.0], &[1.0, 0.0]) - 0.220095).abs() < 1e-5);
        let device = Device::default();
        let z = || Tensor::<2>::from_data(TensorData::new(vec![2.0f32, -1.0], [1, 2]), &device);
        let smoothed = t.loss_tensor(z(), &[1.0, 0.0], &[1.0, 1.0], 0.2).into_scalar::<f32>();
        let by_hand = t.loss_tensor(z(), &[0.9, 0.1], &[1.0, 1.0], 0.0).into_scalar::<f32>();
        assert!((smoothed - by_hand).abs() < 1e-6);
        let weighted = t.loss_tensor(z(), &[1.0, 0.0], &[2.0, 0.0], 0.0).into_scalar::<f32>();
        assert!((weighted - 2.0f32.exp().recip().ln_1p()).abs() < 1e-5, "weight 2 on the first, 0 on the second");
    }

    #[test]
    fn the_poisson_loss_is_zero_at_the_count_and_positive_elsewhere() {
        let mut t = task(TaskKind::Count, ValueLoss::Poisson, None);
        t.mean = vec![1.0, 1.0];
        // z = ln 3 gives λ = 3 for a count of 3; λ = 1 for a count of 0 costs 1.
        assert!(t.row_loss(&[3.0f32.ln(), 0.0], &[3.0, 1.0]).abs() < 1e-6);
        assert!((t.row_loss(&[0.0, 0.0], &[0.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!(t.row_loss(&[0.5, -0.5], &[3.0, 2.0]) > 0.0);
    }

    #[test]
    fn answers_undo_the_standardization_and_count_rates_start_at_the_mean() {
        let t = task(TaskKind::Regression, ValueLoss::Mse, None);
        assert_eq!(t.answer_row(&[0.0, 2.0]), vec![3.0, 2.5]);
        let ranged = task(TaskKind::Regression, ValueLoss::Mse, Some(YRange { low: 0.0, high: 6.0 }));
        assert_eq!(ranged.answer_row(&[0.0, 0.0]), vec![3.0, 3.0], "the middle of the range at z = 0");
        let counts = task(TaskKind::Count, ValueLoss::Poisson, None);
        let a = counts.answer_row(&[0.0, 0.0]);
        assert!((a[0] - 3.0).abs() < 1e-6 && (a[1] - 1.5).abs() < 1e-6);
        let p = task(TaskKind::MultiLabel, ValueLoss::Auto, None).answer_row(&[0.0, 100.0]);
        assert_eq!(p, vec![0.5, 1.0]);
    }
}
