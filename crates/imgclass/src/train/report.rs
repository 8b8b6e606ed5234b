//! What training measured: one row per epoch, and the report of a whole run.

use serde::{Deserialize, Serialize};

use crate::metrics::EvalReport;

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
    /// Whether training was interrupted before the epoch's last step (a resumed run trains the
    /// rest of it).
    #[serde(default)]
    pub partial: bool,
}

/// How a call to [`crate::train::Learner::fit`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Ending {
    /// Every epoch of every phase ran.
    Completed,
    /// An interrupt (Ctrl-C) stopped it after a step; the run can be resumed.
    Interrupted,
    /// The validation loss stopped improving for `fit.patience` epochs.
    EarlyStopped,
    /// The training loss became NaN or infinite.
    Diverged,
}

/// The outcome of [`crate::train::Learner::fit`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    /// One entry per epoch trained, the interrupted one last (marked `partial`).
    pub history: Vec<EpochMetrics>,
    /// The epoch whose weights were kept (best validation loss); 0 when none finished.
    pub best_epoch: usize,
    /// Validation metrics of the kept weights.
    pub final_metrics: EvalReport,
    /// Test metrics of the kept weights, when the data has a test split.
    pub test_metrics: Option<EvalReport>,
    /// How training ended.
    pub ending: Ending,
    /// Total wall time in seconds, over every session of the run.
    pub seconds: f64,
}

impl TrainReport {
    /// Whether training stopped on an interrupt (the run can be resumed).
    pub fn interrupted(&self) -> bool {
        self.ending == Ending::Interrupted
    }

    /// Whether early stopping ended training.
    pub fn early_stopped(&self) -> bool {
        self.ending == Ending::EarlyStopped
    }

    /// Whether the training loss became infinite or NaN (the learning rate is too high); the
    /// kept weights are those of the best epoch before that.
    pub fn diverged(&self) -> bool {
        self.ending == Ending::Diverged
    }
}
