//! The [`Learner`]: a network, its data and its optimizer, fitted epoch by epoch with a
//! one-cycle schedule (fastai's `Learner.fit_one_cycle`), keeping the best weights by
//! validation loss, stopping early on request and saving what it has when interrupted.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::nn::loss::CrossEntropyLoss;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::eval::{EvalReport, batch_tensor, evaluate, label_tensor};
use super::run_dir::RunDir;
use super::{Callback, LrFind, Smoother, TrainConfig};
use crate::data::DataSplits;
use crate::error::{Error, Result};
use crate::export::{Bundle, BundleMeta, DataInfo};
use crate::models::Net;
use crate::rng::Rng;

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// Validation loss.
    pub valid_loss: f64,
    /// Validation accuracy.
    pub accuracy: f64,
    /// Validation error rate.
    pub error_rate: f64,
    /// Wall time of the epoch, training and validation, in seconds.
    pub seconds: f64,
    /// Learning rate at the epoch's last step.
    pub lr: f64,
}

/// The outcome of [`Learner::fit`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    /// One entry per finished epoch.
    pub history: Vec<EpochMetrics>,
    /// The epoch whose weights were kept (best validation loss); 0 when none finished.
    pub best_epoch: usize,
    /// Validation metrics of the kept weights.
    pub final_metrics: EvalReport,
    /// Test metrics of the kept weights, when the data has a test split.
    pub test_metrics: Option<EvalReport>,
    /// True when training stopped on an interrupt.
    pub interrupted: bool,
    /// True when early stopping ended training.
    pub early_stopped: bool,
    /// True when the training loss became infinite or NaN (the learning rate is too high);
    /// the kept weights are those of the best epoch before that.
    pub diverged: bool,
    /// Total wall time in seconds.
    pub seconds: f64,
}

/// A network with its data, optimizer and training state.
pub struct Learner {
    /// The run's config.
    pub config: TrainConfig,
    /// The decoded data.
    pub data: DataSplits,
    net: Net,
    optim: ModuleOptimizer,
    device: Device,
    base: Device,
    interrupt: Arc<AtomicBool>,
    run_dir: Option<RunDir>,
    kept: Option<(Net, EvalReport, usize)>,
    report: Option<TrainReport>,
}

impl Learner {
    /// Builds the network of `config.arch` for `data` on `device` (seeded by `config.seed`).
    pub fn new(data: DataSplits, config: TrainConfig, device: Device) -> Result<Learner> {
        let p = &data.preprocess;
        config.validate(p.height.max(p.width))?;
        device.seed(config.seed);
        let base = device.clone();
        let device = device.autodiff();
        let net = config.arch.init([p.channels, p.height, p.width], data.classes.len(), &device)?;
        let optim = config.optimizer.init(config.weight_decay, config.momentum);
        Ok(Learner { config, data, net, optim, device, base, interrupt: Arc::default(), run_dir: None, kept: None, report: None })
    }

    /// Writes the run's config, split, metrics, checkpoints, bundle and plots into `dir`.
    pub fn with_run_dir(mut self, dir: RunDir) -> Self {
        self.run_dir = Some(dir);
        self
    }

    /// A flag that, once set (by a Ctrl-C handler, say), ends training after the current step.
    pub fn interrupt_handle(&self) -> Arc<AtomicBool> {
        self.interrupt.clone()
    }

    /// The network in inference mode (the kept weights after `fit`).
    pub fn model(&self) -> Net {
        self.kept.as_ref().map(|k| k.0.clone()).unwrap_or_else(|| self.net.valid())
    }

    /// Number of trainable parameters.
    pub fn num_params(&self) -> usize {
        self.net.num_params()
    }

    /// The bundle metadata for the kept weights.
    pub fn bundle_meta(&self) -> BundleMeta {
        let mut meta = BundleMeta::new(self.data.classes.clone(), self.config.arch.clone(), self.data.preprocess.clone());
        meta.train_config = self.config.to_json();
        if let Some(r) = &self.report {
            meta.metrics = serde_json::json!({
                "best_epoch": r.best_epoch,
                "valid": { "accuracy": r.final_metrics.accuracy, "loss": r.final_metrics.loss, "n_images": r.final_metrics.n_images },
                "test": r.test_metrics.as_ref().map(|t| serde_json::json!({ "accuracy": t.accuracy, "loss": t.loss, "n_images": t.n_images })),
            });
        }
        meta.data = Some(DataInfo {
            source: self.data.record.source.clone(),
            fingerprints: self.data.fingerprints.clone(),
            image_hashes: self.data.image_hashes.clone(),
            train_images: self.data.train.len(),
            valid_images: self.data.valid.len(),
        });
        meta
    }

    /// Saves the kept weights as a bundle at `path` (atomically).
    pub fn save_bundle(&self, path: &Path) -> Result<()> {
        Bundle::write(path, &self.model(), &self.bundle_meta())
    }

    fn validate(&self, net: &Net) -> EvalReport {
        evaluate(net, &self.data.valid, &self.data.classes, &self.data.preprocess, &self.base)
    }

    /// One optimizer step on training images `idx` at learning rate `lr`; returns the updated
    /// network and the batch loss.
    fn train_step(&mut self, net: Net, idx: &[usize], lr: f64, loss_fn: &CrossEntropyLoss) -> (Net, f32) {
        let x = batch_tensor(&self.data.train, idx, &self.data.preprocess, &self.device);
        let y = label_tensor(&self.data.train, idx, &self.device);
        let loss = loss_fn.forward(net.forward(x), y);
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let net = self.optim.step(lr, net, grads);
        (net, loss.into_scalar::<f32>())
    }

    /// Measures training throughput: runs `warmup` then `steps` optimizer steps of
    /// `config.batch_size` images at the constant rate `config.lr` (the network is trained by
    /// them) and returns the images per second of the timed steps. Used by `bench/`.
    pub fn time_steps(&mut self, warmup: usize, steps: usize) -> f64 {
        let loss_fn = CrossEntropyLoss::new(None, &self.device);
        let n = self.data.train.len();
        let bs = self.config.batch_size.min(n);
        let mut net = std::mem::replace(&mut self.net, dummy_net(&self.device));
        let mut start = Instant::now();
        for s in 0..warmup + steps {
            if s == warmup {
                let _ = self.device.sync();
                start = Instant::now();
            }
            let first = (s * bs) % (n - bs + 1);
            let idx: Vec<usize> = (first..first + bs).collect();
            net = self.train_step(net, &idx, self.config.lr, &loss_fn).0;
        }
        let _ = self.device.sync();
        let seconds = start.elapsed().as_secs_f64();
        self.net = net;
        (steps * bs) as f64 / seconds
    }

    /// The learning-rate finder: up to `num_it` steps from the current weights with rates
    /// growing exponentially from `start_lr` to `end_lr`, stopping once the smoothed loss
    /// exceeds 4 × its best. Weights and optimizer state are restored afterwards.
    pub fn lr_find(&mut self, start_lr: f64, end_lr: f64, num_it: usize, cb: &mut dyn Callback) -> Result<LrFind> {
        if !(start_lr > 0.0 && end_lr > start_lr && num_it >= 2) {
            return Err(Error::Config("lr-find needs 0 < start < end and at least 2 steps".into()));
        }
        let loss_fn = CrossEntropyLoss::new(None, &self.device);
        let saved = self.net.clone();
        let fresh = self.config.optimizer.init(self.config.weight_decay, self.config.momentum);
        let saved_optim = std::mem::replace(&mut self.optim, fresh);
        let mut net = std::mem::replace(&mut self.net, dummy_net(&self.device));
        let n = self.data.train.len();
        let bs = self.config.batch_size.min(n);
        let mut rng = Rng::new(self.config.seed.wrapping_add(7));
        let mut order: Vec<usize> = Vec::new();
        let (mut lrs, mut losses) = (Vec::new(), Vec::new());
        let (mut smoother, mut best) = (Smoother::new(super::lr_find::BETA), f64::INFINITY);
        cb.epoch_start(1, 1, num_it);
        for i in 0..num_it {
            if order.len() < bs {
                order = (0..n).collect();
                rng.shuffle(&mut order);
            }
            let idx: Vec<usize> = order.drain(..bs).collect();
            let lr = start_lr * (end_lr / start_lr).powf(i as f64 / (num_it - 1) as f64);
            let (next, l) = self.train_step(net, &idx, lr, &loss_fn);
            net = next;
            cb.batch_end(i + 1, l, lr);
            if !l.is_finite() {
                break;
            }
            lrs.push(lr);
            losses.push(l as f64);
            let smoothed = smoother.push(l as f64);
            best = best.min(smoothed);
            if smoothed > 4.0 * best || self.interrupt.load(Ordering::Relaxed) {
                break;
            }
        }
        drop(net);
        self.net = saved;
        self.optim = saved_optim;
        Ok(LrFind::from_curve(lrs, losses))
    }

    /// Trains for `config.epochs` epochs and returns what happened. The kept weights are those
    /// of the epoch with the lowest validation loss.
    pub fn fit(&mut self, cb: &mut dyn Callback) -> Result<TrainReport> {
        let start = Instant::now();
        let cfg = self.config.clone();
        let n = self.data.train.len();
        // Drop the last incomplete batch (fastai's `drop_last`), unless that would leave none.
        let steps_per_epoch = if n >= cfg.batch_size { n / cfg.batch_size } else { 1 };
        let total_steps = steps_per_epoch * cfg.epochs;
        let loss_fn = CrossEntropyLoss::new(None, &self.device);
        let mut rng = Rng::new(cfg.seed.wrapping_add(1));
        let mut history: Vec<EpochMetrics> = Vec::new();
        let (mut interrupted, mut early_stopped, mut diverged) = (false, false, false);
        let mut since_best = 0;
        if let Some(dir) = &self.run_dir {
            dir.write_start(&cfg, &self.data)?;
        }
        // The optimizer takes the network by value; work on it locally so no second reference
        // to the weights exists during a step (Burn updates uniquely held tensors in place).
        let mut net = std::mem::replace(&mut self.net, dummy_net(&self.device));
        let mut step = 0;
        for epoch in 1..=cfg.epochs {
            let t0 = Instant::now();
            let mut order: Vec<usize> = (0..n).collect();
            rng.shuffle(&mut order);
            cb.epoch_start(epoch, cfg.epochs, steps_per_epoch);
            let (mut loss_sum, mut lr) = (0.0f64, 0.0);
            let mut done = 0;
            for b in 0..steps_per_epoch {
                if self.interrupt.load(Ordering::Relaxed) {
                    interrupted = true;
                    break;
                }
                let idx = &order[b * cfg.batch_size..((b + 1) * cfg.batch_size).min(n)];
                lr = cfg.schedule.lr(cfg.lr, step, total_steps);
                let (next, l) = self.train_step(net, idx, lr, &loss_fn);
                net = next;
                if !l.is_finite() {
                    cb.message(&format!(
                        "the training loss became {l} at epoch {epoch}, step {}: the learning rate is too high (lower --lr); \
                         keeping the best weights before that",
                        b + 1
                    ));
                    diverged = true;
                    break;
                }
                loss_sum += l as f64;
                done += 1;
                step += 1;
                cb.batch_end(b + 1, l, lr);
            }
            if diverged || (interrupted && done == 0) {
                break;
            }
            cb.validating();
            let valid_net = net.valid();
            let report = self.validate(&valid_net);
            let m = EpochMetrics {
                epoch,
                train_loss: loss_sum / done.max(1) as f64,
                valid_loss: report.loss,
                accuracy: report.accuracy,
                error_rate: report.error_rate,
                seconds: t0.elapsed().as_secs_f64(),
                lr,
            };
            let improved = self.kept.as_ref().is_none_or(|k| report.loss < k.1.loss);
            if improved {
                self.kept = Some((valid_net, report, epoch));
                since_best = 0;
            } else {
                since_best += 1;
            }
            history.push(m.clone());
            cb.epoch_end(&m, improved);
            if let Some(dir) = &self.run_dir {
                dir.write_metrics(&history)?;
                if improved {
                    dir.write_checkpoint(&self.model(), &self.bundle_meta())?;
                }
            }
            if interrupted {
                cb.message(&format!("interrupted during epoch {epoch}; keeping the best weights so far"));
                break;
            }
            if cfg.patience.is_some_and(|p| since_best >= p) {
                early_stopped = true;
                cb.message(&format!("early stopping: no better validation loss for {since_best} epochs"));
                break;
            }
        }
        self.net = net;
        if self.kept.is_none() {
            if diverged {
                return Err(Error::Diverged(
                    "the training loss became NaN or infinite in the first epoch; lower the learning rate (--lr)".into(),
                ));
            }
            // Interrupted before any epoch finished: keep the weights as they are.
            let net = self.net.valid();
            let report = self.validate(&net);
            self.kept = Some((net, report, 0));
        }
        let (kept_net, final_metrics, best_epoch) = self.kept.clone().unwrap();
        let test_metrics = self
            .data
            .test
            .as_ref()
            .map(|t| evaluate(&kept_net, t, &self.data.classes, &self.data.preprocess, &self.base));
        let report = TrainReport {
            history,
            best_epoch,
            final_metrics,
            test_metrics,
            interrupted,
            early_stopped,
            diverged,
            seconds: start.elapsed().as_secs_f64(),
        };
        self.report = Some(report.clone());
        if let Some(dir) = &self.run_dir {
            dir.write_end(&kept_net, &self.bundle_meta(), &report)?;
        }
        Ok(report)
    }
}

/// A one-weight network that holds `Learner::net`'s place while `fit` works on the real one.
fn dummy_net(device: &Device) -> Net {
    Net::Mlp(crate::models::MlpConfig::new().with_hidden(vec![]).init(1, 1, device))
}
