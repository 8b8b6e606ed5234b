//! A bundle's metadata — format and version, labels, architecture, input shape,
//! preprocessing, training config, final metrics, where the data came from — and the checks
//! that it does not contradict itself.

use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::data::SourceKind;
use crate::models::Arch;
use crate::task::Task;
use crate::transforms::Preprocess;

/// The `format` field of every bundle.
pub const BUNDLE_FORMAT: &str = "imgclass-bundle";
/// The newest bundle version this build reads and the one it writes. Version 3 added the task
/// (several labels, numbers, counts; older bundles are single-label); version 2 typed the
/// training config (nested) and the metrics; version 1 bundles still load, without their
/// training config.
pub const BUNDLE_VERSION: u32 = 3;

/// Where a model's training data came from, so evaluation can refuse to score a model on the
/// data it was trained on, and read IDX labels the way training did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// The data path (or `bundled:…`).
    pub source: String,
    /// The layout the data was read from (absent in version 1 bundles).
    #[serde(default)]
    pub kind: Option<SourceKind>,
    /// Fingerprints of the IDX parts that gave training or validation images
    /// ([`crate::data::Source::part_fingerprints`]).
    #[serde(default)]
    pub fingerprints: Vec<u64>,
    /// Sorted content hashes of the training and validation image files (folder sources).
    #[serde(default)]
    pub image_hashes: Vec<u64>,
    /// Training images.
    pub train_images: usize,
    /// Validation images.
    pub valid_images: usize,
}

impl DataInfo {
    /// Whether the model was trained on IDX files (whose labels are class indices).
    pub fn from_idx(&self) -> bool {
        match self.kind {
            Some(kind) => kind == SourceKind::Idx,
            None => !self.fingerprints.is_empty(),
        }
    }
}

/// Accuracy and loss on a set of images.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Fraction correct.
    pub accuracy: f64,
    /// Mean loss (cross-entropy for classes; the task's loss otherwise).
    pub loss: f64,
    /// Number of images.
    pub n_images: usize,
}

/// The final metrics of the kept weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct BundleMetrics {
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// On the validation split.
    pub valid: Option<Score>,
    /// On the test split, when there was one.
    pub test: Option<Score>,
}

/// Everything in a bundle except the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleMeta {
    pub(crate) format: String,
    pub(crate) version: u32,
    pub(crate) imgclass_version: String,
    pub(crate) labels: Vec<String>,
    /// What the model answers (absent before version 3: single-label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) task: Option<Task>,
    pub(crate) arch: Arch,
    /// Input shape `[channels, height, width]`.
    pub(crate) input: [usize; 3],
    pub(crate) preprocess: Preprocess,
    #[serde(default)]
    pub(crate) train_config: Option<TrainConfig>,
    #[serde(default)]
    pub(crate) metrics: Option<BundleMetrics>,
    pub(crate) data: Option<DataInfo>,
}

impl BundleMeta {
    /// A new metadata record of the current format and version.
    pub(crate) fn new(labels: Vec<String>, arch: Arch, preprocess: Preprocess) -> Self {
        let input = [preprocess.input_channels(), preprocess.height(), preprocess.width()];
        Self {
            format: BUNDLE_FORMAT.into(),
            version: BUNDLE_VERSION,
            imgclass_version: env!("CARGO_PKG_VERSION").into(),
            labels,
            task: None,
            arch,
            input,
            preprocess,
            train_config: None,
            metrics: None,
            data: None,
        }
    }

    /// Class names, in output order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// What the model answers: one class (every bundle before version 3), several, numbers or
    /// counts, with what its outputs need to be read.
    pub fn task(&self) -> Task {
        self.task.clone().unwrap_or_else(|| Task::single_label(self.labels.clone()))
    }

    /// Architecture and hyper-parameters.
    pub fn arch(&self) -> &Arch {
        &self.arch
    }

    /// Input shape `[channels, height, width]`.
    pub fn input(&self) -> [usize; 3] {
        self.input
    }

    /// Preprocessing applied to every image.
    pub fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }

    /// The full training config (absent in version 1 bundles and for pretrained classifiers).
    pub fn train_config(&self) -> Option<&TrainConfig> {
        self.train_config.as_ref()
    }

    /// Final metrics (validation, and test when there was one).
    pub fn metrics(&self) -> Option<&BundleMetrics> {
        self.metrics.as_ref()
    }

    /// The training data.
    pub fn data(&self) -> Option<&DataInfo> {
        self.data.as_ref()
    }

    /// The imgclass version that wrote the bundle.
    pub fn imgclass_version(&self) -> &str {
        &self.imgclass_version
    }

    /// Checks that the metadata does not contradict itself: labels present and distinct, the
    /// preprocessing valid, the input shape that of the preprocessing, the architecture able
    /// to take it. `Err` names the field.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.labels.is_empty() {
            return Err("labels is empty".into());
        }
        let mut sorted: Vec<&String> = self.labels.iter().collect();
        sorted.sort();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("labels lists {:?} twice", w[0]));
        }
        if let Some(task) = &self.task {
            task.validate(&self.labels)?;
        }
        self.preprocess.validate()?;
        let p = &self.preprocess;
        let expected = [p.input_channels(), p.height(), p.width()];
        if self.input != expected {
            return Err(format!("input {:?} is not the preprocessing's input {expected:?}", self.input));
        }
        self.arch.validate(self.input).map_err(|e| format!("arch: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::ResizeMode;

    fn meta() -> BundleMeta {
        BundleMeta::new(vec!["a".into(), "b".into()], Arch::Logreg, Preprocess::new(4, 4, 1, ResizeMode::Squish))
    }

    #[test]
    fn metadata_that_contradicts_itself_names_the_field() {
        assert!(meta().validate().is_ok());
        let mut m = meta();
        m.labels.clear();
        assert!(m.validate().unwrap_err().contains("labels"));
        let mut m = meta();
        m.labels = vec!["a".into(), "a".into()];
        assert!(m.validate().unwrap_err().contains("twice"));
        let mut m = meta();
        m.input = [3, 4, 4];
        assert!(m.validate().unwrap_err().contains("input"));
        let mut m = meta();
        m.arch = Arch::EfficientnetLite0;
        assert!(m.validate().unwrap_err().contains("arch"));
    }
}
