//! The network of a run: its architecture and the weights it starts from.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::models::Arch;
use crate::models::pretrained::{efficientnet_lite_weights, require_file};

/// The network and its starting weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ModelConfig {
    /// Architecture and its hyper-parameters.
    pub arch: Arch,
    /// The weights the body starts from (the head is always new).
    pub weights: Weights,
}

/// Where a network's starting weights come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Weights {
    /// Random initialisation.
    #[default]
    Random,
    /// The architecture's published ImageNet weights (efficientnet_lite0/1/2: the cached
    /// checkpoint, see `imgclass weights fetch`).
    Pretrained,
    /// A checkpoint file: the EfficientNet-Lite checkpoint of the architecture, or a torchvision
    /// ResNet `state_dict`.
    File(PathBuf),
}

impl ModelConfig {
    /// Whether the body starts from pretrained weights.
    pub fn starts_pretrained(&self) -> bool {
        self.weights != Weights::Random
    }

    /// The weights file the body starts from, checked: a given file must exist, the published
    /// checkpoint must also have its published SHA-256. `None` for random weights.
    pub fn weights_file(&self) -> Result<Option<PathBuf>> {
        match &self.weights {
            Weights::Random => Ok(None),
            Weights::Pretrained => match self.arch.lite_variant() {
                Some(variant) => efficientnet_lite_weights(variant).map(Some),
                None => Err(Error::config(
                    "model.weights",
                    "are fetched for efficientnet_lite0, efficientnet_lite1 and efficientnet_lite2 only; for a ResNet give torchvision weights in a file",
                )),
            },
            Weights::File(path) => require_file(path, self.arch.name()).map(|()| Some(path.clone())),
        }
    }

    /// Checks that pretrained weights fit the architecture and can be found.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.starts_pretrained() && !self.arch.is_backbone() {
            return Err(Error::config_see(
                "model.weights",
                &["model.arch"],
                "apply to resnet18, resnet34, efficientnet_lite0, efficientnet_lite1 and efficientnet_lite2 only",
            ));
        }
        self.weights_file().map(drop)
    }
}
