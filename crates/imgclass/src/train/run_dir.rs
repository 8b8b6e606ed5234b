//! The run folder: everything needed to reproduce, audit, resume and use a training run.
//!
//! ```text
//! runs/exp3/
//!   config.json            the TrainConfig (under "train") + data and input info
//!   split.json             which item went to train / valid / test
//!   metrics.csv, .json     one row per epoch
//!   loss.png               training loss per step, train and valid loss per epoch
//!   checkpoints/best.imgclass   best weights of a finished epoch (by validation loss)
//!   checkpoints/resume.ckpt     where training stands: what `--resume` continues from
//!   model.imgclass         the final bundle (the best weights)
//!   confusion.png, .csv    validation confusion matrix of the final model (one label per image)
//!   scatter.png            predicted vs actual on the validation images (numbers)
//!   residuals.png          the histogram of their residuals (numbers)
//!   report.json            final validation (and test) metrics
//! ```
//! Every file is written atomically.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::report::{EpochMetrics, TrainReport, loss_chart};
use crate::bundle::{Bundle, BundleMeta};
use crate::config::TrainConfig;
use crate::data::{DataSplits, Skipped, SplitRecord};
use crate::error::{Error, IoContext, Result};
use crate::metrics::TaskMetrics;
use crate::models::Net;
use crate::plot::{confusion_png, save_value_charts};
use crate::transforms::Preprocess;
use crate::util::csv::csv_table;
use crate::util::fs::{atomic_write, read_json, write_json};

/// Every file a training run writes: what [`Existing::Overwrite`] deletes (and nothing else:
/// `lr_find.*`, `clean.csv` or a user's own files stay). The first [`MARKS`] of them mark a
/// folder as holding a run ([`RUN_MARKS`]).
const RUN_FILES: [&str; 15] = [
    "model.imgclass",
    "checkpoints/resume.ckpt",
    "checkpoints/best.imgclass",
    "config.json",
    "split.json",
    "metrics.csv",
    "metrics.json",
    "loss.png",
    "confusion.png",
    "confusion.csv",
    "report.json",
    "report.html",
    "top_losses.png",
    "scatter.png",
    "residuals.png",
];

/// How many of [`RUN_FILES`], from the first, mark a folder as holding a run.
const MARKS: usize = 4;

/// The files of a run that mark a folder as holding one: a fresh run refuses such a folder
/// unless told to overwrite it.
const RUN_MARKS: &[&str] = RUN_FILES.split_at(MARKS).0;

/// The advisory lock file of a run folder: held open and locked while a process writes the run.
const LOCK_FILE: &str = ".lock";

/// What [`RunDir::create`] does with a folder that already holds a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Existing {
    /// Refuse it ([`Error::RunExists`]): its model and checkpoints would mix with the new run's.
    #[default]
    Refuse,
    /// Delete the earlier run's files first (only the files a training run writes).
    Overwrite,
    /// Keep them and add this command's own files beside them (`lr_find.png`, `clean.csv`):
    /// for commands that write no model.
    Keep,
}

/// A run folder. One made by [`RunDir::create`] (or resumed) holds the folder's lock, shared
/// by its clones, until the last of them is dropped: a second process is refused the folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
    lock: Option<Arc<File>>,
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
    /// Uses `out` when given (creating it), else the first free `runs/expN` below the current
    /// folder; locks it, then deals with an earlier run in it as `existing` says.
    pub fn create(out: Option<&Path>, existing: Existing) -> Result<RunDir> {
        let path = match out {
            Some(p) => {
                std::fs::create_dir_all(p).at(p)?;
                p.to_path_buf()
            }
            None => next_free_run(Path::new("runs"))?,
        };
        let dir = RunDir { path, lock: None }.lock()?;
        match existing {
            Existing::Refuse => {
                if let Some(file) = RUN_MARKS.iter().copied().find(|f| dir.path.join(f).is_file()) {
                    return Err(Error::RunExists { path: dir.path, file });
                }
            }
            Existing::Overwrite => dir.clear()?,
            Existing::Keep => {}
        }
        Ok(dir)
    }

    /// An existing run folder, to read or resume (resuming locks it): it must hold the run's
    /// `config.json`.
    pub fn open(path: &Path) -> Result<RunDir> {
        let dir = RunDir { path: path.to_path_buf(), lock: None };
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

    /// The folder, locked for this process (already locked: as it is).
    pub(crate) fn lock(mut self) -> Result<RunDir> {
        if self.lock.is_some() {
            return Ok(self);
        }
        let path = self.path.join(LOCK_FILE);
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path).at(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(Error::RunInUse { path: self.path }),
            Err(TryLockError::Error(e)) => return Err(e).at(path),
        }
        self.lock = Some(Arc::new(file));
        Ok(self)
    }

    /// Deletes the files an earlier training run left (each one a run writes; no other file).
    fn clear(&self) -> Result<()> {
        for name in RUN_FILES {
            let path = self.path.join(name);
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() || m.is_symlink()) {
                std::fs::remove_file(&path).at(&path)?;
            }
        }
        Ok(())
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
    pub(crate) fn checkpoint_path(&self) -> PathBuf {
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

    fn history_path(&self) -> PathBuf {
        self.path.join("metrics.json")
    }

    fn report_path(&self) -> PathBuf {
        self.path.join("report.json")
    }

    /// Whether the run has written epoch rows (`metrics.json`): one epoch has ended.
    pub fn has_history(&self) -> bool {
        self.history_path().is_file()
    }

    /// The epoch rows written so far (`metrics.json`).
    pub fn read_history(&self) -> Result<Vec<EpochMetrics>> {
        read_json(&self.history_path())
    }

    /// `report.json` as JSON once the run has ended; `None` while it trains, or after a kill.
    pub fn read_report(&self) -> Result<Option<serde_json::Value>> {
        let path = self.report_path();
        path.is_file().then(|| read_json(&path)).transpose()
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
        let names: Vec<String> =
            history.first().map(|m| m.named_metrics().into_iter().map(|(n, _)| n).collect()).unwrap_or_default();
        let mut header = vec!["epoch", "train_loss", "valid_loss"];
        header.extend(names.iter().map(String::as_str));
        header.extend(["seconds", "lr", "frozen", "partial"]);
        let rows = history.iter().map(|m| {
            let mut row = vec![m.epoch.to_string(), format!("{:.6}", m.train_loss), format!("{:.6}", m.valid_loss)];
            row.extend(m.named_metrics().into_iter().map(|(_, v)| format!("{v:.6}")));
            row.extend([
                format!("{:.2}", m.seconds),
                format!("{:.3e}", m.lr),
                m.frozen.to_string(),
                m.partial.to_string(),
            ]);
            row
        });
        let csv = csv_table(&header, rows);
        atomic_write(&self.path.join("metrics.csv"), csv.as_bytes())?;
        write_json(&self.history_path(), history)?;
        loss_chart(history).save_png(&self.path.join("loss.png"))
    }

    /// Writes the best-so-far checkpoint.
    pub(crate) fn write_checkpoint(&self, net: &Net, meta: &BundleMeta) -> Result<()> {
        Bundle::write(&self.checkpoint_path(), net, meta)
    }

    /// Writes the final bundle, the validation pictures (the confusion matrix as PNG and CSV
    /// for one label; the scatter plot and residual histogram for numbers) and `report.json`.
    pub(crate) fn write_end(&self, net: &Net, meta: &BundleMeta, report: &TrainReport) -> Result<()> {
        Bundle::write(&self.model_path(), net, meta)?;
        if let Some(task) = &report.final_metrics.task {
            if let TaskMetrics::Values(m) = task {
                save_value_charts(m, "validation", &self.path.join("scatter.png"), &self.path.join("residuals.png"))?;
            }
            return write_json(&self.report_path(), report);
        }
        let confusion = &report.final_metrics.confusion;
        let title = format!("Validation: accuracy {:.2}%", 100.0 * report.final_metrics.accuracy);
        confusion_png(confusion, &title).save_png(&self.confusion_path())?;
        atomic_write(&self.path.join("confusion.csv"), confusion.to_csv().as_bytes())?;
        write_json(&self.report_path(), report)
    }
}

/// Creates the first `parent/expN` that does not exist yet (and `parent` when missing): the
/// folder a run gets when none is named. `create_dir`, not a test then a create: two runs
/// started at once get two folders.
pub fn next_free_run(parent: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(parent).at(parent)?;
    let mut i = 1u64;
    loop {
        let path = parent.join(format!("exp{i}"));
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => i += 1,
            Err(e) => return Err(e).at(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_locked_by_a_run_is_refused_to_another_until_the_run_ends() {
        let t = tempfile::tempdir().unwrap();
        let first = RunDir::create(Some(t.path()), Existing::Refuse).unwrap();
        let clone = first.clone();
        drop(first);
        let e = RunDir::create(Some(t.path()), Existing::Keep).unwrap_err();
        assert_eq!(e.to_string(), format!("{} is in use by another imgclass run", t.path().display()));
        drop(clone);
        RunDir::create(Some(t.path()), Existing::Keep).unwrap();
    }

    #[test]
    fn a_fresh_run_refuses_an_earlier_runs_folder_and_overwriting_deletes_only_run_files() {
        let t = tempfile::tempdir().unwrap();
        for f in ["model.imgclass", "checkpoints/resume.ckpt", "metrics.csv", "lr_find.png", "notes.txt"] {
            let path = t.path().join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x").unwrap();
        }
        let e = RunDir::create(Some(t.path()), Existing::Refuse).unwrap_err();
        assert!(matches!(e, Error::RunExists { file: "model.imgclass", .. }), "{e}");
        RunDir::create(Some(t.path()), Existing::Keep).unwrap();
        assert!(t.path().join("model.imgclass").is_file(), "kept");
        RunDir::create(Some(t.path()), Existing::Overwrite).unwrap();
        for (f, kept) in [("model.imgclass", false), ("checkpoints/resume.ckpt", false), ("metrics.csv", false)] {
            assert_eq!(t.path().join(f).exists(), kept, "{f}");
        }
        assert!(t.path().join("lr_find.png").is_file() && t.path().join("notes.txt").is_file());
        RunDir::create(Some(t.path()), Existing::Refuse).unwrap();
    }

    #[test]
    fn runs_without_a_folder_get_the_next_free_one_each() {
        let t = tempfile::tempdir().unwrap();
        let runs = t.path().join("runs");
        std::fs::create_dir_all(runs.join("exp1")).unwrap();
        assert_eq!(next_free_run(&runs).unwrap(), runs.join("exp2"));
        assert_eq!(next_free_run(&runs).unwrap(), runs.join("exp3"));
    }
}
