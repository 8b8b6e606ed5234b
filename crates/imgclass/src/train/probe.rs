//! The linear probe: the head fitted as an L2-regularised multinomial logistic regression on the
//! frozen body's features, solved to convergence by L-BFGS (what scikit-learn's
//! `LogisticRegression` does), for a path of regularisation strengths from strong to weak, each
//! fit starting from the one before. The strength whose fit has the lowest validation loss wins.
//!
//! The objective at strength λ, for `n` training images, weights `W` (features × classes) and
//! biases `b` (not regularised):
//! ```text
//! mean over images of −log softmax(x W + b)[label]  +  λ/2 · ‖W‖²
//! ```
//! Beyond one class per image the loss is the task's ([`Task::for_probe`]): a logistic
//! regression per label (binary cross-entropy), a ridge regression (least squares on the
//! standardized targets) or a Poisson regression (counts); validation chooses λ by the task's
//! own loss.
//! Every image counts once (`fit.balance` does not weight the probe; it weights the epochs after).
//!
//! Kumar et al. (ICLR 2022) show that fine-tuning from such a converged probe (LP-FT) distorts
//! the pretrained features less than fine-tuning from a head trained for an epoch.

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;

use crate::task::Task;
use crate::util::lbfgs::{Stop, minimize};

/// The regularisation strengths tried, strong to weak (half-decades).
pub(crate) const STRENGTHS: [f64; 11] = [1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6];
/// Beyond one class per image, the path starts at these stronger strengths: a ridge
/// regression of a pretrained body's 1,280 features on 1,600 rotated items chose the strongest
/// of [`STRENGTHS`] and still did worse than the mean on validation (R² −0.05).
const STRONGER: [f64; 4] = [1e1, 3.0, 1.0, 3e-1];
/// The strength used when there are no validation images to choose one.
const WITHOUT_VALIDATION: f64 = 1e-4;
/// The path stops once this many strengths in a row have done worse than the best.
const PATIENCE: usize = 3;

/// Features and labels (or targets) of one split, on a device.
pub(super) struct Problem {
    /// `[n, d]`
    x: Tensor<2>,
    /// `[d, n]`, stored once for the gradient.
    xt: Tensor<2>,
    /// `[n, k]` one-hot labels (one class per image).
    onehot: Tensor<2>,
    labels: Vec<usize>,
    /// Beyond one class per image: the targets (`n × k` row-major), the loss fitted
    /// ([`Task::for_probe`]) and the task whose loss scores a fit.
    task: Option<(Vec<f32>, Task, Task)>,
    dims: (usize, usize, usize),
}

/// One strength of the path, with the validation loss and accuracy its fit reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Trial {
    pub(crate) strength: f64,
    pub(crate) valid_loss: f64,
    pub(crate) accuracy: f64,
    pub(crate) iterations: usize,
}

/// The chosen fit: the head's weights (`[d, k]` row-major) and biases, its strength, its mean
/// training loss and the path that led to it.
pub(super) struct Probe {
    pub(crate) weight: Vec<f32>,
    pub(crate) bias: Vec<f32>,
    pub(crate) strength: f64,
    pub(crate) train_loss: f64,
    pub(crate) trials: Vec<Trial>,
}

impl Problem {
    /// `x` holds `labels.len()` rows of `d` features; `task` has `k` outputs; beyond one class
    /// per image, `targets` holds each row's `k` targets.
    pub fn new(x: Vec<f32>, labels: Vec<usize>, targets: Vec<f32>, d: usize, task: &Task, device: &Device) -> Problem {
        let (n, k) = (labels.len(), task.names().len());
        // One-hot rows for one class per image; none beyond (the targets are the rows).
        let rows = if task.is_single_label() { n } else { 0 };
        let mut onehot = vec![0f32; rows * k];
        labels.iter().take(rows).enumerate().for_each(|(i, &l)| onehot[i * k + l] = 1.0);
        let x = Tensor::<2>::from_data(TensorData::new(x, [n, d]), device);
        let xt = x.clone().transpose();
        let xt = Tensor::from_data(xt.into_data(), device);
        let onehot = Tensor::from_data(TensorData::new(onehot, [rows, k]), device);
        let task = (!task.is_single_label()).then(|| (targets, task.for_probe(), task.clone()));
        Problem { x, xt, onehot, labels, task, dims: (n, d, k) }
    }

    fn is_empty(&self) -> bool {
        self.dims.0 == 0
    }

    /// Raw outputs `[n, k]` of the head `theta` (`W` row-major, then `b`).
    fn outputs(&self, theta: &[f64]) -> Tensor<2> {
        let (_, d, k) = self.dims;
        let device = self.x.device();
        let w: Vec<f32> = theta[..d * k].iter().map(|&v| v as f32).collect();
        let b: Vec<f32> = theta[d * k..].iter().map(|&v| v as f32).collect();
        let w = Tensor::<2>::from_data(TensorData::new(w, [d, k]), &device);
        let b = Tensor::<2>::from_data(TensorData::new(b, [1, k]), &device);
        self.x.clone().matmul(w) + b
    }

    /// The objective at strength `lambda` and its gradient.
    fn value_grad(&self, theta: &[f64], lambda: f64) -> (f64, Vec<f64>) {
        let (n, d, k) = self.dims;
        let (loss, g) = match &self.task {
            None => {
                let lp = log_softmax(self.outputs(theta), 1);
                let ce = -(lp.clone() * self.onehot.clone()).sum().into_scalar::<f32>() as f64 / n as f64;
                (ce, (lp.exp() - self.onehot.clone()) / n as f32)
            }
            Some((targets, objective, _)) => {
                let z = values(self.outputs(theta));
                let (mut loss, mut g) = (0.0, Vec::with_capacity(n * k));
                for (row, t) in z.chunks_exact(k).zip(targets.chunks_exact(k)) {
                    let (l, grad) = objective.row_loss_grad(row, t);
                    loss += f64::from(l);
                    g.extend(grad.into_iter().map(|v| v / n as f32));
                }
                (loss / n as f64, Tensor::<2>::from_data(TensorData::new(g, [n, k]), &self.x.device()))
            }
        };
        let gb = values(g.clone().sum_dim(0));
        let gw = values(self.xt.clone().matmul(g));
        let w = &theta[..d * k];
        let penalty = 0.5 * lambda * w.iter().map(|v| v * v).sum::<f64>();
        let mut grad: Vec<f64> = gw.iter().zip(w).map(|(&g, &w)| g as f64 + lambda * w).collect();
        grad.extend(gb.iter().map(|&g| g as f64));
        (loss + penalty, grad)
    }

    /// Mean loss and accuracy of the head `theta` (beyond one class per image: the task's
    /// loss, and its accuracy: `accuracy_multi`, exact counts, 0 for regression).
    fn score(&self, theta: &[f64]) -> (f64, f64) {
        let (n, _, k) = self.dims;
        if let Some((targets, _, task)) = &self.task {
            let report = task.report(&values(self.outputs(theta)), targets, &self.labels);
            return (report.loss, report.accuracy);
        }
        let lp = values(log_softmax(self.outputs(theta), 1));
        let (mut loss, mut right) = (0.0, 0);
        for (row, &label) in lp.chunks(k).zip(&self.labels) {
            loss -= row[label] as f64;
            right += usize::from(crate::metrics::argmax(row) == label);
        }
        (loss / n as f64, right as f64 / n as f64)
    }
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 values")
}

/// Fits the probe on `train` along the strength path, starting from `init` (`W` then `b`), and
/// keeps the fit with the lowest loss on `valid` (or [`WITHOUT_VALIDATION`]'s when it is empty).
pub(super) fn fit(train: &Problem, valid: &Problem, init: Vec<f64>) -> Probe {
    let beyond: Vec<f64> = STRONGER.iter().chain(&STRENGTHS).copied().collect();
    let path: &[f64] = match (valid.is_empty(), train.task.is_some()) {
        (true, _) => &[WITHOUT_VALIDATION],
        (false, false) => &STRENGTHS,
        (false, true) => &beyond,
    };
    let (mut theta, mut trials) = (init, Vec::new());
    let mut best: Option<(usize, Vec<f64>)> = None;
    for &lambda in path {
        let m = minimize(|t| train.value_grad(t, lambda), theta, Stop::default());
        theta = m.x;
        let (valid_loss, accuracy) = if valid.is_empty() { (f64::NAN, f64::NAN) } else { valid.score(&theta) };
        trials.push(Trial { strength: lambda, valid_loss, accuracy, iterations: m.iterations });
        if best.as_ref().is_none_or(|(i, _)| valid_loss < trials[*i].valid_loss) {
            best = Some((trials.len() - 1, theta.clone()));
        }
        if best.as_ref().is_some_and(|(i, _)| trials.len() - 1 - i >= PATIENCE) {
            break;
        }
    }
    let (i, theta) = best.expect("at least one strength tried");
    let (_, d, k) = train.dims;
    let train_loss = if train.is_empty() { f64::NAN } else { train.score(&theta).0 };
    Probe {
        weight: theta[..d * k].iter().map(|&v| v as f32).collect(),
        bias: theta[d * k..].iter().map(|&v| v as f32).collect(),
        strength: trials[i].strength,
        train_loss,
        trials,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::Rng;

    /// `n` points of 2 noisy features in `k` = 2 classes: class 1 shifted by `shift` on the first.
    fn blobs(n: usize, shift: f32, seed: u64) -> (Vec<f32>, Vec<usize>) {
        let mut rng = Rng::new(seed);
        let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let x = labels.iter().flat_map(|&l| [normal(&mut rng) + shift * l as f32, normal(&mut rng)]).collect();
        (x, labels)
    }

    /// A standard normal draw (Box–Muller).
    fn normal(rng: &mut Rng) -> f32 {
        let (u, v) = (rng.unit().max(1e-12), rng.unit());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    fn problem((x, labels): (Vec<f32>, Vec<usize>)) -> Problem {
        Problem::new(x, labels, Vec::new(), 2, &Task::single_label(vec!["a".into(), "b".into()]), &Device::flex())
    }

    #[test]
    fn the_gradient_matches_finite_differences() {
        let p = problem(blobs(20, 1.0, 1));
        let theta = vec![0.3, -0.2, 0.1, 0.5, 0.05, -0.1];
        let (f0, g) = p.value_grad(&theta, 0.1);
        for j in 0..theta.len() {
            let mut t = theta.clone();
            t[j] += 1e-3;
            let numeric = (p.value_grad(&t, 0.1).0 - f0) / 1e-3;
            assert!((numeric - g[j]).abs() < 2e-3, "parameter {j}: {numeric} vs {}", g[j]);
        }
    }

    #[test]
    fn the_strength_with_the_lowest_validation_loss_wins_and_noisy_data_gets_a_stronger_one() {
        let clear = fit(&problem(blobs(200, 6.0, 2)), &problem(blobs(200, 6.0, 3)), vec![0.0; 6]);
        let chosen = clear.trials.iter().find(|t| t.strength == clear.strength).unwrap();
        assert!(clear.trials.iter().all(|t| t.valid_loss >= chosen.valid_loss), "{:?}", clear.trials);
        assert!(chosen.accuracy > 0.98 && clear.train_loss < 0.1, "{:?}", clear.trials);
        // `W` is features × classes: feature 0 votes for class 1.
        assert!(clear.weight[1] - clear.weight[0] > 1.0, "{:?}", clear.weight);
        let noisy = fit(&problem(blobs(20, 0.5, 4)), &problem(blobs(400, 0.5, 5)), vec![0.0; 6]);
        assert!(noisy.strength > clear.strength, "{:?}", noisy.trials);
    }

    #[test]
    fn without_validation_images_one_default_strength_is_fitted() {
        let empty = Problem::new(
            Vec::new(),
            Vec::new(),
            Vec::new(),
            2,
            &Task::single_label(vec!["a".into(), "b".into()]),
            &Device::flex(),
        );
        let p = fit(&problem(blobs(50, 2.0, 6)), &empty, vec![0.0; 6]);
        assert_eq!((p.trials.len(), p.strength), (1, WITHOUT_VALIDATION));
    }

    /// A task beyond one class per image, as a bundle stores it.
    fn task(json: serde_json::Value) -> Task {
        serde_json::from_value(json).unwrap()
    }

    /// `n` rows of 2 standard-normal features.
    fn features(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        (0..2 * n).map(|_| normal(&mut rng)).collect()
    }

    #[test]
    fn for_several_labels_the_probe_is_a_logistic_regression_per_label() {
        let t = task(serde_json::json!({"kind": "multi-label", "names": ["a", "b"], "thresholds": [0.5, 0.5]}));
        let labelled = |seed| {
            let x = features(300, seed);
            let targets: Vec<f32> = x.iter().map(|&v| f32::from(u8::from(v > 0.0))).collect();
            Problem::new(x, vec![0; 300], targets, 2, &t, &Device::flex())
        };
        let p = fit(&labelled(7), &labelled(8), vec![0.0; 6]);
        let chosen = p.trials.iter().find(|t| t.strength == p.strength).unwrap();
        assert!(chosen.accuracy > 0.95, "label c is feature c's sign: {:?}", p.trials);
        // W is features × labels: feature 0 raises label a only, feature 1 label b only.
        let w = &p.weight;
        assert!(w[0] > 3.0 && w[3] > 3.0 && w[1].abs() < 0.5 * w[0] && w[2].abs() < 0.5 * w[3], "{w:?}");
    }

    #[test]
    fn for_numbers_the_probe_is_a_ridge_regression_on_the_standardized_targets() {
        let t =
            task(serde_json::json!({"kind": "regression", "names": ["y"], "mean": [10.0], "std": [2.0], "loss": "l1"}));
        let data = |seed| {
            let x = features(300, seed);
            let y: Vec<f32> = x.chunks(2).map(|r| 10.0 + 2.0 * (1.5 * r[0])).collect();
            Problem::new(x, vec![0; 300], y, 2, &t, &Device::flex())
        };
        let p = fit(&data(9), &data(10), vec![0.0; 3]);
        // y = 10 + 2·(1.5·x₀): standardized, 1.5·x₀.
        assert!(
            (p.weight[0] - 1.5).abs() < 0.05 && p.weight[1].abs() < 0.05 && p.bias[0].abs() < 0.05,
            "{:?} {:?}",
            p.weight,
            p.bias
        );
        assert!(p.train_loss < 0.01, "L1 of a near-exact fit: {}", p.train_loss);
    }
}
