//! What a run's model answers (its task) and how it learns it beyond cross-entropy: where the
//! targets are in a labels CSV, the multi-label threshold, the regression loss and fastai's
//! `y_range`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::values::ParseValueError;
use crate::data::targets::{TargetColumns, TaskKind};
use crate::error::{Error, Result};

/// The task of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskConfig {
    /// The task; `None` infers it from the labels (a labels CSV whose rows hold several
    /// labels is multi-label; everything else single-label). A run saves the task it found.
    pub kind: Option<TaskKind>,
    /// Where a labels CSV holds the targets beyond `path,label`.
    pub columns: TargetColumns,
    /// Multi-label: a class is predicted when its probability reaches this (fastai's
    /// `thresh`, 0.5).
    pub threshold: f64,
    /// The loss of a regression or count model.
    pub loss: ValueLoss,
    /// Regression: predictions squashed into `[low, high]` by a scaled sigmoid (fastai's
    /// `y_range`); `None` leaves them unbounded.
    pub y_range: Option<YRange>,
    /// Multi-label: after training, replace `threshold` by the one that maximizes the
    /// validation F1 (one for every class, or one per class); saved in the bundle.
    pub tune_threshold: Option<ThresholdTuning>,
}

/// How a multi-label model's threshold is tuned on the validation images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ThresholdTuning {
    /// One threshold for every class, maximizing the micro-averaged F1.
    Global,
    /// A threshold per class, each maximizing its class's F1.
    PerClass,
}

impl Default for TaskConfig {
    fn default() -> Self {
        Self {
            kind: None,
            columns: TargetColumns::default(),
            threshold: 0.5,
            loss: ValueLoss::Auto,
            y_range: None,
            tune_threshold: None,
        }
    }
}

/// The loss of a model that predicts numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ValueLoss {
    /// Mean squared error for regression, Poisson for counts.
    #[default]
    Auto,
    /// Mean squared error (of the standardized targets).
    Mse,
    /// Mean absolute error (robust to outlying targets).
    L1,
    /// Huber, δ = 1 standard deviation: squared near the target, absolute beyond.
    Huber,
    /// Poisson negative log-likelihood of a predicted rate (counts only).
    Poisson,
}

impl ValueLoss {
    /// The loss `task` trains with: `Auto` resolved.
    pub fn resolve(self, task: TaskKind) -> ValueLoss {
        match (self, task) {
            (ValueLoss::Auto, TaskKind::Count) => ValueLoss::Poisson,
            (ValueLoss::Auto, _) => ValueLoss::Mse,
            (loss, _) => loss,
        }
    }
}

/// The range `LOW:HIGH` a regression's predictions are squashed into; saved as `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "(f64, f64)", into = "(f64, f64)")]
pub struct YRange {
    /// The lowest prediction.
    pub low: f64,
    /// The highest prediction.
    pub high: f64,
}

impl From<(f64, f64)> for YRange {
    fn from((low, high): (f64, f64)) -> Self {
        YRange { low, high }
    }
}

impl From<YRange> for (f64, f64) {
    fn from(r: YRange) -> Self {
        (r.low, r.high)
    }
}

impl FromStr for YRange {
    type Err = ParseValueError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let (low, high) = super::values::low_high(s).ok_or(ParseValueError::new("use LOW:HIGH, e.g. 0:360"))?;
        Ok(YRange { low, high })
    }
}

impl fmt::Display for YRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.low, self.high)
    }
}

impl TaskConfig {
    /// Checks the threshold, the range, and that the loss and range fit the task (when the
    /// task is known; the data's task is checked again once it is read).
    pub(crate) fn validate(&self) -> Result<()> {
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(Error::config("task.threshold", format!("must be in (0, 1), not {}", self.threshold)));
        }
        if let Some(YRange { low, high }) = self.y_range
            && !(low.is_finite() && high.is_finite() && low < high)
        {
            return Err(Error::config("task.y_range", "LOW:HIGH needs LOW < HIGH, both finite"));
        }
        self.kind.map_or(Ok(()), |kind| self.validate_for(kind))
    }

    /// Checks that the loss and the range apply to `kind`.
    pub(crate) fn validate_for(&self, kind: TaskKind) -> Result<()> {
        let numbers = matches!(kind, TaskKind::Regression | TaskKind::Count);
        match self.loss {
            ValueLoss::Auto => {}
            ValueLoss::Poisson if kind != TaskKind::Count => {
                return Err(Error::config_see("task.loss", &["task.kind"], "poisson is for counts"));
            }
            _ if !numbers => {
                return Err(Error::config_see(
                    "task.loss",
                    &["task.kind"],
                    "applies to regression and counts; classes train with cross-entropy",
                ));
            }
            _ => {}
        }
        if self.tune_threshold.is_some() && kind != TaskKind::MultiLabel {
            return Err(Error::config_see("task.tune_threshold", &["task.kind"], "applies to multi-label only"));
        }
        if self.y_range.is_some() && kind != TaskKind::Regression {
            return Err(Error::config_see("task.y_range", &["task.kind"], "applies to regression only"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loss_or_range_that_does_not_fit_the_task_is_refused_naming_the_field() {
        let c = TaskConfig { loss: ValueLoss::Poisson, ..TaskConfig::default() };
        assert!(c.validate_for(TaskKind::Count).is_ok());
        assert!(c.validate_for(TaskKind::Regression).unwrap_err().to_string().contains("task.loss"));
        let c = TaskConfig { loss: ValueLoss::L1, ..TaskConfig::default() };
        assert!(c.validate_for(TaskKind::MultiLabel).unwrap_err().to_string().contains("task.loss"));
        let c = TaskConfig { y_range: Some(YRange { low: 0.0, high: 360.0 }), ..TaskConfig::default() };
        assert!(c.validate_for(TaskKind::Regression).is_ok());
        assert!(c.validate_for(TaskKind::Count).unwrap_err().to_string().contains("task.y_range"));
        let c = TaskConfig { threshold: 1.0, ..TaskConfig::default() };
        assert!(c.validate().unwrap_err().to_string().contains("task.threshold"));
    }

    #[test]
    fn auto_is_squared_error_for_numbers_and_poisson_for_counts() {
        assert_eq!(ValueLoss::Auto.resolve(TaskKind::Regression), ValueLoss::Mse);
        assert_eq!(ValueLoss::Auto.resolve(TaskKind::Count), ValueLoss::Poisson);
        assert_eq!(ValueLoss::Huber.resolve(TaskKind::Count), ValueLoss::Huber);
    }

    #[test]
    fn a_y_range_reads_low_high_and_is_saved_as_a_pair() {
        let r: YRange = "0:360".parse().unwrap();
        assert_eq!((r.low, r.high), (0.0, 360.0));
        assert_eq!(r.to_string().parse::<YRange>(), Ok(r));
        assert_eq!(serde_json::to_value(r).unwrap(), serde_json::json!([0.0, 360.0]));
        assert!("5".parse::<YRange>().is_err());
    }
}
