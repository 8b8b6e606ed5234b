//! The learning-rate finder (Smith 2017, "Cyclical Learning Rates"; fastai's `lr_find`): train
//! from the current weights with a learning rate growing exponentially each mini-batch, stop
//! when the loss explodes, and suggest a rate from the smoothed loss curve. The weights and
//! optimizer are put back afterwards. Reference: `fastai/callback/schedule.py`
//! (`LRFinder`, `valley`, `steep`; smoothing β = 0.98, stop at 4 × the best loss).

use std::path::Path;
use std::sync::atomic::Ordering;

use serde::Serialize;

use super::loss::Objective;
use super::trainee::step_network;
use super::{Callback, Learner};
use crate::data::Loader;
use crate::error::{Error, Result};
use crate::plot::chart::{Chart, Series, Style, XAxis};
use crate::util::fs::write_json;
use crate::util::rng::Rng;
use plotters::style::RGBColor;

/// fastai's smoothing weight for the finder's loss.
pub const BETA: f64 = 0.98;

/// The sweep of the finder: fastai's `lr_find(start_lr=1e-7, end_lr=10, num_it=100)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LrFindConfig {
    /// Smallest learning rate tried.
    pub start_lr: f64,
    /// Largest learning rate tried.
    pub end_lr: f64,
    /// Mini-batches at most (the sweep stops early when the loss explodes).
    pub num_it: usize,
}

impl Default for LrFindConfig {
    fn default() -> Self {
        Self { start_lr: 1e-7, end_lr: 10.0, num_it: 100 }
    }
}

/// What the finder measured and suggests.
#[derive(Debug, Clone, Serialize)]
pub struct LrFind {
    /// Learning rate of each step.
    pub lrs: Vec<f64>,
    /// Raw loss of each step.
    pub losses: Vec<f64>,
    /// Exponentially smoothed, bias-corrected loss of each step.
    pub smoothed: Vec<f64>,
    /// fastai's "valley": a rate inside the longest descending stretch of the curve.
    pub valley: f64,
    /// The rate where the smoothed loss falls fastest (against log-rate).
    pub steepest: f64,
    /// A tenth of the rate with the lowest smoothed loss.
    pub minimum_div_10: f64,
}

/// fastai's recorder smoothing: an exponential moving average with β, bias-corrected.
#[derive(Debug, Clone)]
pub struct Smoother {
    beta: f64,
    avg: f64,
    n: i32,
}

impl Smoother {
    /// A smoother with weight `beta` on the past (fastai: 0.98).
    pub fn new(beta: f64) -> Self {
        Self { beta, avg: 0.0, n: 0 }
    }

    /// Adds a value and returns the smoothed value so far.
    pub fn push(&mut self, value: f64) -> f64 {
        self.n += 1;
        self.avg = self.beta * self.avg + (1.0 - self.beta) * value;
        self.avg / (1.0 - self.beta.powi(self.n))
    }
}

/// Smooths a whole curve with [`Smoother`].
pub fn smooth(losses: &[f64], beta: f64) -> Vec<f64> {
    let mut s = Smoother::new(beta);
    losses.iter().map(|&l| s.push(l)).collect()
}

/// fastai's `valley`: the longest strictly-descending subsequence of the losses; the
/// suggestion lies half-way through its middle third. Returns an index.
pub fn valley(losses: &[f64]) -> usize {
    let n = losses.len();
    if n < 2 {
        return 0;
    }
    let mut lds = vec![1usize; n];
    let (mut max_start, mut max_end) = (0, 0);
    for i in 1..n {
        for j in 0..i {
            if losses[i] < losses[j] && lds[i] < lds[j] + 1 {
                lds[i] = lds[j] + 1;
            }
            if lds[max_end] < lds[i] {
                max_end = i;
                max_start = max_end - lds[max_end];
            }
        }
    }
    let sections = (max_end - max_start) as f64 / 3.0;
    (max_start + sections as usize + (sections / 2.0) as usize).min(n - 1)
}

/// Index of the steepest descent of `smoothed` against log-rate (central differences),
/// leaving out the first tenth (the average is still settling) and the last five steps (the
/// explosion), as fastai's plot does.
pub fn steepest(lrs: &[f64], smoothed: &[f64]) -> usize {
    let n = smoothed.len();
    ((n / 10).max(1)..n.saturating_sub(5).max(2).min(n.saturating_sub(1)))
        .min_by(|&a, &b| {
            let g = |i: usize| (smoothed[i + 1] - smoothed[i - 1]) / (lrs[i + 1].ln() - lrs[i - 1].ln());
            g(a).total_cmp(&g(b))
        })
        .unwrap_or(0)
}

impl LrFind {
    /// Builds the result from the rates and raw losses of the steps taken.
    pub(crate) fn from_curve(lrs: Vec<f64>, losses: Vec<f64>) -> Self {
        let smoothed = smooth(&losses, BETA);
        let min_i = (0..smoothed.len()).min_by(|&a, &b| smoothed[a].total_cmp(&smoothed[b])).unwrap_or(0);
        let at = |i: usize| lrs.get(i).copied().unwrap_or(f64::NAN);
        Self {
            valley: at(valley(&smoothed)),
            steepest: at(steepest(&lrs, &smoothed)),
            minimum_div_10: at(min_i) / 10.0,
            lrs,
            losses,
            smoothed,
        }
    }

    /// Writes the loss-against-rate picture to `png` and the curve and suggestions to `json`.
    pub fn save(&self, png: &Path, json: &Path) -> Result<()> {
        self.plot().save_png(png)?;
        write_json(json, self)
    }

    /// The loss-against-rate chart (rate on a log axis, ticks at decades) up to where the loss
    /// blows up: the smoothed loss, the raw loss of each step as a light line, and the valley
    /// suggestion marked with its value.
    fn plot(&self) -> Chart {
        // Stop the curve once it climbs 20% above its start after its minimum, so the
        // explosion does not flatten the interesting part.
        let start = self.smoothed.first().copied().unwrap_or(0.0);
        let min_i =
            (0..self.smoothed.len()).min_by(|&a, &b| self.smoothed[a].total_cmp(&self.smoothed[b])).unwrap_or(0);
        let end = (min_i..self.smoothed.len()).find(|&i| self.smoothed[i] > 1.2 * start).unwrap_or(self.smoothed.len());
        let end = end.max(1).min(self.lrs.len());
        let curve = |ys: &[f64]| self.lrs[..end].iter().zip(ys).map(|(&lr, &y)| (lr.log10(), y)).collect();
        let blue = RGBColor(31, 119, 180);
        // The raw loss is clipped a quarter above the smoothed curve's top, so a last noisy or
        // exploding step does not squash the curve the valley is read from.
        let top = self.smoothed[..end].iter().copied().fold(f64::NEG_INFINITY, f64::max) * 1.25;
        let raw: Vec<f64> = self.losses[..end].iter().map(|&y| y.min(top)).collect();
        let series = vec![
            Series {
                name: "loss (clipped)".into(),
                points: curve(&raw),
                color: blue,
                style: Style::Line { width: 1, opacity: 0.3 },
            },
            Series {
                name: "smoothed loss".into(),
                points: curve(&self.smoothed),
                color: blue,
                style: Style::Line { width: 2, opacity: 1.0 },
            },
        ];
        let (lo, hi) = (self.lrs.first().copied().unwrap_or(1e-7), self.lrs.get(end - 1).copied().unwrap_or(1.0));
        Chart {
            title: "Learning rate finder".into(),
            x_caption: "learning rate (log scale)".into(),
            y_caption: "loss".into(),
            x_axis: XAxis::Log10 { lo, hi },
            series,
            mark: (self.valley > 0.0).then(|| (self.valley.log10(), format!("valley {:.1e}", self.valley))),
            y_ticks: None,
        }
    }
}

impl Learner {
    /// The learning-rate finder: up to `num_it` steps from the current weights with rates
    /// growing exponentially from `start_lr` to `end_lr`, stopping once the smoothed loss
    /// exceeds 4 × its best. Weights and optimizer state are restored afterwards.
    pub fn lr_find(&mut self, sweep: LrFindConfig, cb: &mut dyn Callback) -> Result<LrFind> {
        let LrFindConfig { start_lr, end_lr, num_it } = sweep;
        if !(start_lr > 0.0 && end_lr > start_lr && num_it >= 2) {
            return Err(Error::config(
                "start_lr",
                format!(
                    "({start_lr}) must be positive and below the end rate ({end_lr}), with at least 2 steps ({num_it})"
                ),
            ));
        }
        let (env, state) = self.parts();
        let objective = Objective::new(env);
        let saved = state.net.clone();
        let saved_optim = std::mem::replace(&mut state.optim, env.config.optimizer.init());
        let mut net = state.net.take().expect("the learner holds its network outside `fit`");
        let (data, config) = (&env.data, &env.config);
        let loader = Loader::new(&data.train, &data.preprocess).on_pool(&env.pool).augmented(
            &config.transforms.augment,
            config.seed,
            0,
        );
        let n = data.train.len();
        let bs = config.fit.batch_size.min(n);
        let mut rng = Rng::new(config.seed.wrapping_add(7));
        let mut order: Vec<usize> = Vec::new();
        let (mut lrs, mut losses) = (Vec::new(), Vec::new());
        let (mut smoother, mut best) = (Smoother::new(BETA), f64::INFINITY);
        cb.epoch_start(1, 1, num_it);
        for i in 0..num_it {
            if order.len() < bs {
                order = (0..n).collect();
                rng.shuffle(&mut order);
            }
            let idx: Vec<usize> = order.drain(..bs).collect();
            let lr = start_lr * (end_lr / start_lr).powf(i as f64 / (num_it - 1) as f64);
            let batch = loader.batch(&idx);
            let (next, l) = step_network(&mut state.optim, &env.device, net, batch, lr, &objective, &mut rng);
            net = next;
            cb.batch_end(i + 1, l, lr);
            if !l.is_finite() {
                break;
            }
            lrs.push(lr);
            losses.push(l as f64);
            let smoothed = smoother.push(l as f64);
            best = best.min(smoothed);
            if smoothed > 4.0 * best || env.interrupt.load(Ordering::Relaxed) {
                break;
            }
        }
        drop(net);
        state.net = saved;
        state.optim = saved_optim;
        Ok(LrFind::from_curve(lrs, losses))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_is_bias_corrected_so_a_constant_stays_constant() {
        assert!(smooth(&[2.0; 10], 0.98).iter().all(|v| (v - 2.0).abs() < 1e-12));
    }

    #[test]
    fn the_suggestions_fall_in_the_descending_part_of_a_typical_curve() {
        // Loss flat, then falling between 1e-4 and 1e-2, then exploding.
        let lrs: Vec<f64> = (0..100).map(|i| 1e-7 * 10f64.powf(8.0 * i as f64 / 99.0)).collect();
        let losses: Vec<f64> = lrs
            .iter()
            .map(|&lr| {
                if lr < 1e-4 {
                    2.3
                } else if lr < 1e-2 {
                    2.3 - 0.9 * (lr.log10() + 4.0)
                } else {
                    0.5 + 50.0 * (lr - 1e-2)
                }
            })
            .collect();
        let f = LrFind::from_curve(lrs, losses);
        for (name, lr) in [("valley", f.valley), ("steepest", f.steepest)] {
            assert!((1e-4..=1e-2).contains(&lr), "{name} {lr:e}");
        }
    }
}
