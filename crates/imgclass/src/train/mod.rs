//! Training: the [`TrainConfig`] that fully describes a run, the [`Learner`] that runs it, and
//! the [`Callback`] through which a front end shows progress.

mod eval;
mod learner;
mod lr_find;
mod optimizer;
mod run_dir;
mod schedule;

pub use eval::{EVAL_BATCH, EvalReport, batch_tensor, evaluate, label_tensor, log_probs};
pub use learner::{EpochMetrics, Learner, TrainReport};
pub use lr_find::{LrFind, Smoother};
pub use optimizer::OptimizerKind;
pub use run_dir::RunDir;
pub use schedule::Schedule;

use burn::config::Config;

use crate::data::SplitOptions;
use crate::models::Arch;
use crate::transforms::ResizeMode;

/// Everything that defines a training run; saved as `config.json` in the run folder.
#[derive(Config, Debug)]
pub struct TrainConfig {
    /// Architecture and its hyper-parameters.
    #[config(default = "Arch::default()")]
    pub arch: Arch,
    /// Passes over the training data.
    #[config(default = 5)]
    pub epochs: usize,
    /// Images per training step.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Peak learning rate (the one-cycle maximum).
    #[config(default = 3e-3)]
    pub lr: f64,
    /// Optimizer.
    #[config(default = "OptimizerKind::Adamw")]
    pub optimizer: OptimizerKind,
    /// Weight decay (decoupled for AdamW, L2 for SGD and Adam).
    #[config(default = 0.01)]
    pub weight_decay: f64,
    /// SGD momentum.
    #[config(default = 0.9)]
    pub momentum: f64,
    /// Learning-rate schedule.
    #[config(default = "Schedule::default()")]
    pub schedule: Schedule,
    /// Square input size; by default the images' own size when they share one (≤ 256 px).
    pub size: Option<usize>,
    /// How images are fitted to the input size.
    #[config(default = "ResizeMode::Squish")]
    pub resize: ResizeMode,
    /// Fraction of each class held out for validation.
    #[config(default = 0.2)]
    pub valid_pct: f64,
    /// Fraction of each class held out for testing (when the data has no test split).
    #[config(default = 0.0)]
    pub test_pct: f64,
    /// Seed for the split, the shuffles and the initial weights.
    #[config(default = 42)]
    pub seed: u64,
    /// Stop after this many epochs without a better validation loss.
    pub patience: Option<usize>,
}

impl TrainConfig {
    /// Checks every value that has a valid range, and the architecture against a square
    /// `size` input (`self.size` when set).
    pub fn validate(&self, size: usize) -> crate::Result<()> {
        let bad = |m: &str| Err(crate::Error::Config(m.into()));
        if self.epochs == 0 || self.batch_size == 0 {
            return bad("--epochs and --batch-size must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("--lr must be a positive number");
        }
        if !(self.weight_decay >= 0.0) || !(0.0..1.0).contains(&self.momentum) {
            return bad("--weight-decay must be ≥ 0 and --momentum in [0, 1)");
        }
        if self.size == Some(0) {
            return bad("--size must be at least 1 pixel");
        }
        if self.patience == Some(0) {
            return bad("--patience must be at least 1 epoch (leave it out to train every epoch)");
        }
        self.split_options().validate()?;
        let s = self.size.unwrap_or(size);
        self.arch.validate([1, s, s])
    }

    /// The config as a JSON value (what `config.json` and bundles store).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The split options of this config.
    pub fn split_options(&self) -> SplitOptions {
        SplitOptions { valid_pct: self.valid_pct, test_pct: self.test_pct, seed: self.seed }
    }
}

/// Receives progress events from data loading and training. Every method has an empty default.
pub trait Callback {
    /// Training of epoch `epoch` (1-based) of `epochs` starts, with `batches` steps.
    fn epoch_start(&mut self, _epoch: usize, _epochs: usize, _batches: usize) {}
    /// A training step finished.
    fn batch_end(&mut self, _step: usize, _loss: f32, _lr: f64) {}
    /// Validation of the epoch starts.
    fn validating(&mut self) {}
    /// An epoch finished; `improved` when its validation loss is the best so far.
    fn epoch_end(&mut self, _metrics: &EpochMetrics, _improved: bool) {}
    /// A note for the user (early stop, interruption, checkpoint written).
    fn message(&mut self, _text: &str) {}
}

/// A callback that shows nothing.
pub struct Silent;

impl Callback for Silent {}
