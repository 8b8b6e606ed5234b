//! The run folder: everything needed to reproduce, audit, resume and use a training run.
//!
//! ```text
//! runs/exp3/
//!   config.json            the TrainConfig (under "train") + data and input info
//!   split.json             which item went to train / valid / test
//!   metrics.csv, .json     one row per epoch
//!   loss.png               train and valid loss per epoch
//!   checkpoints/best.imgclass   best weights of a finished epoch (by validation loss)
//!   checkpoints/resume.ckpt     where training stands: what `--resume` continues from
//!   model.imgclass         the final bundle (the best weights)
//!   confusion.png, .csv    validation confusion matrix of the final model
//!   report.json            final validation (and test) metrics
//! ```
//! Every file is written atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::report::{EpochMetrics, TrainReport};
use crate::bundle::{Bundle, BundleMeta};
use crate::config::TrainConfig;
use crate::data::{DataSplits, Skipped, SplitRecord};
use crate::error::{Error, IoContext, Result};
use crate::models::Net;
use crate::plot::{confusion_png, line_chart};
use crate::transforms::Preprocess;
use crate::util::csv::csv_text;
use crate::util::fs::{atomic_write, read_json, write_json};

/// A run folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

/// `config.json` as written.
#[derive(Serialize)]
struct ConfigDoc<'a> {
    train: &'a TrainConfig,
    data: DataDoc<'a>,
    preprocess: &'a Preprocess,
}

#[derive(Serialize)]
struct DataDoc<'a> {
    source: &'a str,
    idx_fingerprints: Vec<String>,
    classes: &'a [String],
    train_images: usize,
    valid_images: usize,
    test_images: usize,
    skipped: &'a [Skipped],
}

/// `config.json` as read back: only the config matters.
#[derive(Deserialize)]
struct SavedConfig {
    train: TrainConfig,
}

impl RunDir {
    /// Uses `out` when given (creating it), else the first free `runs/expN` below the current folder.
    pub fn create(out: Option<&Path>) -> Result<RunDir> {
        let path = match out {
            Some(p) => p.to_path_buf(),
            None => (1..).map(|i| PathBuf::from(format!("runs/exp{i}"))).find(|p| !p.exists()).unwrap_or_default(),
        };
        std::fs::create_dir_all(&path).at(&path)?;
        Ok(RunDir { path })
    }

    /// An existing run folder, to resume: it must hold the run's `config.json`.
    pub fn open(path: &Path) -> Result<RunDir> {
        let dir = RunDir { path: path.to_path_buf() };
        if !dir.config_path().is_file() {
            return Err(Error::Resume {
                path: path.into(),
                message:
                    "not a run folder (no config.json); give the folder `imgclass train` wrote (--out, or runs/expN)"
                        .into(),
            });
        }
        Ok(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The final bundle's path.
    pub fn model_path(&self) -> PathBuf {
        self.path.join("model.imgclass")
    }

    /// The best checkpoint's path.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.path.join("checkpoints").join("best.imgclass")
    }

    /// The resume checkpoint's path.
    pub fn resume_path(&self) -> PathBuf {
        self.path.join("checkpoints").join("resume.ckpt")
    }

    /// The confusion matrix picture's path.
    pub fn confusion_path(&self) -> PathBuf {
        self.path.join("confusion.png")
    }

    fn config_path(&self) -> PathBuf {
        self.path.join("config.json")
    }

    fn split_path(&self) -> PathBuf {
        self.path.join("split.json")
    }

    /// The run's training config, as saved when it started.
    pub fn read_config(&self) -> Result<TrainConfig> {
        Ok(read_json::<SavedConfig>(&self.config_path())?.train)
    }

    /// The run's split, as saved when it started.
    pub(crate) fn read_split(&self) -> Result<SplitRecord> {
        read_json(&self.split_path())
    }

    /// Writes `config.json` and `split.json`.
    pub(crate) fn write_start(&self, config: &TrainConfig, data: &DataSplits) -> Result<()> {
        let doc = ConfigDoc {
            train: config,
            data: DataDoc {
                source: &data.record.source,
                idx_fingerprints: data.fingerprints.iter().map(|f| format!("{f:016x}")).collect(),
                classes: &data.classes,
                train_images: data.train.len(),
                valid_images: data.valid.len(),
                test_images: data.test.as_ref().map_or(0, |t| t.len()),
                skipped: &data.skipped,
            },
            preprocess: &data.preprocess,
        };
        write_json(&self.config_path(), &doc)?;
        write_json(&self.split_path(), &data.record)
    }

    /// Rewrites `metrics.csv`, `metrics.json` and `loss.png` from the history so far.
    pub(crate) fn write_metrics(&self, history: &[EpochMetrics]) -> Result<()> {
        let header = "epoch,train_loss,valid_loss,accuracy,error_rate,seconds,lr,frozen,partial".split(',');
        let rows = history.iter().map(|m| {
            let (f6, lr) = (|v: f64| format!("{v:.6}"), format!("{:.3e}", m.lr));
            let (epoch, seconds) = (m.epoch.to_string(), format!("{:.2}", m.seconds));
            let (loss, valid, acc, err) = (f6(m.train_loss), f6(m.valid_loss), f6(m.accuracy), f6(m.error_rate));
            [epoch, loss, valid, acc, err, seconds, lr, m.frozen.to_string(), m.partial.to_string()]
        });
        let csv = csv_text(std::iter::once(header.map(String::from).collect::<Vec<_>>()).chain(rows.map(Vec::from)));
        atomic_write(&self.path.join("metrics.csv"), csv.as_bytes())?;
        write_json(&self.path.join("metrics.json"), history)?;
        let train: Vec<f64> = history.iter().map(|m| m.train_loss).collect();
        let valid: Vec<f64> = history.iter().map(|m| m.valid_loss).collect();
        let series = [("train loss", &train[..], [31, 119, 180]), ("valid loss", &valid[..], [255, 127, 14])];
        line_chart("Loss per epoch", "epoch", &series).save_png(&self.path.join("loss.png"))
    }

    /// Writes the best-so-far checkpoint.
    pub(crate) fn write_checkpoint(&self, net: &Net, meta: &BundleMeta) -> Result<()> {
        Bundle::write(&self.checkpoint_path(), net, meta)
    }

    /// Writes the final bundle, confusion matrix (PNG, CSV) and `report.json`.
    pub(crate) fn write_end(&self, net: &Net, meta: &BundleMeta, report: &TrainReport) -> Result<()> {
        Bundle::write(&self.model_path(), net, meta)?;
        let confusion = &report.final_metrics.confusion;
        let title = format!("Validation: accuracy {:.2}%", 100.0 * report.final_metrics.accuracy);
        confusion_png(confusion, &title).save_png(&self.confusion_path())?;
        atomic_write(&self.path.join("confusion.csv"), confusion.to_csv().as_bytes())?;
        write_json(&self.path.join("report.json"), report)
    }
}
