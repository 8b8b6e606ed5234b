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
pub use efficientnet::{EfficientNetLite, LiteVariant};
pub use resnet::{ResNet, ResNetConfig};
pub use transfer::trainable_params;

use crate::error::{Error, Result};
use crate::kernels::DropoutKey;

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
    /// EfficientNet-Lite1.
    #[cfg_attr(feature = "clap", value(alias = "efficientnet-lite1"))]
    EfficientnetLite1,
    /// EfficientNet-Lite2.
    #[cfg_attr(feature = "clap", value(alias = "efficientnet-lite2"))]
    EfficientnetLite2,
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
            ArchKind::EfficientnetLite1 => Arch::EfficientnetLite1,
            ArchKind::EfficientnetLite2 => Arch::EfficientnetLite2,
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
    /// EfficientNet-Lite1 (RGB, square input).
    EfficientnetLite1,
    /// EfficientNet-Lite2 (RGB, square input).
    EfficientnetLite2,
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
            Arch::EfficientnetLite1 => ArchKind::EfficientnetLite1,
            Arch::EfficientnetLite2 => ArchKind::EfficientnetLite2,
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
            Arch::EfficientnetLite1 => "efficientnet_lite1",
            Arch::EfficientnetLite2 => "efficientnet_lite2",
        }
    }

    /// Which EfficientNet-Lite this is; `None` for other architectures.
    pub fn lite_variant(&self) -> Option<LiteVariant> {
        match self {
            Arch::EfficientnetLite0 => Some(LiteVariant::Lite0),
            Arch::EfficientnetLite1 => Some(LiteVariant::Lite1),
            Arch::EfficientnetLite2 => Some(LiteVariant::Lite2),
            _ => None,
        }
    }

    /// The architecture of an EfficientNet-Lite variant.
    pub fn lite(variant: LiteVariant) -> Arch {
        match variant {
            LiteVariant::Lite0 => Arch::EfficientnetLite0,
            LiteVariant::Lite1 => Arch::EfficientnetLite1,
            LiteVariant::Lite2 => Arch::EfficientnetLite2,
        }
    }

    /// The default square input size for images that do not share one size (and, for
    /// ImageNet backbones, always: they expect ImageNet-sized inputs).
    pub(crate) fn default_size(&self) -> usize {
        match self {
            Arch::Resnet18 | Arch::Resnet34 => 224,
            _ => self.lite_variant().map_or(128, LiteVariant::size),
        }
    }

    /// Whether the network has an ImageNet-style body (pretrained weights, freezing,
    /// discriminative learning rates apply).
    pub(crate) fn is_backbone(&self) -> bool {
        matches!(self, Arch::Resnet18 | Arch::Resnet34) || self.lite_variant().is_some()
    }

    /// The input normalization the backbone's pretrained weights expect, as (mean, std) on
    /// the 0–1 scale: `(u8 − 127) / 128` for the TF-trained EfficientNet-Lites, ImageNet
    /// statistics for torchvision ResNets. `None` for other architectures.
    pub(crate) fn pretrained_stats(&self) -> Option<([f32; 3], [f32; 3])> {
        match self {
            Arch::Resnet18 | Arch::Resnet34 => Some(crate::transforms::IMAGENET_STATS),
            _ => self.lite_variant().map(|_| efficientnet::LITE_STATS),
        }
    }

    /// Checks the hyper-parameters against a `[channels, height, width]` input.
    pub fn validate(&self, [c, h, w]: [usize; 3]) -> Result<()> {
        if c == 0 || h == 0 || w == 0 {
            return Err(Error::config(
                "transforms.size",
                format!("({c}×{h}×{w}) must be at least 1 in every dimension"),
            ));
        }
        match self {
            Arch::Mlp(cfg) => cfg.validate(),
            Arch::Cnn(cfg) => cfg.validate(h, w),
            _ if self.lite_variant().is_some() && (c != 3 || h != w) => {
                Err(Error::config("model.arch", format!("{} takes square RGB input, not {c}×{h}×{w}", self.name())))
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
            Arch::EfficientnetLite1 => Net::EfficientNet(EfficientNetLite::lite1(h, classes, device)),
            Arch::EfficientnetLite2 => Net::EfficientNet(EfficientNetLite::lite2(h, classes, device)),
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

    /// The network with the dropout key of a training step: its dropout layers mask with keys
    /// derived from `key` (see [`crate::kernels`]'s `dropout`), so the masks are a function of
    /// the step, not of anything else in the process. Networks without dropout are unchanged.
    pub(crate) fn with_dropout_key(mut self, key: DropoutKey) -> Net {
        match &mut self {
            Net::Mlp(m) => m.dropout_key = key,
            Net::Cnn(m) => m.dropout_key = key,
            Net::ResNet(_) | Net::EfficientNet(_) => {}
        }
        self
    }

    /// The stages of a convolutional body, first to last, by name: the layers whose
    /// activations Grad-CAM can explain (`block1`… for the CNN, `stem`, `layer1`…`layer4` for
    /// ResNets, `stem`, `block1`…`block16` (`block21` in Lite1/2), `head` for EfficientNet).
    /// Empty for dense networks.
    pub fn stage_names(&self) -> Vec<String> {
        match self {
            Net::Mlp(_) => Vec::new(),
            Net::Cnn(m) => m.stage_names(),
            Net::ResNet(m) => m.stage_names(),
            Net::EfficientNet(m) => m.stage_names(),
        }
    }

    /// The activations after stage `last` (stages `0..=last`; see [`Net::stage_names`]).
    ///
    /// # Panics
    /// For a dense network, or `last` past the last stage.
    pub fn forward_to(&self, x: Tensor<4>, last: usize) -> Tensor<4> {
        assert!(last < self.stage_names().len(), "stage {last} of {:?}", self.stage_names());
        (0..=last).fold(x, |x, i| self.stage(i, x))
    }

    /// The logits from the activations after stage `last`: the remaining stages, then the
    /// classifier. `forward_from(forward_to(x, i), i)` is `forward(x)`.
    pub fn forward_from(&self, a: Tensor<4>, last: usize) -> Tensor<2> {
        let stages = self.stage_names().len();
        let a = (last + 1..stages).fold(a, |x, i| self.stage(i, x));
        match self {
            Net::Mlp(m) => m.forward(a),
            Net::Cnn(m) => m.head(a),
            Net::ResNet(m) => m.head(a),
            Net::EfficientNet(m) => m.head(a),
        }
    }

    /// What the classifier's last layer sees: the network's representation of each image
    /// (the pooled features, or the last hidden layer's activations), in inference mode
    /// comparable between images — nearby images look alike to the network.
    ///
    /// # Shapes
    /// `[batch, channels, height, width]` → `[batch, features]`
    pub fn embed(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Net::Mlp(m) => m.embed(x),
            Net::Cnn(m) => m.head_embed(m.features(x)),
            Net::ResNet(m) => m.pooled(x),
            Net::EfficientNet(m) => m.features(x),
        }
    }

    /// The logits from [`Net::embed`]'s output: the classifier's last layer.
    /// `classify(embed(x))` is `forward(x)` in inference mode.
    pub fn classify(&self, e: Tensor<2>) -> Tensor<2> {
        match self {
            Net::Mlp(m) => m.output.forward(e),
            Net::Cnn(m) => m.output.forward(e),
            Net::ResNet(m) => m.fc.forward(e),
            Net::EfficientNet(m) => m.fc.forward(e),
        }
    }

    /// The weights of the first convolution, `[filters, channels, k, k]`: what the network
    /// learnt to look for in the pixels. `None` for dense networks.
    pub(crate) fn first_conv_weights(&self) -> Option<Tensor<4>> {
        match self {
            Net::Mlp(_) => None,
            Net::Cnn(m) => m.blocks.first().and_then(|b| b.convs.first()).map(|c| c.conv.weight.val()),
            Net::ResNet(m) => Some(m.conv1.weight.val()),
            Net::EfficientNet(m) => Some(m.conv_stem.weight.val()),
        }
    }

    fn stage(&self, i: usize, x: Tensor<4>) -> Tensor<4> {
        match self {
            Net::Mlp(_) => x,
            Net::Cnn(m) => m.stage(i, x),
            Net::ResNet(m) => m.stage(i, x),
            Net::EfficientNet(m) => m.stage(i, x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [ArchKind; 8] = [
        ArchKind::Logreg,
        ArchKind::Mlp,
        ArchKind::Cnn,
        ArchKind::Resnet18,
        ArchKind::Resnet34,
        ArchKind::EfficientnetLite0,
        ArchKind::EfficientnetLite1,
        ArchKind::EfficientnetLite2,
    ];

    #[test]
    fn the_logits_from_any_stage_equal_the_whole_forward() {
        let d = Device::flex();
        let x = Tensor::<4>::random([2, 3, 32, 32], burn::tensor::Distribution::Default, &d);
        for kind in [ArchKind::Cnn, ArchKind::Resnet18, ArchKind::EfficientnetLite0] {
            let net = kind.arch().init([3, 32, 32], 4, &d).unwrap();
            let whole = net.forward(x.clone());
            let names = net.stage_names();
            assert!(names.len() >= 2, "{kind:?}: {names:?}");
            for i in [0, names.len() - 1] {
                let split = net.forward_from(net.forward_to(x.clone(), i), i);
                let diff = (split - whole.clone()).abs().max().into_scalar::<f32>();
                assert!(diff < 1e-5, "{kind:?} at {}: {diff}", names[i]);
            }
        }
        assert!(ArchKind::Mlp.arch().init([1, 8, 8], 2, &d).unwrap().stage_names().is_empty());
    }

    #[test]
    fn classifying_the_embedding_gives_the_logits_for_every_architecture() {
        let d = Device::flex();
        for kind in KINDS {
            let net = kind.arch().init([3, 32, 32], 4, &d).unwrap();
            let x = Tensor::<4>::random([2, 3, 32, 32], burn::tensor::Distribution::Default, &d);
            let e = net.embed(x.clone());
            assert_eq!(e.dims()[0], 2, "{kind:?}");
            let diff = (net.classify(e) - net.forward(x)).abs().max().into_scalar::<f32>();
            assert!(diff < 1e-5, "{kind:?}: {diff}");
        }
    }

    #[test]
    fn each_efficientnet_lite_arch_names_its_variant_and_native_size() {
        for v in LiteVariant::ALL {
            let a = Arch::lite(v);
            assert_eq!((a.lite_variant(), a.name(), a.default_size()), (Some(v), v.name(), v.size()));
            assert!(a.is_backbone() && a.pretrained_stats().is_some());
            assert!(a.validate([3, 32, 32]).is_ok());
            let e = a.validate([3, 32, 40]).unwrap_err().to_string();
            assert!(e.contains(v.name()) && e.contains("square RGB"), "{e}");
        }
        assert_eq!(Arch::Resnet18.lite_variant(), None);
        // Bundles written before Lite1 and Lite2 existed name Lite0 the same way.
        let old: Arch = serde_json::from_str(r#"{"type":"efficientnet_lite0"}"#).unwrap();
        assert_eq!(old, Arch::EfficientnetLite0);
    }

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
