//! The typed configuration of a training run, saved as `config.json` in the run folder and in
//! every bundle, so a run can be reproduced and resumed.
//!
//! [`TrainConfig`] nests one part per concern — [`DataConfig`] (source, labels, split, loader),
//! [`TransformConfig`] (size, resizing, normalization, augmentation), [`ModelConfig`]
//! (architecture, starting weights), [`OptimizerConfig`] (optimizer, rate, schedule) and
//! [`FitConfig`] (epochs, batches, freezing, early stopping), [`LossConfig`] (label smoothing,
//! mixup, CutMix) — plus the seed. Every default
//! lives in the `Default` impls here, and nowhere else. [`TrainConfig::validate`] checks every
//! value with a range, and its errors name the field by its dotted path (`fit.batch_size`).
//!
//! ```
//! use imgclass::config::TrainConfig;
//! use imgclass::models::ArchKind;
//!
//! let mut config = TrainConfig::default();
//! config.model.arch = ArchKind::Mlp.arch();
//! config.fit.epochs = 3;
//! assert!(config.validate().is_ok());
//! config.fit.batch_size = 0;
//! assert!(config.validate().unwrap_err().to_string().contains("fit.batch_size"));
//! ```

mod data;
mod fit;
mod loss;
mod model;
mod optim;
mod preset;
mod schedule;
mod task;
mod transforms;
mod values;

pub use data::{DataConfig, LoaderConfig, SplitConfig};
pub use fit::{Balance, BnMode, FitConfig, fine_tune_epochs};
pub use loss::{LossConfig, Mix};
pub use model::{ModelConfig, Weights};
pub use optim::{FINE_TUNE_LR, FINE_TUNE_PATIENCE, OptimizerConfig, OptimizerKind};
pub use preset::{FASHION_EPOCHS, Preset};
pub use schedule::Schedule;
pub use task::{TaskConfig, ThresholdTuning, ValueLoss, YRange};
pub use transforms::TransformConfig;
pub use values::{Background, LrRange, ParseValueError};

use serde::{Deserialize, Serialize};

use crate::data::{DataSplits, Source, SplitOptions};
use crate::error::{Error, Result};
use crate::transforms::Normalize;

/// Everything that defines a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// Where the images and labels come from, how they are split and loaded.
    pub data: DataConfig,
    /// How images become model inputs.
    pub transforms: TransformConfig,
    /// The network and its starting weights.
    pub model: ModelConfig,
    /// The optimizer and its schedule.
    pub optimizer: OptimizerConfig,
    /// How long and in which phases to train.
    pub fit: FitConfig,
    /// The training loss: label smoothing, mixup or CutMix.
    pub loss: LossConfig,
    /// What the model answers: one class, several, numbers or counts.
    pub task: TaskConfig,
    /// Seed for the split, the shuffles, the initial weights and dropout.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            data: DataConfig::default(),
            transforms: TransformConfig::default(),
            model: ModelConfig::default(),
            optimizer: OptimizerConfig::default(),
            fit: FitConfig::default(),
            loss: LossConfig::default(),
            task: TaskConfig::default(),
            seed: 42,
        }
    }
}

impl TrainConfig {
    /// Fine-tuning from a converged linear probe (LP-FT, Kumar et al. 2022): the head fitted
    /// first ([`FitConfig::probe`]), then `epochs` epochs of the whole network with
    /// discriminative rates gentle enough for a converged head (lr/200 … lr/20), stopping
    /// early after 2 epochs without a better validation loss. `None`: the epochs are chosen
    /// from the data ([`fine_tune_epochs`]). Needs a pretrained body.
    pub fn probe_then_fine_tune(mut self, epochs: Option<usize>) -> Self {
        (self.fit.probe, self.fit.unfreeze, self.fit.freeze_epochs) = (true, true, 0);
        self.fit.epochs = epochs.unwrap_or(0);
        self.fit.epochs_from_data = epochs.is_none();
        self.fit.patience = self.fit.patience.or(Some(FINE_TUNE_PATIENCE));
        self
    }

    /// fastai's `fine_tune(epochs)`: the body frozen for `freeze_epochs` (at least one)
    /// epochs, then `epochs` epochs of the whole network with discriminative rates, at
    /// fastai's base rate [`FINE_TUNE_LR`]. Needs a pretrained body.
    pub fn fastai_fine_tune(mut self, freeze_epochs: usize, epochs: usize) -> Self {
        self.fit.freeze_epochs = freeze_epochs.max(1);
        self.fit.unfreeze = true;
        self.fit.epochs = epochs;
        self.optimizer.lr = FINE_TUNE_LR;
        self
    }

    /// Sets what the config leaves to the data: `fit.epochs` when `fit.epochs_from_data`.
    pub fn fill_in_from_data(&mut self, train_images: usize) {
        if std::mem::take(&mut self.fit.epochs_from_data) {
            self.fit.epochs = fine_tune_epochs(train_images);
        }
    }

    /// Checks every value that has a valid range and the options that depend on each other;
    /// the error names the field. The architecture is checked against `transforms.size`, or
    /// its default size when that is not set (the data's own size is checked when it is loaded).
    pub fn validate(&self) -> Result<()> {
        self.data.validate()?;
        self.transforms.validate()?;
        self.optimizer.validate()?;
        self.validate_fit()?;
        self.loss.validate()?;
        self.task.validate()?;
        let freezing = self.fit.freeze_epochs > 0 || self.fit.unfreeze || self.fit.probe;
        if (freezing || self.fit.lr_range.is_some()) && !self.model.arch.is_backbone() {
            return Err(Error::config_see(
                "fit.freeze_epochs",
                &["model.arch"],
                "(like probing, unfreezing and discriminative rates) applies to resnet18, resnet34, efficientnet_lite0, efficientnet_lite1 and efficientnet_lite2 only",
            ));
        }
        if freezing && !self.model.starts_pretrained() {
            return Err(Error::config_see(
                "fit.freeze_epochs",
                &["model.weights"],
                "(like probing and unfreezing) only makes sense for a pretrained body",
            ));
        }
        if self.transforms.normalize == Normalize::Pretrained && self.model.arch.pretrained_stats().is_none() {
            return Err(Error::config_see(
                "transforms.normalize",
                &["model.arch"],
                "pretrained needs a pretrained architecture (resnet18, resnet34, efficientnet_lite0, efficientnet_lite1, efficientnet_lite2)",
            ));
        }
        let s = self.transforms.size.unwrap_or(self.model.arch.default_size());
        self.model.arch.validate([3, s, s])?;
        self.model.validate()
    }

    fn validate_fit(&self) -> Result<()> {
        let fit = &self.fit;
        if fit.epochs + fit.freeze_epochs + usize::from(fit.probe || fit.epochs_from_data) == 0 {
            return Err(Error::config_see(
                "fit.epochs",
                &["fit.freeze_epochs", "fit.probe"],
                "(with the frozen epochs, or the probe) must be at least 1",
            ));
        }
        if fit.batch_size == 0 {
            return Err(Error::config("fit.batch_size", "must be at least 1"));
        }
        if fit.patience == Some(0) {
            return Err(Error::config("fit.patience", "must be at least 1 epoch (leave it out to train every epoch)"));
        }
        if let Some(LrRange { low, high }) = fit.lr_range
            && !(low.is_finite() && high.is_finite() && low > 0.0 && high >= low)
        {
            return Err(Error::config("fit.lr_range", "LOW:HIGH needs 0 < LOW ≤ HIGH"));
        }
        Ok(())
    }

    /// The split options: `data.split` with the run's seed.
    pub fn split_options(&self) -> SplitOptions {
        SplitOptions { valid_pct: self.data.split.valid_pct, test_pct: self.data.split.test_pct, seed: self.seed }
    }

    /// Opens the data with its labels, read for `task.kind` (or the task they imply).
    pub fn open_data(&self) -> Result<Source> {
        self.data.open(&self.task.columns, self.task.kind)
    }

    /// Splits and decodes `source` as this config says: the input size, the preprocessing
    /// (normalization fitted on the training images), presizing and where images are kept.
    /// `progress(done, total)` is called as images are decoded.
    pub fn load(&self, source: &Source, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<DataSplits> {
        source.require_trainable()?;
        self.task.validate_for(source.task())?;
        let size = self.input_size(source);
        self.model.arch.validate([3, size.0, size.1])?;
        let pre = self.preprocess(source, size);
        DataSplits::load_with(source, pre, self.split_options(), self.load_options(size), progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ArchKind;

    #[test]
    fn the_config_round_trips_through_json_and_fills_missing_fields_with_defaults() {
        let mut c = TrainConfig::default().probe_then_fine_tune(Some(3));
        c.model.arch = ArchKind::EfficientnetLite0.arch();
        c.model.weights = Weights::Pretrained;
        c.fit.balance = Some(Balance::Oversample);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<TrainConfig>(&json).unwrap(), c);
        let partial: TrainConfig = serde_json::from_str(r#"{"fit": {"epochs": 2}}"#).unwrap();
        assert_eq!((partial.fit.epochs, partial.fit.batch_size, partial.seed), (2, 64, 42));
    }

    #[test]
    fn each_out_of_range_value_is_an_error_naming_its_field() {
        type Edit = Box<dyn Fn(&mut TrainConfig)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("fit.batch_size", Box::new(|c| c.fit.batch_size = 0)),
            ("fit.epochs", Box::new(|c| c.fit.epochs = 0)),
            ("fit.patience", Box::new(|c| c.fit.patience = Some(0))),
            ("optimizer.lr", Box::new(|c| c.optimizer.lr = -1.0)),
            ("optimizer.momentum", Box::new(|c| c.optimizer.momentum = 1.5)),
            ("data.loader.workers", Box::new(|c| c.data.loader.workers = 100_000)),
            ("data.split.valid_pct", Box::new(|c| c.data.split.valid_pct = 1.0)),
            ("transforms.size", Box::new(|c| c.transforms.size = Some(0))),
            ("transforms.presize", Box::new(|c| c.transforms.presize = Some(1 << 20))),
            ("fit.freeze_epochs", Box::new(|c| c.fit.freeze_epochs = 1)),
            ("transforms.normalize", Box::new(|c| c.transforms.normalize = Normalize::Pretrained)),
            ("model.weights", Box::new(|c| c.model.weights = Weights::Pretrained)),
        ];
        for (field, edit) in cases {
            let mut c = TrainConfig::default();
            edit(&mut c);
            match c.validate() {
                Err(Error::Config { field: f, message, .. }) => {
                    assert_eq!(f, field, "{message}");
                    let dotted =
                        message.split_whitespace().any(|w| w.contains('.') && w.starts_with(char::is_lowercase));
                    assert!(!dotted, "the message names no field by its dotted path: {message}");
                }
                other => panic!("{field}: expected a config error, got {other:?}"),
            }
        }
        assert!(TrainConfig::default().validate().is_ok());
    }

    #[test]
    fn fastais_fine_tune_freezes_at_least_one_epoch_at_its_base_rate() {
        let c = TrainConfig::default().fastai_fine_tune(0, 3);
        assert_eq!((c.fit.freeze_epochs, c.fit.unfreeze, c.fit.epochs, c.optimizer.lr), (1, true, 3, FINE_TUNE_LR));
        assert!(!c.fit.probe && c.fit.patience.is_none());
    }

    #[test]
    fn fine_tune_probes_then_unfreezes_with_early_stopping_and_epochs_settled_by_the_data() {
        let mut c = TrainConfig::default().probe_then_fine_tune(None);
        assert!(c.fit.probe && c.fit.unfreeze && c.fit.freeze_epochs == 0);
        assert_eq!(c.fit.patience, Some(FINE_TUNE_PATIENCE));
        c.fill_in_from_data(384);
        assert_eq!((c.fit.epochs, c.fit.epochs_from_data), (fine_tune_epochs(384), false));
        c.fill_in_from_data(100_000);
        assert_eq!(c.fit.epochs, fine_tune_epochs(384), "settled once");
        assert_eq!((fine_tune_epochs(384), fine_tune_epochs(2_000), fine_tune_epochs(48_000)), (3, 3, 2));
        assert_eq!(TrainConfig::default().probe_then_fine_tune(Some(7)).fit.epochs, 7);
    }
}
