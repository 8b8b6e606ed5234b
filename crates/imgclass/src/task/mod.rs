//! What a model's outputs mean, for each task: how raw outputs become answers (softmax
//! probabilities, a sigmoid per class, numbers, counts), the loss each task trains with, and
//! the evaluation report of a split. Everything task-specific lives here, so the trainer, the
//! bundle and the commands ask the [`Task`] rather than `match` on the kind themselves.
//!
//! | task | answer from the raw output z | training loss |
//! |---|---|---|
//! | single-label | softmax(z) | cross-entropy (`train::loss`) |
//! | multi-label | σ(z) per class | binary cross-entropy |
//! | regression | z·σ + μ (or `y_range`'s low + (high − low)·σ(z)) | MSE, L1 or Huber of the standardized targets |
//! | count | μ·eᶻ (a rate) | Poisson negative log-likelihood (or as regression) |
//!
//! μ and σ are the training targets' mean and standard deviation, stored with the model, so
//! a network's outputs start near the data's scale whatever its units.

mod answer;
mod gradient;
mod loss;
mod report;
mod tune;

pub use answer::{Answer, Prediction};
pub(crate) use loss::AnswerMap;

use serde::{Deserialize, Serialize};

use crate::config::{TaskConfig, ValueLoss, YRange};
use crate::data::targets::TaskKind;
use crate::data::{DataSplits, ImageData};

/// A model's task and what training learned about its targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    kind: TaskKind,
    /// Class names, or the targets' names.
    names: Vec<String>,
    /// Multi-label: each class's threshold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    thresholds: Vec<f32>,
    /// Numbers: each target's training mean.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mean: Vec<f32>,
    /// Numbers: each target's training standard deviation (1 where the targets are constant).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    std: Vec<f32>,
    /// Regression: the range predictions are squashed into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    y_range: Option<YRange>,
    /// Numbers: the loss (resolved, never `Auto`).
    #[serde(default)]
    loss: ValueLoss,
}

impl Task {
    /// The single-label task over `classes` (what every model before tasks answered).
    pub fn single_label(classes: Vec<String>) -> Task {
        Task {
            kind: TaskKind::SingleLabel,
            names: classes,
            thresholds: Vec::new(),
            mean: Vec::new(),
            std: Vec::new(),
            y_range: None,
            loss: ValueLoss::Auto,
        }
    }

    /// The task of a run on `data` as `config` describes it, the targets' statistics taken
    /// from the training images.
    pub(crate) fn new(config: &TaskConfig, data: &DataSplits) -> Task {
        let kind = data.task();
        let mut task = Task::single_label(data.classes().to_vec());
        task.kind = kind;
        match kind {
            TaskKind::SingleLabel => {}
            TaskKind::MultiLabel => task.thresholds = vec![config.threshold as f32; task.names.len()],
            TaskKind::Regression | TaskKind::Count => {
                (task.mean, task.std) = column_stats(data.train());
                task.y_range = config.y_range;
                task.loss = config.loss.resolve(kind);
            }
        }
        task
    }

    /// The kind of task.
    pub fn kind(&self) -> TaskKind {
        self.kind
    }

    /// Class names, or the targets' names: one output each.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Multi-label: each class's threshold (empty for the other tasks).
    pub fn thresholds(&self) -> &[f32] {
        &self.thresholds
    }

    /// Numbers: the loss the model trained with.
    pub fn loss(&self) -> ValueLoss {
        self.loss
    }

    /// Numbers: each target's training mean (the baseline's prediction).
    pub fn means(&self) -> &[f32] {
        &self.mean
    }

    /// Multi-label: the same task with each class's threshold set.
    pub fn with_thresholds(mut self, thresholds: Vec<f32>) -> Task {
        if self.kind == TaskKind::MultiLabel && thresholds.len() == self.names.len() {
            self.thresholds = thresholds;
        }
        self
    }

    /// Checks that a stored task fits the model's outputs `labels` (a bundle's), with a
    /// statistic per target and a threshold in (0, 1) per class. `Err` names the field.
    pub(crate) fn validate(&self, labels: &[String]) -> Result<(), String> {
        if self.names != labels {
            return Err("task.names is not the labels".into());
        }
        let k = labels.len();
        let fits = match self.kind {
            TaskKind::SingleLabel => true,
            TaskKind::MultiLabel => self.thresholds.len() == k && self.thresholds.iter().all(|t| *t > 0.0 && *t < 1.0),
            TaskKind::Regression | TaskKind::Count => {
                self.mean.len() == k
                    && self.std.len() == k
                    && self.mean.iter().all(|m| m.is_finite())
                    && self.std.iter().all(|s| s.is_finite() && *s > 0.0)
                    && self.loss != ValueLoss::Auto
            }
        };
        if !fits {
            return Err(format!("task: the {} task's thresholds or target statistics do not fit", self.kind.name()));
        }
        Ok(())
    }

    /// Whether the task has one class per image.
    pub fn is_single_label(&self) -> bool {
        self.kind == TaskKind::SingleLabel
    }
}

/// The mean and standard deviation of each target column of `data` (the standard deviation 1
/// for a constant column, so standardizing never divides by 0).
fn column_stats(data: &ImageData) -> (Vec<f32>, Vec<f32>) {
    let (n, k) = (data.len(), data.target_width());
    let column = |c: usize| (0..n).map(move |i| f64::from(data.targets(i)[c]));
    (0..k)
        .map(|c| {
            let mean = column(c).sum::<f64>() / n.max(1) as f64;
            let var = column(c).map(|v| (v - mean).powi(2)).sum::<f64>() / n.max(1) as f64;
            let std = if var > 1e-12 { var.sqrt() } else { 1.0 };
            (mean as f32, std as f32)
        })
        .unzip()
}
