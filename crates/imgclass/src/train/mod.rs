//! Training: the [`Learner`] that fits a network to its data as a
//! [`TrainConfig`](crate::config::TrainConfig) says, the run folder it writes (and resumes
//! from), the learning-rate finder, and the [`Callback`] through which a front end shows
//! progress.
//!
//! Inside, one module per step of a run: `phases` cuts it into frozen and unfrozen phases with
//! their learning rates, `trainer` runs the epochs, `trainee` is what one step trains (the
//! network, or the head on cached features), `probe` fits that head by logistic regression, `loss` is the training objective, `checkpoint` saves where training stands,
//! `run_dir` writes the run folder, `report` holds what was measured, `state` what a learner
//! holds.

mod balance;
mod checkpoint;
mod learner;
mod loss;
mod lr_find;
mod phases;
mod probe;
mod report;
mod run_dir;
mod state;
mod trainee;
mod trainer;

pub use learner::Learner;
pub use lr_find::{LrFind, LrFindConfig, Smoother};
pub(crate) use report::loss_chart;
pub use report::{Ending, EpochMetrics, TrainReport};
pub use run_dir::{Existing, RunDir, next_free_run};

/// Receives progress events from training. Every method has an empty default.
pub trait Callback {
    /// Training of epoch `epoch` (1-based) of `epochs` starts, with `batches` steps to run.
    fn epoch_start(&mut self, _epoch: usize, _epochs: usize, _batches: usize) {}
    /// A training step finished.
    fn batch_end(&mut self, _step: usize, _loss: f32, _lr: f64) {}
    /// Validation of the epoch starts.
    fn validating(&mut self) {}
    /// An epoch finished (or was interrupted, `metrics.partial`); `improved` when its
    /// validation loss is the best so far.
    fn epoch_end(&mut self, _metrics: &EpochMetrics, _improved: bool) {}
    /// A note for the user (early stop, interruption, an unreadable file).
    fn message(&mut self, _text: &str) {}
}

/// A callback that shows nothing.
pub struct Silent;

impl Callback for Silent {}
