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
//! Every image counts once (`fit.balance` does not weight the probe; it weights the epochs after).
//!
//! Kumar et al. (ICLR 2022) show that fine-tuning from such a converged probe (LP-FT) distorts
//! the pretrained features less than fine-tuning from a head trained for an epoch.

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;

use crate::util::lbfgs::{Stop, minimize};

/// The regularisation strengths tried, strong to weak (half-decades).
pub(crate) const STRENGTHS: [f64; 11] = [1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6];
/// The strength used when there are no validation images to choose one.
const WITHOUT_VALIDATION: f64 = 1e-4;
/// The path stops once this many strengths in a row have done worse than the best.
const PATIENCE: usize = 3;

/// Features and labels of one split, on a device.
pub(super) struct Problem {
    /// `[n, d]`
    x: Tensor<2>,
    /// `[d, n]`, stored once for the gradient.
    xt: Tensor<2>,
    /// `[n, k]` one-hot labels.
    onehot: Tensor<2>,
    labels: Vec<usize>,
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
/// training cross-entropy and the path that led to it.
pub(super) struct Probe {
    pub(crate) weight: Vec<f32>,
    pub(crate) bias: Vec<f32>,
    pub(crate) strength: f64,
    pub(crate) train_loss: f64,
    pub(crate) trials: Vec<Trial>,
}

impl Problem {
    /// `x` holds `labels.len()` rows of `d` features; `k` classes.
    pub fn new(x: Vec<f32>, labels: Vec<usize>, d: usize, k: usize, device: &Device) -> Problem {
        let n = labels.len();
        let mut onehot = vec![0f32; n * k];
        labels.iter().enumerate().for_each(|(i, &l)| onehot[i * k + l] = 1.0);
        let x = Tensor::<2>::from_data(TensorData::new(x, [n, d]), device);
        let xt = x.clone().transpose();
        let xt = Tensor::from_data(xt.into_data(), device);
        let onehot = Tensor::from_data(TensorData::new(onehot, [n, k]), device);
        Problem { x, xt, onehot, labels, dims: (n, d, k) }
    }

    fn is_empty(&self) -> bool {
        self.dims.0 == 0
    }

    /// Log-probabilities `[n, k]` of the head `theta` (`W` row-major, then `b`).
    fn log_probs(&self, theta: &[f64]) -> Tensor<2> {
        let (_, d, k) = self.dims;
        let device = self.x.device();
        let w: Vec<f32> = theta[..d * k].iter().map(|&v| v as f32).collect();
        let b: Vec<f32> = theta[d * k..].iter().map(|&v| v as f32).collect();
        let w = Tensor::<2>::from_data(TensorData::new(w, [d, k]), &device);
        let b = Tensor::<2>::from_data(TensorData::new(b, [1, k]), &device);
        log_softmax(self.x.clone().matmul(w) + b, 1)
    }

    /// The objective at strength `lambda` and its gradient.
    fn value_grad(&self, theta: &[f64], lambda: f64) -> (f64, Vec<f64>) {
        let (n, d, k) = self.dims;
        let lp = self.log_probs(theta);
        let ce = -(lp.clone() * self.onehot.clone()).sum().into_scalar::<f32>() as f64 / n as f64;
        let g = (lp.exp() - self.onehot.clone()) / n as f32;
        let gb = values(g.clone().sum_dim(0));
        let gw = values(self.xt.clone().matmul(g));
        let w = &theta[..d * k];
        let penalty = 0.5 * lambda * w.iter().map(|v| v * v).sum::<f64>();
        let mut grad: Vec<f64> = gw.iter().zip(w).map(|(&g, &w)| g as f64 + lambda * w).collect();
        grad.extend(gb.iter().map(|&g| g as f64));
        (ce + penalty, grad)
    }

    /// Mean cross-entropy and accuracy of the head `theta`.
    fn score(&self, theta: &[f64]) -> (f64, f64) {
        let (n, _, k) = self.dims;
        let lp = values(self.log_probs(theta));
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
    let path: &[f64] = if valid.is_empty() { &[WITHOUT_VALIDATION] } else { &STRENGTHS };
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
        Problem::new(x, labels, 2, 2, &Device::flex())
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
        let empty = Problem::new(Vec::new(), Vec::new(), 2, 2, &Device::flex());
        let p = fit(&problem(blobs(50, 2.0, 6)), &empty, vec![0.0; 6]);
        assert_eq!((p.trials.len(), p.strength), (1, WITHOUT_VALIDATION));
    }
}
