//! The [`Learner`]: a network, its data and its optimizer, and where training stands. It is
//! built fresh ([`Learner::new`]) or from a run folder's checkpoint ([`Learner::resume`]);
//! [`Learner::fit`] hands it to the [`Trainer`], which runs the epochs.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;

use super::Callback;
use super::checkpoint::{self, Progress};
use super::loss::Objective;
use super::phases::{phase_after, plan};
use super::report::TrainReport;
use super::run_dir::RunDir;
use super::state::{Env, Kept, State, bundle_meta};
use super::trainee::step_network;
use super::trainer::{Trainer, steps_per_epoch};
use crate::bundle::{Bundle, BundleMeta};
use crate::config::{ThresholdTuning, TrainConfig};
use crate::data::targets::TaskKind;
use crate::data::{DataSplits, Loader};
use crate::error::{Error, Result};
use crate::infer::{Views, evaluate, on_pool_if_small, outputs_tta};
use crate::models::Net;
use crate::models::pretrained::load_into;
use crate::models::transfer::trainable_params;
use crate::task::Task;
use crate::util::pool::worker_pool;
use crate::util::rng::Rng;

/// Serializes the drawing of initial weights. Burn's backends keep one random generator per
/// process (burn-flex's `SEED`) and draw a parameter's initial values when it is first read; a
/// learner seeds the generator and draws every initial weight while holding this lock, so
/// learners built side by side each get the weights of their own seed. Nothing else in the
/// library draws from the device's generator (dropout masks come from the step's key).
static DEVICE_GENERATOR: Mutex<()> = Mutex::new(());

/// The network of `config.model` for `input` (`[channels, height, width]`) and `classes`, its
/// body loaded from the pretrained weights the config names, every other weight drawn now from
/// the device's generator seeded with `config.seed`.
fn initial_net(config: &TrainConfig, input: [usize; 3], classes: usize, device: &Device) -> Result<Net> {
    let _drawing = DEVICE_GENERATOR.lock().unwrap_or_else(PoisonError::into_inner);
    device.seed(config.seed);
    let mut net = config.model.arch.init(input, classes, device)?;
    if let Some(path) = config.model.weights_file()? {
        load_into(&mut net, &path, false)?;
    }
    net.visit(&mut DrawInitialValues);
    Ok(net)
}

/// Records the data's task in `config` (a run saves the task it found) and checks that the
/// config's options apply to it.
fn settle_task(config: &mut TrainConfig, data: &DataSplits) -> Result<()> {
    let task = data.task();
    if config.task.kind.is_some_and(|k| k != task) {
        return Err(Error::config_see(
            "task.kind",
            &["data.labels"],
            format!("does not match the data, whose labels were read for {}", task.name()),
        ));
    }
    config.task.kind = Some(task);
    if task == TaskKind::SingleLabel {
        return Ok(());
    }
    let numbers = task != TaskKind::MultiLabel;
    if numbers && config.fit.balance.is_some() {
        return Err(Error::config_see("fit.balance", &["task.kind"], "applies to classes, not to numbers"));
    }
    if numbers && (config.loss.label_smoothing > 0.0) {
        return Err(Error::config_see("loss.label_smoothing", &["task.kind"], "applies to classes, not to numbers"));
    }
    Ok(())
}

/// Reads every parameter once, so that the lazily initialized ones draw their values.
struct DrawInitialValues;

impl ModuleVisitor for DrawInitialValues {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// A network with its data, optimizer and training state.
pub struct Learner {
    env: Env,
    state: State,
}

impl Learner {
    /// Builds the network of `config.model` for `data` on `device` (seeded by `config.seed`),
    /// with its body loaded from the pretrained weights the config names (a new head), and
    /// frozen when the run starts frozen. What the config leaves to the data is settled here
    /// ([`TrainConfig::fill_in_from_data`]).
    pub fn new(data: DataSplits, mut config: TrainConfig, device: Device) -> Result<Learner> {
        config.fill_in_from_data(data.train.len());
        settle_task(&mut config, &data)?;
        config.validate()?;
        let p = &data.preprocess;
        if config.model.starts_pretrained() && !p.rgb_model() {
            return Err(Error::config(
                "model.weights",
                "(a pretrained body) need RGB input with their own normalization: build the preprocessing with TrainConfig::preprocess",
            ));
        }
        let base = device.clone();
        let device = device.autodiff();
        let mut net = initial_net(&config, [p.input_channels(), p.height(), p.width()], data.classes.len(), &device)?;
        if let Some(phase) = phase_after(&config, 0) {
            net = phase.set_freezing(net);
        }
        let groups = net.layer_groups();
        let pool = worker_pool(config.data.loader.workers, "data.loader.workers")?;
        let state = State {
            net: Some(net),
            optim: config.optimizer.init(),
            progress: Progress::start(config.seed),
            kept: None,
            report: None,
        };
        let task = Task::new(&config.task, &data);
        let env = Env { config, data, task, device, base, pool, groups, interrupt: Arc::default(), run_dir: None };
        Ok(Learner { env, state })
    }

    /// Continues the run in `dir` from its last checkpoint: weights, optimizer state, position
    /// in the schedule, shuffling state and best weights so far, so that training on ends
    /// where an uninterrupted run would. `data` must be the run's data, split as it was
    /// (`dir`'s `split.json`), and `config` the run's config (`RunDir::read_config`; only
    /// `data.loader` may differ).
    pub fn resume(data: DataSplits, config: TrainConfig, device: Device, dir: RunDir) -> Result<Learner> {
        let dir = dir.lock()?;
        let saved = dir.read_config()?;
        let mut same = config.clone();
        same.data.loader = saved.data.loader;
        if same != saved {
            return Err(Error::Resume {
                path: dir.path().into(),
                message: "the config differs from the run's config.json; a resumed run keeps its config (only the loader settings may change)".into(),
            });
        }
        if dir.read_split()? != data.record {
            return Err(Error::Resume {
                path: dir.path().into(),
                message: format!(
                    "the data in {} changed since the run started (split.json lists other images); start a new run",
                    data.record.source
                ),
            });
        }
        let resume = dir.resume_path();
        if !resume.is_file() {
            return Err(Error::Resume {
                path: dir.path().into(),
                message: "no checkpoint (checkpoints/resume.ckpt): the run stopped before it saved one; start it again"
                    .into(),
            });
        }
        let checkpoint = checkpoint::read(&resume)?;
        let mut learner = Learner::new(data, config, device)?.with_run_dir(dir.clone());
        let e = &learner.env;
        let epochs = plan(&e.config).iter().map(|p| p.epochs).sum();
        let steps = steps_per_epoch(e.data.train.len(), e.config.fit.batch_size);
        checkpoint.progress.check(epochs, steps).map_err(|problem| Error::Resume {
            path: resume.clone(),
            message: format!("the checkpoint does not fit the run's config ({problem}); start the run again"),
        })?;
        let state = &mut learner.state;
        let mut net = state.net.take().expect("a new learner holds its network");
        checkpoint.load_net(&mut net, &resume)?;
        if let Some(phase) = phase_after(&learner.env.config, checkpoint.progress.epochs_done) {
            net = phase.set_freezing(net);
        }
        learner.env.groups = net.layer_groups();
        state.net = Some(net);
        state.optim = checkpoint.load_optimizer(learner.env.config.optimizer.init(), &resume)?;
        state.progress = checkpoint.progress;
        if let Some((epoch, _)) = state.progress.best {
            let best = Bundle::load(&dir.checkpoint_path(), &learner.env.base)?;
            let e = &learner.env;
            let report = evaluate(best.net(), &e.data.valid, &e.task, &e.data.preprocess, &e.base);
            state.kept = Some(Kept { net: best.net().clone(), report, epoch });
        }
        Ok(learner)
    }

    /// Writes the run's config, split, metrics, checkpoints, bundle and plots into `dir`.
    pub fn with_run_dir(mut self, dir: RunDir) -> Self {
        self.env.run_dir = Some(dir);
        self
    }

    /// The run folder, when there is one.
    pub fn run_dir(&self) -> Option<&RunDir> {
        self.env.run_dir.as_ref()
    }

    /// A short name of the device training runs on, for logs.
    pub fn device_name(&self) -> String {
        crate::device::device_name(&self.env.base)
    }

    /// The run's config.
    pub fn config(&self) -> &TrainConfig {
        &self.env.config
    }

    /// What the model answers, with what training learnt about its targets.
    pub fn task(&self) -> &Task {
        &self.env.task
    }

    /// The decoded data.
    pub fn data(&self) -> &DataSplits {
        &self.env.data
    }

    /// A flag that, once set (by a Ctrl-C handler, say), ends training after the current step.
    pub fn interrupt_handle(&self) -> Arc<AtomicBool> {
        self.env.interrupt.clone()
    }

    /// Where training stands: epochs finished, and steps finished of the next one (both 0
    /// for a new run).
    pub fn position(&self) -> (usize, usize) {
        (self.state.progress.epochs_done, self.state.progress.step)
    }

    fn net(&self) -> &Net {
        self.state.net.as_ref().expect("the learner holds its network outside `fit`")
    }

    /// The network in inference mode (the kept weights after `fit`).
    pub fn model(&self) -> Net {
        self.state.kept.as_ref().map(|k| k.net.clone()).unwrap_or_else(|| self.net().valid())
    }

    /// The network as the last training step left it, in inference mode (`model` gives the
    /// kept, best-validation weights).
    pub fn last_model(&self) -> Net {
        self.net().valid()
    }

    /// Number of parameters (batch-norm running statistics included).
    pub fn num_params(&self) -> usize {
        self.net().num_params()
    }

    /// Number of parameters that train now (fewer while the body is frozen).
    pub fn trainable_params(&self) -> usize {
        trainable_params(self.net())
    }

    /// Trains the run's phases (see [`crate::config::FitConfig::freeze_epochs`]) from where the
    /// run stands and returns what happened. The kept weights are those of the epoch with the
    /// lowest validation loss.
    pub fn fit(&mut self, cb: &mut dyn Callback) -> Result<TrainReport> {
        let mut report = Trainer::new(&self.env, &mut self.state, cb).run()?;
        if let Some(tuning) = self.env.config.task.tune_threshold {
            self.tune_thresholds(tuning, &mut report, cb);
        }
        self.state.report = Some(report.clone());
        if let (Some(dir), Some(kept)) = (&self.env.run_dir, &self.state.kept) {
            dir.write_end(&kept.net, &self.bundle_meta(), &report)?;
        }
        Ok(report)
    }

    /// Multi-label: sets the task's thresholds to those that maximize the kept weights'
    /// validation F1, and measures the kept weights again with them.
    fn tune_thresholds(&mut self, tuning: ThresholdTuning, report: &mut TrainReport, cb: &mut dyn Callback) {
        let Some(kept) = self.state.kept.as_mut() else { return };
        let e = &mut self.env;
        let (data, base) = (&e.data, &e.base);
        let raw = outputs_tta(&kept.net, &data.valid, &data.preprocess, base, &Views::Plain);
        let targets = raw.targets(&data.valid);
        let thresholds = e.task.tuned_thresholds(&raw.values, &targets, tuning);
        let shown: Vec<String> = thresholds.iter().map(|t| format!("{t:.2}")).collect();
        cb.message(&format!("thresholds tuned on the validation images (best F1): {}", shown.join(", ")));
        let task = e.task.clone().with_thresholds(thresholds);
        kept.report = task.report(&raw.values, &targets, &raw.labels(&data.valid));
        report.final_metrics = kept.report.clone();
        report.test_metrics = data.test.as_ref().map(|t| evaluate(&kept.net, t, &task, &data.preprocess, base));
        e.task = task;
    }

    /// fastai's `fine_tune`: trains the head (body frozen) for `fit.freeze_epochs` epochs (at
    /// least 1) at `base_lr`, then unfreezes and trains `epochs` epochs with discriminative
    /// rates from `base_lr / 200` (earliest layers) to `base_lr / 2` (head), unless
    /// `fit.lr_range` says otherwise. Needs a pretrained body.
    pub fn fastai_fine_tune(&mut self, epochs: usize, base_lr: f64, cb: &mut dyn Callback) -> Result<TrainReport> {
        let freeze_epochs = self.env.config.fit.freeze_epochs;
        let mut config = self.env.config.clone().fastai_fine_tune(freeze_epochs, epochs);
        config.optimizer.lr = base_lr;
        config.validate()?;
        self.env.config = config;
        self.fit(cb)
    }

    /// The bundle metadata for the kept weights.
    pub(crate) fn bundle_meta(&self) -> BundleMeta {
        bundle_meta(&self.env, self.state.report.as_ref())
    }

    /// Saves the kept weights as a bundle at `path` (atomically).
    pub fn save_bundle(&self, path: &Path) -> Result<()> {
        Bundle::write(path, &self.model(), &self.bundle_meta())
    }

    /// Measures training throughput: runs `warmup` then `steps` optimizer steps of
    /// `fit.batch_size` images at the constant rate `optimizer.lr` (the network is trained by
    /// them) and returns the images per second of the timed steps. Used by `bench/`; not part
    /// of the supported API.
    #[doc(hidden)]
    pub fn time_steps(&mut self, warmup: usize, steps: usize) -> f64 {
        let (env, state) = (&self.env, &mut self.state);
        let objective = Objective::new(env);
        let mut rng = Rng::new(env.config.seed);
        let n = env.data.train.len();
        let bs = env.config.fit.batch_size.min(n);
        let loader = Loader::new(&env.data.train, &env.data.preprocess);
        let mut net = state.net.take().expect("the learner holds its network outside `fit`");
        let mut start = Instant::now();
        for s in 0..warmup + steps {
            if s == warmup {
                let _ = env.device.sync();
                start = Instant::now();
            }
            let first = (s * bs) % (n - bs + 1);
            let idx: Vec<usize> = (first..first + bs).collect();
            let batch = loader.batch(&idx);
            net =
                step_network(&mut state.optim, &env.device, net, batch, env.config.optimizer.lr, &objective, &mut rng)
                    .0;
        }
        let _ = env.device.sync();
        state.net = Some(net);
        (steps * bs) as f64 / start.elapsed().as_secs_f64()
    }

    /// Measures inference throughput: the network in inference mode, on the device without
    /// autodiff, over `warmup` then `batches` batches of `fit.batch_size` validation images
    /// (training images when there is no validation split; cycling when too few), and returns
    /// the images per second of the timed batches. Batches are prepared before the clock
    /// starts, so only the network is timed. Used by `bench/`.
    pub fn time_inference(&self, warmup: usize, batches: usize) -> f64 {
        let env = &self.env;
        let data = if env.data.valid.is_empty() { &env.data.train } else { &env.data.valid };
        let n = data.len();
        let bs = env.config.fit.batch_size.min(n).max(1);
        let loader = Loader::new(data, &env.data.preprocess);
        let inputs: Vec<Tensor<4>> = (0..warmup + batches)
            .map(|b| {
                let idx: Vec<usize> = (0..bs).map(|i| (b * bs + i) % n).collect();
                let batch = loader.batch(&idx);
                Tensor::from_data(TensorData::new(batch.x, batch.shape), &env.base)
            })
            .collect();
        let net = self.net().valid();
        let mut start = Instant::now();
        for (b, x) in inputs.into_iter().enumerate() {
            if b == warmup {
                let _ = env.base.sync();
                start = Instant::now();
            }
            let _ = on_pool_if_small(bs, || net.forward(x).into_data());
        }
        (batches * bs) as f64 / start.elapsed().as_secs_f64()
    }

    /// The parts `lr_find` works with.
    pub(super) fn parts(&mut self) -> (&Env, &mut State) {
        (&self.env, &mut self.state)
    }
}
