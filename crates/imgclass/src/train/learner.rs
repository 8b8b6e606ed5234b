//! The [`Learner`]: a network, its data and its optimizer, fitted epoch by epoch with a
//! one-cycle schedule (fastai's `Learner.fit_one_cycle`), keeping the best weights by
//! validation loss, stopping early on request and saving what it has when interrupted.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::module::ParamGroup;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::nn::Linear;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, TensorData};
use serde::{Deserialize, Serialize};

use super::balance::{Balance, class_weights, oversampled_order};
use super::eval::{EvalReport, evaluate, report_from_log_probs};
use super::phases::{Features, plan};
use super::run_dir::RunDir;
use super::{Callback, TrainConfig};
use crate::data::{Batch, DataSplits, Loader, worker_pool};
use crate::error::{Error, Result};
use crate::export::{Bundle, BundleMeta, DataInfo};
use crate::models::Net;
use crate::models::pretrained::load_into;
use crate::models::transfer::trainable_params;
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
    /// Learning rate at the epoch's last step (the head's, with discriminative rates).
    pub lr: f64,
    /// Whether the body was frozen during the epoch.
    #[serde(default)]
    pub frozen: bool,
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
    pub(super) net: Net,
    pub(super) optim: ModuleOptimizer,
    pub(super) device: Device,
    base: Device,
    groups: Option<Vec<ParamGroup>>,
    pub(super) interrupt: Arc<AtomicBool>,
    pub(super) pool: rayon::ThreadPool,
    run_dir: Option<RunDir>,
    kept: Option<(Net, EvalReport, usize)>,
    report: Option<TrainReport>,
}

impl Learner {
    /// Builds the network of `config.arch` for `data` on `device` (seeded by `config.seed`),
    /// with its body loaded from the pretrained weights the config names (a new head), and
    /// frozen when the run starts frozen.
    pub fn new(data: DataSplits, config: TrainConfig, device: Device) -> Result<Learner> {
        let p = &data.preprocess;
        config.validate(p.height.max(p.width))?;
        if config.starts_pretrained() && !p.rgb_model {
            return Err(Error::Config("a pretrained body needs RGB input with its own normalization: build the preprocessing with TrainConfig::preprocess".into()));
        }
        device.seed(config.seed);
        let base = device.clone();
        let device = device.autodiff();
        let mut net = config.arch.init([p.input_channels(), p.height, p.width], data.classes.len(), &device)?;
        if let Some(path) = config.weights_path() {
            load_into(&mut net, &path, false)?;
        }
        if let Some(phase) = plan(&config).first().filter(|p| p.frozen) {
            net = net.freeze_body(phase.train_bn);
        }
        let groups = net.layer_groups();
        let optim = config.optimizer.init(config.weight_decay, config.momentum);
        let pool = worker_pool(config.workers);
        Ok(Learner { config, data, net, optim, device, base, groups, interrupt: Arc::default(), pool, run_dir: None, kept: None, report: None })
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

    /// The network as the last training step left it, in inference mode (`model` gives the
    /// kept, best-validation weights).
    pub fn last_model(&self) -> Net {
        self.net.valid()
    }

    /// Number of parameters (batch-norm running statistics included).
    pub fn num_params(&self) -> usize {
        self.net.num_params()
    }

    /// Number of parameters that train now (fewer while the body is frozen).
    pub fn trainable_params(&self) -> usize {
        trainable_params(&self.net)
    }

    /// fastai's `fine_tune`: trains the head (body frozen) for `config.freeze_epochs` epochs
    /// (at least 1) at `base_lr`, then unfreezes and trains `epochs` epochs with
    /// discriminative rates from `base_lr / 200` (earliest layers) to `base_lr / 2` (head),
    /// unless `config.lr_range` says otherwise. Needs a pretrained body.
    pub fn fine_tune(&mut self, epochs: usize, base_lr: f64, cb: &mut dyn Callback) -> Result<TrainReport> {
        self.config.epochs = epochs;
        self.config.lr = base_lr;
        self.config.freeze_epochs = self.config.freeze_epochs.max(1);
        self.config.unfreeze = true;
        let p = &self.data.preprocess;
        self.config.validate(p.height.max(p.width))?;
        self.fit(cb)
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

    /// The training loss: cross-entropy, weighted per class with `--balance weights`.
    pub(super) fn loss_fn(&self) -> CrossEntropyLoss {
        match self.config.balance {
            Some(Balance::Weights) => CrossEntropyLossConfig::new()
                .with_weights(Some(class_weights(&self.data.train.labels, self.data.classes.len())))
                .init(&self.device),
            _ => CrossEntropyLoss::new(None, &self.device),
        }
    }

    /// The loader of training batches for `epoch` (augmented as the config says).
    pub(super) fn train_loader(&self, epoch: usize) -> Loader<'_> {
        train_loader(&self.data, &self.pool, &self.config, epoch)
    }

    /// One optimizer step on training images `idx` at learning rate `lr`; returns the updated
    /// network and the batch loss.
    pub(super) fn train_step(&mut self, net: Net, idx: &[usize], lr: impl Into<ModuleLearningRate>, loss_fn: &CrossEntropyLoss) -> (Net, f32) {
        let batch = self.train_loader(0).batch(idx);
        step(&mut self.optim, &self.device, net, batch, lr, loss_fn)
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

    /// Trains the run's phases (see [`TrainConfig::freeze_epochs`]) and returns what happened.
    /// The kept weights are those of the epoch with the lowest validation loss.
    pub fn fit(&mut self, cb: &mut dyn Callback) -> Result<TrainReport> {
        let start = Instant::now();
        let cfg = self.config.clone();
        let phases = plan(&cfg);
        let epochs: usize = phases.iter().map(|p| p.epochs).sum();
        let n = self.data.train.len();
        // Drop the last incomplete batch (fastai's `drop_last`), unless that would leave none.
        let steps_per_epoch = if n >= cfg.batch_size { n / cfg.batch_size } else { 1 };
        let loss_fn = self.loss_fn();
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
        let groups = self.groups.clone();
        let mut epoch = 0;
        for phase in &phases {
            net = if phase.frozen { net.unfreeze_body(true).freeze_body(phase.train_bn) } else { net.unfreeze_body(phase.train_bn) };
            let total_steps = steps_per_epoch * phase.epochs;
            // With cached features the head trains alone, outside the network, until the phase ends.
            let mut cached: Option<(Features, Features, Linear)> = None;
            let mut step = 0;
            for _ in 0..phase.epochs {
                epoch += 1;
                let t0 = Instant::now();
                let mut order: Vec<usize> = (0..n).collect();
                rng.shuffle(&mut order);
                if phase.cached && cached.is_none() {
                    cb.message("computing the frozen body's features once (--cache-features)");
                    let body = net.valid();
                    let train = Features::compute(&body, &self.data.train, &self.data.preprocess, &self.base);
                    let valid = Features::compute(&body, &self.data.valid, &self.data.preprocess, &self.base);
                    cached = Some((train, valid, net.head().expect("a network with a head").clone()));
                }
                cb.epoch_start(epoch, epochs, steps_per_epoch);
                let order = match cfg.balance {
                    Some(Balance::Oversample) => oversampled_order(&self.data.train.labels, self.data.classes.len(), &mut rng),
                    _ => order,
                };
                let batches: Vec<Vec<usize>> =
                    (0..steps_per_epoch).map(|b| order[b * cfg.batch_size..((b + 1) * cfg.batch_size).min(n)].to_vec()).collect();
                let (mut loss_sum, mut lr) = (0.0f64, 0.0);
                let mut done = 0;
                let use_cache = cached.is_some();
                let mut slot = Some(net);
                {
                    let optim = &mut self.optim;
                    let (device, interrupt, labels) = (&self.device, &self.interrupt, &self.data.train.labels);
                    let mut on_batch = |b: usize, batch: Option<Batch>| -> bool {
                        if interrupt.load(Ordering::Relaxed) {
                            interrupted = true;
                            return false;
                        }
                        let l;
                        if let Some((features, valid, head)) = cached.take() {
                            lr = phase.lr(None, step, total_steps).1;
                            let (next, loss) = head_step(optim, device, head, &features, labels, &batches[b], lr, &loss_fn);
                            cached = Some((features, valid, next));
                            l = loss;
                        } else {
                            let (rates, head_lr) = phase.lr(groups.as_deref(), step, total_steps);
                            lr = head_lr;
                            let batch = batch.expect("a batch when the head does not train on cached features");
                            let (next, loss) = self::step(optim, device, slot.take().expect("the network"), batch, rates, &loss_fn);
                            slot = Some(next);
                            l = loss;
                        }
                        if !l.is_finite() {
                            cb.message(&format!(
                                "the training loss became {l} at epoch {epoch}, step {}: the learning rate is too high (lower --lr); \
                                 keeping the best weights before that",
                                b + 1
                            ));
                            diverged = true;
                            return false;
                        }
                        loss_sum += l as f64;
                        done += 1;
                        step += 1;
                        cb.batch_end(b + 1, l, lr);
                        true
                    };
                    if use_cache {
                        (0..batches.len()).take_while(|&b| on_batch(b, None)).for_each(drop);
                    } else {
                        let mut b = 0;
                        train_loader(&self.data, &self.pool, &cfg, epoch).for_each(&batches, |batch| {
                            b += 1;
                            on_batch(b - 1, Some(batch))
                        });
                    }
                }
                net = slot.take().expect("the network");
                if diverged || (interrupted && done == 0) {
                    break;
                }
                cb.validating();
                let (report, valid_net) = match &cached {
                    Some((_, valid, head)) => {
                        let head = head.valid();
                        let logits = head.forward(valid.batch(&(0..self.data.valid.len()).collect::<Vec<_>>(), &self.base));
                        let lp = log_softmax(logits, 1).into_data().convert::<f32>().try_into_vec::<f32>().expect("f32");
                        let report = report_from_log_probs(&lp, &self.data.valid.labels, &self.data.classes);
                        (report, net.valid().with_head(head))
                    }
                    None => {
                        let valid_net = net.valid();
                        (self.validate(&valid_net), valid_net)
                    }
                };
                let m = EpochMetrics {
                    epoch,
                    train_loss: loss_sum / done.max(1) as f64,
                    valid_loss: report.loss,
                    accuracy: report.accuracy,
                    error_rate: report.error_rate,
                    seconds: t0.elapsed().as_secs_f64(),
                    lr,
                    frozen: phase.frozen,
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
            if let Some((_, _, head)) = cached.take() {
                net = net.with_head(head);
            }
            if diverged || interrupted || early_stopped {
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

/// The loader of `data`'s training batches for `epoch` on `pool`, augmented as `config` says
/// (a free function so that `fit` can borrow the data while it steps the optimizer).
fn train_loader<'a>(data: &'a DataSplits, pool: &'a rayon::ThreadPool, config: &'a TrainConfig, epoch: usize) -> Loader<'a> {
    Loader::new(&data.train, &data.preprocess).on_pool(pool).augmented(&config.augment, config.seed, epoch)
}

/// One optimizer step on a prepared batch at learning rate `lr`; returns the updated network
/// and the batch loss.
pub(super) fn step(
    optim: &mut ModuleOptimizer,
    device: &Device,
    net: Net,
    batch: Batch,
    lr: impl Into<ModuleLearningRate>,
    loss_fn: &CrossEntropyLoss,
) -> (Net, f32) {
    let y = Tensor::<1, Int>::from_data(TensorData::new(batch.y, [batch.shape[0]]), device);
    let x = Tensor::from_data(TensorData::new(batch.x, batch.shape), device);
    let loss = loss_fn.forward(net.forward(x), y);
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    let net = optim.step(lr, net, grads);
    (net, loss.into_scalar::<f32>())
}

/// One optimizer step of the head alone on cached body features of images `idx`.
#[allow(clippy::too_many_arguments)]
fn head_step(
    optim: &mut ModuleOptimizer,
    device: &Device,
    head: Linear,
    features: &Features,
    labels: &[usize],
    idx: &[usize],
    lr: f64,
    loss_fn: &CrossEntropyLoss,
) -> (Linear, f32) {
    let x = features.batch(idx, device);
    let y: Vec<i64> = idx.iter().map(|&i| labels[i] as i64).collect();
    let y = Tensor::<1, Int>::from_data(TensorData::new(y, [idx.len()]), device);
    let loss = loss_fn.forward(head.forward(x), y);
    let grads = GradientsParams::from_grads(loss.backward(), &head);
    let head = optim.step(lr, head, grads);
    (head, loss.into_scalar::<f32>())
}

/// A one-weight network that holds `Learner::net`'s place while `fit` works on the real one.
pub(super) fn dummy_net(device: &Device) -> Net {
    Net::Mlp(crate::models::MlpConfig::new().with_hidden(vec![]).init(1, 1, device))
}
