//! The run folder: everything needed to reproduce, audit and use a training run.
//!
//! ```text
//! runs/exp3/
//!   config.json            the TrainConfig (reload with TrainConfig::load) + data and input info
//!   split.json             which item went to train / valid / test
//!   metrics.csv, .json     one row per epoch
//!   loss.png               train and valid loss per epoch
//!   checkpoints/best.imgclass   best weights so far (by validation loss), rewritten as it improves
//!   model.imgclass         the final bundle (the best weights)
//!   confusion.png, .csv    validation confusion matrix of the final model
//!   report.json            final validation (and test) metrics
//! ```
//! Every file is written atomically.

use std::path::{Path, PathBuf};


use super::learner::{EpochMetrics, TrainReport};
use super::TrainConfig;
use crate::data::DataSplits;
use crate::error::{Error, IoContext, Result};
use crate::export::{Bundle, BundleMeta, atomic_write};
use crate::interpret::plot::{confusion_png, line_chart};
use crate::models::Net;

/// A run folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// Its path.
    pub path: PathBuf,
}

fn json_bytes<T: serde::Serialize>(value: &T, path: &Path) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(|source| Error::Json { path: path.into(), source })
}

impl RunDir {
    /// Uses `out` when given (creating it), else the first free `runs/expN` below the current folder.
    pub fn create(out: Option<&Path>) -> Result<RunDir> {
        let path = match out {
            Some(p) => p.to_path_buf(),
            None => (1..).map(|i| PathBuf::from(format!("runs/exp{i}"))).find(|p| !p.exists()).unwrap(),
        };
        std::fs::create_dir_all(&path).at(&path)?;
        Ok(RunDir { path })
    }

    /// The final bundle's path.
    pub fn model_path(&self) -> PathBuf {
        self.path.join("model.imgclass")
    }

    /// The best checkpoint's path.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.path.join("checkpoints").join("best.imgclass")
    }

    /// The confusion matrix picture's path.
    pub fn confusion_path(&self) -> PathBuf {
        self.path.join("confusion.png")
    }

    /// Writes `config.json` and `split.json`.
    pub fn write_start(&self, config: &TrainConfig, data: &DataSplits) -> Result<()> {
        let cfg_path = self.path.join("config.json");
        let doc = serde_json::json!({
            "train": config.to_json(),
            "data": {
                "source": data.record.source,
                "idx_fingerprints": data.fingerprints.iter().map(|f| format!("{f:016x}")).collect::<Vec<_>>(),
                "classes": data.classes,
                "train_images": data.train.len(),
                "valid_images": data.valid.len(),
                "test_images": data.test.as_ref().map_or(0, |t| t.len()),
                "skipped": data.skipped,
            },
            "preprocess": data.preprocess,
        });
        atomic_write(&cfg_path, &json_bytes(&doc, &cfg_path)?)?;
        let split_path = self.path.join("split.json");
        atomic_write(&split_path, &json_bytes(&data.record, &split_path)?)
    }

    /// Rewrites `metrics.csv`, `metrics.json` and `loss.png` from the history so far.
    pub fn write_metrics(&self, history: &[EpochMetrics]) -> Result<()> {
        let mut csv = String::from("epoch,train_loss,valid_loss,accuracy,error_rate,seconds,lr,frozen\n");
        for m in history {
            csv.push_str(&format!(
                "{},{:.6},{:.6},{:.6},{:.6},{:.2},{:.3e},{}\n",
                m.epoch, m.train_loss, m.valid_loss, m.accuracy, m.error_rate, m.seconds, m.lr, m.frozen
            ));
        }
        atomic_write(&self.path.join("metrics.csv"), csv.as_bytes())?;
        let json_path = self.path.join("metrics.json");
        atomic_write(&json_path, &json_bytes(&history, &json_path)?)?;
        let train: Vec<f64> = history.iter().map(|m| m.train_loss).collect();
        let valid: Vec<f64> = history.iter().map(|m| m.valid_loss).collect();
        line_chart("Loss per epoch", "epoch", &[("train loss", &train, [31, 119, 180]), ("valid loss", &valid, [255, 127, 14])])
            .save_png(&self.path.join("loss.png"))
    }

    /// Writes the best-so-far checkpoint.
    pub fn write_checkpoint(&self, net: &Net, meta: &BundleMeta) -> Result<()> {
        Bundle::write(&self.checkpoint_path(), net, meta)
    }

    /// Writes the final bundle, confusion matrix (PNG, CSV) and `report.json`.
    pub fn write_end(&self, net: &Net, meta: &BundleMeta, report: &TrainReport) -> Result<()> {
        Bundle::write(&self.model_path(), net, meta)?;
        let confusion = &report.final_metrics.confusion;
        let title = format!("Validation: accuracy {:.2}%", 100.0 * report.final_metrics.accuracy);
        confusion_png(confusion, &title).save_png(&self.confusion_path())?;
        atomic_write(&self.path.join("confusion.csv"), confusion.to_csv().as_bytes())?;
        let report_path = self.path.join("report.json");
        atomic_write(&report_path, &json_bytes(report, &report_path)?)
    }
}
