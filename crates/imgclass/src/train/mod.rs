//! Training: the [`TrainConfig`] that fully describes a run, the [`Learner`] that runs it, and
//! the [`Callback`] through which a front end shows progress.

mod balance;
mod eval;
mod learner;
mod lr_find;
mod optimizer;
mod phases;
mod run_dir;
mod schedule;

pub use balance::Balance;
pub use eval::{EVAL_BATCH, EvalReport, batch_tensor, evaluate, label_tensor, log_probs, report_from_log_probs};
pub use learner::{EpochMetrics, Learner, TrainReport};
pub use lr_find::{LrFind, Smoother};
pub use optimizer::OptimizerKind;
pub use run_dir::RunDir;
pub use schedule::Schedule;

use std::path::PathBuf;

use burn::config::Config;

use crate::data::{LoadOptions, Residency, Source, SplitOptions, choose_size, default_preprocess};
use crate::models::Arch;
use crate::transforms::{Augment, Normalize, Preprocess, ResizeMode};

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
    /// Start the body from pretrained ImageNet weights (efficientnet_lite0: the cached
    /// checkpoint, see `imgclass weights fetch`); the head is new.
    #[config(default = false)]
    pub pretrained: bool,
    /// Start the body from the weights in this file (the EfficientNet-Lite0 checkpoint, or a
    /// torchvision ResNet `state_dict`).
    pub weights: Option<PathBuf>,
    /// Epochs with the pretrained body frozen (the head and batch norms train) before the
    /// `epochs` epochs of the whole network (fastai's `fine_tune`).
    #[config(default = 0)]
    pub freeze_epochs: usize,
    /// With a pretrained body and no `freeze_epochs`: train the whole network in `epochs`
    /// (else only the head and batch norms train, as in fastai's frozen `vision_learner`).
    #[config(default = false)]
    pub unfreeze: bool,
    /// Discriminative learning rates `(earliest layers, head)` for the unfrozen epochs; layer
    /// groups between get rates evenly spaced on a log scale.
    pub lr_range: Option<(f64, f64)>,
    /// While the body is frozen, compute its features once and train the head on them (the
    /// body then runs in inference mode: its batch norms do not train).
    #[config(default = true)]
    pub cache_features: bool,
    /// Training-time augmentation (`--aug` presets; see [`Augment::preset`]).
    #[config(default = "Augment::default()")]
    pub augment: Augment,
    /// Square size training images are stored at before augmentation samples the input size
    /// from them (fastai's presizing); by default 1.5 × the input size when augmenting.
    pub presize: Option<usize>,
    /// The colour transparent pixels are composited onto (RGB).
    #[config(default = "[255, 255, 255]")]
    pub background: [u8; 3],
    /// Which normalization statistics the inputs get.
    #[config(default = "Normalize::Auto")]
    pub normalize: Normalize,
    /// Counter class imbalance: weight the loss, or oversample rare classes.
    pub balance: Option<Balance>,
    /// Threads that decode, augment and normalize batches (0: one per core).
    #[config(default = 0)]
    pub workers: usize,
    /// Where decoded images are kept.
    #[config(default = "Residency::Auto")]
    pub images_in: Residency,
    /// With `images_in` auto: the most MiB of decoded images kept in memory (else they are
    /// streamed from disk every epoch).
    #[config(default = 512)]
    pub memory_mb: usize,
}

impl TrainConfig {
    /// Checks every value that has a valid range, and the architecture against a square
    /// `size` input (`self.size` when set).
    pub fn validate(&self, size: usize) -> crate::Result<()> {
        let bad = |m: &str| Err(crate::Error::Config(m.into()));
        if self.epochs + self.freeze_epochs == 0 || self.batch_size == 0 {
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
        if let Some((low, high)) = self.lr_range
            && !(low.is_finite() && high.is_finite() && low > 0.0 && high >= low)
        {
            return bad("--lr-range LOW:HIGH needs 0 < LOW ≤ HIGH");
        }
        let transfer = self.freeze_epochs > 0 || self.unfreeze;
        if (transfer || self.lr_range.is_some()) && !self.arch.is_backbone() {
            return bad("--freeze-epochs, --unfreeze, --fine-tune and --lr-range apply to resnet18, resnet34 and efficientnet_lite0");
        }
        if transfer && !self.starts_pretrained() {
            return bad("freezing only makes sense for a pretrained body: add --pretrained (or --weights PATH)");
        }
        if self.pretrained && self.weights.is_none() && self.arch != Arch::EfficientnetLite0 {
            return bad(
                "imgclass fetches pretrained weights for efficientnet_lite0 only; for a ResNet give torchvision weights with --weights FILE",
            );
        }
        if self.weights.is_some() && !self.arch.is_backbone() {
            return bad("--weights applies to resnet18, resnet34 and efficientnet_lite0");
        }
        self.split_options().validate()?;
        self.augment.validate().map_err(crate::Error::Config)?;
        if self.presize.is_some_and(|p| p == 0) {
            return bad("--presize must be at least 1 pixel");
        }
        if self.normalize == Normalize::Pretrained && self.arch.pretrained_stats().is_none() {
            return bad("--normalize pretrained needs a pretrained architecture (resnet18, resnet34, efficientnet_lite0)");
        }
        let s = self.size.unwrap_or(size);
        self.arch.validate([3, s, s])?;
        match self.weights_path() {
            Some(path) => crate::models::pretrained::require_file(&path, self.arch.name()),
            None => Ok(()),
        }
    }

    /// Whether the body starts from pretrained weights.
    pub fn starts_pretrained(&self) -> bool {
        self.pretrained || self.weights.is_some()
    }

    /// The weights file the body starts from, if any: `weights`, else the cached checkpoint
    /// of the architecture when `pretrained`.
    pub fn weights_path(&self) -> Option<PathBuf> {
        match (&self.weights, self.pretrained) {
            (Some(p), _) => Some(p.clone()),
            (None, true) => Some(crate::models::pretrained::efficientnet_lite0_path()),
            (None, false) => None,
        }
    }

    /// The preprocessing for images of `source` at `(h, w)`, normalized as `normalize` says:
    /// by default with the backbone's own statistics for a pretrained body, else fitted on the
    /// training images. Pretrained bodies and EfficientNet take RGB input.
    pub fn preprocess(&self, source: &Source, size: (usize, usize)) -> Preprocess {
        let pre = Preprocess { background: self.background, ..default_preprocess(source, size, self.resize) };
        let rgb = self.starts_pretrained() || self.arch == Arch::EfficientnetLite0;
        let fixed = match self.normalize {
            Normalize::Auto if self.starts_pretrained() => self.arch.pretrained_stats(),
            Normalize::Pretrained => self.arch.pretrained_stats(),
            Normalize::Imagenet => Some(crate::transforms::IMAGENET_STATS),
            Normalize::None => Some(([0.0; 3], [1.0; 3])),
            Normalize::Auto | Normalize::Data => None,
        };
        match fixed {
            Some((mean, std)) => {
                let mut p = Preprocess::pretrained(size.0, size.1, pre.channels, self.resize, mean, std);
                (p.rgb_model, p.background) = (rgb, self.background);
                if !rgb {
                    p.mean.truncate(pre.channels);
                    p.std.truncate(pre.channels);
                }
                p
            }
            None if rgb => Preprocess { rgb_model: true, mean: vec![0.0; 3], std: vec![1.0; 3], ..pre },
            None => pre,
        }
    }

    /// How the training data is stored: presized when augmenting, in memory or on disk.
    pub fn load_options(&self, size: (usize, usize)) -> LoadOptions {
        let augmenting = !self.augment.is_identity();
        let presize = self.presize.or(augmenting.then(|| (size.0.max(size.1) * 3).div_ceil(2)));
        LoadOptions { presize, residency: self.images_in, memory_budget: self.memory_mb << 20 }
    }

    /// The input size: `size`, else 224 for a pretrained body (what its weights were trained
    /// at), else [`choose_size`]'s choice for `source`.
    pub fn input_size(&self, source: &Source) -> (usize, usize) {
        let size = self.size.or(self.starts_pretrained().then_some(224));
        choose_size(source, size, self.arch.default_size())
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
