//! Where a run's images and labels come from, how they are split, and how batches are made.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::labels::require_csv_for_targets;
use crate::data::targets::{TargetColumns, TaskKind};
use crate::data::{Labels, MAX_PIXELS, Residency, Source, SplitOptions};
use crate::error::{Error, Result};
use crate::util::pool::check_workers;

/// The data of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DataConfig {
    /// The data folder; `None` is the bundled Fashion-MNIST sample, or, with labels from a CSV
    /// file or a file list, that file's folder.
    pub path: Option<PathBuf>,
    /// Where the labels come from.
    pub labels: Labels,
    /// How the images are split into train / valid / test.
    pub split: SplitConfig,
    /// How batches are made.
    pub loader: LoaderConfig,
    /// The most pixels (width × height) an image may declare to be decoded; larger images are
    /// skipped as undecodable (a guard against decompression bombs).
    pub max_pixels: u64,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            path: None,
            labels: Labels::default(),
            split: SplitConfig::default(),
            loader: LoaderConfig::default(),
            max_pixels: MAX_PIXELS,
        }
    }
}

/// Fractions of each class held out (when the data's layout does not fix the split).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SplitConfig {
    /// Fraction of each class held out for validation.
    pub valid_pct: f64,
    /// Fraction of each class held out for testing.
    pub test_pct: f64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self { valid_pct: 0.2, test_pct: 0.0 }
    }
}

/// How batches are made: by how many threads, from images kept where.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoaderConfig {
    /// Threads that decode, augment and normalize batches (0: one per core).
    pub workers: usize,
    /// Where decoded images are kept.
    pub images_in: Residency,
    /// With `images_in` auto: the most MiB of decoded images kept in memory (else they are
    /// streamed from disk every epoch).
    pub memory_mb: usize,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        Self { workers: 0, images_in: Residency::Auto, memory_mb: 512 }
    }
}

impl DataConfig {
    /// The folder the data is read from: `path`, else the folder of the CSV or list file the
    /// labels come from; `None` for the bundled sample.
    pub fn root(&self) -> Option<PathBuf> {
        if let Some(p) = &self.path {
            return Some(p.clone());
        }
        match &self.labels {
            Labels::Csv(file) | Labels::FileList(file) => {
                Some(file.parent().map(Path::to_path_buf).unwrap_or_default())
            }
            _ => None,
        }
    }

    /// Opens the data with its labels, read for `task` (the task a labels CSV implies when
    /// `None`) with the targets where `columns` says.
    pub fn open(&self, columns: &TargetColumns, task: Option<TaskKind>) -> Result<Source> {
        self.validate()?;
        require_csv_for_targets(&self.labels, columns, task)?;
        let source = match self.root() {
            Some(root) => Source::open_labelled(&root, &self.labels, columns, task)?,
            None => Source::bundled()?,
        };
        Ok(source.with_max_pixels(self.max_pixels))
    }

    /// Checks the split fractions, the loader settings, the pixel limit, and that file-name
    /// labels have a folder.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.root().is_none() && matches!(self.labels, Labels::NameRegex(_)) {
            return Err(Error::config_see(
                "data.path",
                &["data.labels.name_regex"],
                "is needed with a label regex: the folder whose file names carry the labels",
            ));
        }
        if self.max_pixels == 0 {
            return Err(Error::config("data.max_pixels", "must be at least 1"));
        }
        SplitOptions { valid_pct: self.split.valid_pct, test_pct: self.split.test_pct, seed: 0 }.validate()?;
        check_workers(self.loader.workers, "data.loader.workers")
    }
}
