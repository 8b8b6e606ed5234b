//! What training measured: one row per epoch, and the report of a whole run.

use serde::{Deserialize, Serialize};

use crate::metrics::EvalReport;
use crate::plot::chart::{Chart, Series, Style, XAxis};

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
    /// The task's validation metrics by name ([`EvalReport::metrics`]: `accuracy`,
    /// `error_rate`; `accuracy_multi`, `f1_micro`, …; `mae`, `rmse`, `r2`, …).
    #[serde(default)]
    pub metrics: Vec<(String, f64)>,
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
    /// The training loss of each of the epoch's steps that had one, in order (what
    /// `train_loss` averages; empty for a linear probe, which takes no steps).
    #[serde(default)]
    pub batch_losses: Vec<f32>,
}

impl EpochMetrics {
    /// The epoch's validation metrics by name: `metrics`, or — in a history written before
    /// tasks named them — the accuracy and error rate.
    pub fn named_metrics(&self) -> Vec<(String, f64)> {
        if self.metrics.is_empty() {
            return vec![("accuracy".into(), self.accuracy), ("error_rate".into(), self.error_rate)];
        }
        self.metrics.clone()
    }
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

/// The loss chart of `history` (fastai's `plot_loss`): the training loss of every step as a
/// thin line (step `i` of `n` in epoch `e` at `e - 1 + (i + 1) / n`), and each epoch's mean
/// training loss and validation loss at its end.
pub(crate) fn loss_chart(history: &[EpochMetrics]) -> Chart {
    let epochs = history.last().map_or(1, |m| m.epoch);
    let per_step = history.iter().flat_map(|m| {
        let n = m.batch_losses.len() as f64;
        m.batch_losses.iter().enumerate().map(move |(i, &l)| ((m.epoch - 1) as f64 + (i + 1) as f64 / n, l as f64))
    });
    let per_epoch = |f: fn(&EpochMetrics) -> f64| history.iter().map(|m| (m.epoch as f64, f(m))).collect();
    let blue = plotters::style::RGBColor(31, 119, 180);
    let series = vec![
        Series {
            name: "train loss, each step".into(),
            points: per_step.collect(),
            color: blue,
            style: Style::Line { width: 1, opacity: 0.35 },
        },
        Series {
            name: "train loss, epoch mean".into(),
            points: per_epoch(|m| m.train_loss),
            color: blue,
            style: Style::LineDots,
        },
        Series {
            name: "valid loss".into(),
            points: per_epoch(|m| m.valid_loss),
            color: plotters::style::RGBColor(255, 127, 14),
            style: Style::LineDots,
        },
    ];
    Chart {
        title: "Loss".into(),
        x_caption: "epoch".into(),
        y_caption: "loss".into(),
        x_axis: XAxis::Epochs(epochs),
        series,
        mark: None,
        y_ticks: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(epoch: usize, batch_losses: Vec<f32>) -> EpochMetrics {
        EpochMetrics {
            epoch,
            train_loss: 0.5,
            valid_loss: 0.4,
            accuracy: 0.9,
            error_rate: 0.1,
            metrics: Vec::new(),
            seconds: 1.0,
            lr: 1e-3,
            frozen: false,
            partial: false,
            batch_losses,
        }
    }

    #[test]
    fn the_loss_chart_places_each_step_at_its_fraction_of_the_epoch() {
        let c = loss_chart(&[epoch(1, vec![0.9, 0.7, 0.6, 0.5]), epoch(2, vec![0.4, 0.3])]);
        assert_eq!(c.x_axis, XAxis::Epochs(2));
        assert_eq!(
            c.series[0].points,
            vec![
                (0.25, 0.9f32 as f64),
                (0.5, 0.7f32 as f64),
                (0.75, 0.6f32 as f64),
                (1.0, 0.5),
                (1.5, 0.4f32 as f64),
                (2.0, 0.3f32 as f64)
            ]
        );
        assert_eq!(c.series[1].points, vec![(1.0, 0.5), (2.0, 0.5)]);
        assert_eq!(c.series[2].points, vec![(1.0, 0.4), (2.0, 0.4)]);
    }

    #[test]
    fn metrics_written_before_steps_were_recorded_still_read() {
        let mut v = serde_json::to_value(epoch(1, vec![])).unwrap();
        v.as_object_mut().unwrap().remove("batch_losses");
        let m: EpochMetrics = serde_json::from_value(v).unwrap();
        assert!(m.batch_losses.is_empty());
    }
}
