//! Model architectures, one per file, and the [`Arch`] config that names and builds them.
//!
//! [`Arch`] is what the CLI's `--arch` chooses and what a bundle stores; [`Net`] is the
//! built network, an enum over the architectures so training and inference code is written
//! once for all of them.

pub mod activation;
pub mod cnn;
pub mod dense;
pub mod efficientnet;
pub mod pretrained;
pub mod resnet;
pub mod transfer;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use activation::Activation;
pub use cnn::{Cnn, CnnConfig, Padding, Pool};
pub use dense::{Mlp, MlpConfig};
pub use efficientnet::EfficientNetLite;
pub use resnet::{ResNet, ResNetConfig};
pub use transfer::trainable_params;

use crate::error::{Error, Result};

/// The architectures by name, without their hyper-parameters (what `--arch` chooses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "clap", value(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ArchKind {
    /// Logistic regression.
    Logreg,
    /// Multi-layer perceptron.
    Mlp,
    /// Convolutional network.
    Cnn,
    /// ResNet-18.
    Resnet18,
    /// ResNet-34.
    Resnet34,
    /// EfficientNet-Lite0.
    #[cfg_attr(feature = "clap", value(alias = "efficientnet-lite0"))]
    EfficientnetLite0,
}

impl ArchKind {
    /// The architecture with its default hyper-parameters.
    pub fn arch(self) -> Arch {
        match self {
            ArchKind::Logreg => Arch::Logreg,
            ArchKind::Mlp => Arch::Mlp(MlpConfig::new()),
            ArchKind::Cnn => Arch::Cnn(CnnConfig::new()),
            ArchKind::Resnet18 => Arch::Resnet18,
            ArchKind::Resnet34 => Arch::Resnet34,
            ArchKind::EfficientnetLite0 => Arch::EfficientnetLite0,
        }
    }
}

/// An architecture and its hyper-parameters: everything needed to rebuild the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Arch {
    /// Logistic regression: one dense layer on the flattened pixels.
    Logreg,
    /// Multi-layer perceptron.
    Mlp(MlpConfig),
    /// Convolutional network (the default).
    Cnn(CnnConfig),
    /// ResNet-18.
    Resnet18,
    /// ResNet-34.
    Resnet34,
    /// EfficientNet-Lite0 (RGB, square input).
    EfficientnetLite0,
}

impl Default for Arch {
    fn default() -> Self {
        Arch::Cnn(CnnConfig::new())
    }
}

impl Arch {
    /// Which architecture this is.
    pub fn kind(&self) -> ArchKind {
        match self {
            Arch::Logreg => ArchKind::Logreg,
            Arch::Mlp(_) => ArchKind::Mlp,
            Arch::Cnn(_) => ArchKind::Cnn,
            Arch::Resnet18 => ArchKind::Resnet18,
            Arch::Resnet34 => ArchKind::Resnet34,
            Arch::EfficientnetLite0 => ArchKind::EfficientnetLite0,
        }
    }

    /// The architecture's name as configs spell it (`efficientnet_lite0`).
    pub fn name(&self) -> &'static str {
        match self {
            Arch::Logreg => "logreg",
            Arch::Mlp(_) => "mlp",
            Arch::Cnn(_) => "cnn",
            Arch::Resnet18 => "resnet18",
            Arch::Resnet34 => "resnet34",
            Arch::EfficientnetLite0 => "efficientnet_lite0",
        }
    }

    /// The default square input size for images that do not share one size (and, for
    /// ImageNet backbones, always: they expect ImageNet-sized inputs).
    pub fn default_size(&self) -> usize {
        match self {
            Arch::Resnet18 | Arch::Resnet34 | Arch::EfficientnetLite0 => 224,
            _ => 128,
        }
    }

    /// Whether the network has an ImageNet-style body (pretrained weights, freezing,
    /// discriminative learning rates apply).
    pub fn is_backbone(&self) -> bool {
        matches!(self, Arch::Resnet18 | Arch::Resnet34 | Arch::EfficientnetLite0)
    }

    /// The input normalization the backbone's pretrained weights expect, as (mean, std) on
    /// the 0–1 scale: `(u8 − 127) / 128` for the TF-trained EfficientNet-Lite0, ImageNet
    /// statistics for torchvision ResNets. `None` for other architectures.
    pub fn pretrained_stats(&self) -> Option<([f32; 3], [f32; 3])> {
        match self {
            Arch::EfficientnetLite0 => Some(efficientnet::LITE_STATS),
            Arch::Resnet18 | Arch::Resnet34 => Some(crate::transforms::IMAGENET_STATS),
            _ => None,
        }
    }

    /// Checks the hyper-parameters against a `[channels, height, width]` input.
    pub fn validate(&self, [c, h, w]: [usize; 3]) -> Result<()> {
        if c == 0 || h == 0 || w == 0 {
            return Err(Error::config(
                "transforms.size",
                format!("the input size {c}×{h}×{w} must be at least 1 in every dimension (transforms.size)"),
            ));
        }
        match self {
            Arch::Mlp(cfg) => cfg.validate(),
            Arch::Cnn(cfg) => cfg.validate(h, w),
            Arch::EfficientnetLite0 if c != 3 || h != w => {
                Err(Error::config("model.arch", format!("efficientnet_lite0 takes square RGB input, not {c}×{h}×{w}")))
            }
            _ => Ok(()),
        }
    }

    /// Builds the network for `[channels, height, width]` inputs and `classes` outputs.
    pub fn init(&self, input: [usize; 3], classes: usize, device: &Device) -> Result<Net> {
        self.validate(input)?;
        let [c, h, w] = input;
        Ok(match self {
            Arch::Logreg => Net::Mlp(MlpConfig::new().with_hidden(vec![]).init(c * h * w, classes, device)),
            Arch::Mlp(cfg) => Net::Mlp(cfg.init(c * h * w, classes, device)),
            Arch::Cnn(cfg) => Net::Cnn(cfg.init(input, classes, device)?),
            Arch::Resnet18 => Net::ResNet(ResNetConfig::resnet18().init(c, classes, device)),
            Arch::Resnet34 => Net::ResNet(ResNetConfig::resnet34().init(c, classes, device)),
            Arch::EfficientnetLite0 => Net::EfficientNet(EfficientNetLite::lite0(h, classes, device)),
        })
    }
}

/// A built network of any architecture.
// The variants differ in size (EfficientNet holds ~250 parameter handles inline); a `Net` is
// moved once per optimizer step, which costs nothing beside the step itself, so no boxing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Net {
    /// Logistic regression or MLP.
    Mlp(Mlp),
    /// CNN.
    Cnn(Cnn),
    /// ResNet.
    ResNet(ResNet),
    /// EfficientNet-Lite.
    EfficientNet(EfficientNetLite),
}

impl Net {
    /// # Shapes
    /// `[batch, channels, height, width]` → `[batch, classes]` (logits)
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Net::Mlp(m) => m.forward(x),
            Net::Cnn(m) => m.forward(x),
            Net::ResNet(m) => m.forward(x),
            Net::EfficientNet(m) => m.forward(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [ArchKind; 6] = [
        ArchKind::Logreg,
        ArchKind::Mlp,
        ArchKind::Cnn,
        ArchKind::Resnet18,
        ArchKind::Resnet34,
        ArchKind::EfficientnetLite0,
    ];

    #[test]
    fn arch_configs_round_trip_through_json_under_their_names() {
        for kind in KINDS {
            let a = kind.arch();
            let json = serde_json::to_string(&a).unwrap();
            assert!(json.contains(&format!("\"type\":\"{}\"", a.name())), "{json}");
            assert_eq!(serde_json::from_str::<Arch>(&json).unwrap(), a);
            assert_eq!(a.kind(), kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), a.name());
        }
    }
}
