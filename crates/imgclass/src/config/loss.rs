//! The training objective: cross-entropy, with label smoothing and the batch mixing that
//! fastai users know as `MixUp` and `CutMix` callbacks. Validation and test losses stay the
//! plain cross-entropy, so they compare across runs.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What the training loss is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct LossConfig {
    /// Label smoothing ε (Szegedy et al. 2016): the target puts 1 − ε on the label and ε
    /// spread evenly over every class (fastai's `LabelSmoothingCrossEntropy`, PyTorch's
    /// `label_smoothing`). 0 is plain cross-entropy; 0.1 is the usual value.
    pub label_smoothing: f64,
    /// Training batches blended with a shuffled copy of themselves.
    pub mix: Mix,
}

/// Blending of training batches, with the targets blended in the same proportion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Mix {
    /// No blending.
    #[default]
    None,
    /// mixup (Zhang et al. 2018): each image becomes λ·itself + (1 − λ)·another, λ drawn per
    /// image from Beta(α, α) and kept ≥ ½ (fastai's `MixUp`, α 0.4).
    Mixup {
        /// Beta's α: small keeps images nearly whole.
        alpha: f64,
    },
    /// CutMix (Yun et al. 2019): a random rectangle of each image is replaced by the same
    /// rectangle of another, its area fraction 1 − λ with λ drawn per batch from Beta(α, α)
    /// (fastai's `CutMix`, α 1).
    Cutmix {
        /// Beta's α.
        alpha: f64,
    },
}

impl Mix {
    /// fastai's mixup: α 0.4.
    pub const MIXUP: Mix = Mix::Mixup { alpha: 0.4 };
    /// fastai's CutMix: α 1.
    pub const CUTMIX: Mix = Mix::Cutmix { alpha: 1.0 };
}

impl LossConfig {
    /// Checks ε in `[0, 1)` and α > 0.
    pub(crate) fn validate(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(Error::config(
                "loss.label_smoothing",
                format!("must be in [0, 1), not {}", self.label_smoothing),
            ));
        }
        match self.mix {
            Mix::Mixup { alpha } | Mix::Cutmix { alpha } if !(alpha > 0.0 && alpha.is_finite()) => {
                Err(Error::config("loss.mix", format!("needs α, a positive number, not {alpha}")))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_of_one_and_a_zero_alpha_are_refused_with_the_field_named() {
        let bad = LossConfig { label_smoothing: 1.0, ..LossConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("loss.label_smoothing"));
        let bad = LossConfig { mix: Mix::Mixup { alpha: 0.0 }, ..LossConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("loss.mix"));
        let good = LossConfig { label_smoothing: 0.1, mix: Mix::CUTMIX };
        assert!(good.validate().is_ok());
    }

    #[test]
    fn the_mix_is_saved_by_name_with_its_alpha() {
        let json = serde_json::to_string(&LossConfig { label_smoothing: 0.1, mix: Mix::MIXUP }).unwrap();
        assert_eq!(json, r#"{"label_smoothing":0.1,"mix":{"mixup":{"alpha":0.4}}}"#);
        assert_eq!(serde_json::from_str::<LossConfig>(&json).unwrap().mix, Mix::MIXUP);
    }
}
