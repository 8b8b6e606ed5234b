//! ResNet-18 and ResNet-34 (He et al. 2016, "Deep Residual Learning for Image Recognition"),
//! with torchvision's layout of parameter names (`conv1`, `bn1`, `layer1.0.conv1`, …,
//! `layer2.0.downsample.{conv,bn}`, `fc`) so that torchvision weights map onto it with one
//! rename (`downsample.0` → `downsample.conv`, `downsample.1` → `downsample.bn`).
//! Reference: `torchvision/models/resnet.py` (BasicBlock, `_resnet`).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::kernels::{conv_bn, conv_bn_relu};

/// Configuration of a ResNet built from basic blocks.
#[derive(Config, Debug, PartialEq)]
pub struct ResNetConfig {
    /// Blocks per stage: `[2, 2, 2, 2]` is ResNet-18, `[3, 4, 6, 3]` ResNet-34.
    pub layers: [usize; 4],
    /// Channels of the first stage (doubled at each later stage); torchvision's is 64.
    /// Narrower widths exist for small test fixtures.
    #[config(default = 64)]
    pub width: usize,
}

impl ResNetConfig {
    /// ResNet-18.
    pub fn resnet18() -> Self {
        Self::new([2, 2, 2, 2])
    }

    /// ResNet-34.
    pub fn resnet34() -> Self {
        Self::new([3, 4, 6, 3])
    }

    /// Builds the network for `in_channels` inputs and `classes` outputs.
    pub fn init(&self, in_channels: usize, classes: usize, device: &Device) -> ResNet {
        let w = self.width;
        let mut inplanes = w;
        let mut stage = |planes: usize, blocks: usize, stride: usize| -> Vec<BasicBlock> {
            (0..blocks)
                .map(|i| {
                    let s = if i == 0 { stride } else { 1 };
                    let b = BasicBlock::new(inplanes, planes, s, device);
                    inplanes = planes;
                    b
                })
                .collect()
        };
        let [l1, l2, l3, l4] = self.layers;
        let layer1 = stage(w, l1, 1);
        let layer2 = stage(2 * w, l2, 2);
        let layer3 = stage(4 * w, l3, 2);
        let layer4 = stage(8 * w, l4, 2);
        ResNet {
            conv1: conv(in_channels, w, 7, 2, 3, device),
            bn1: BatchNormConfig::new(w).init(device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(8 * w, classes).init(device),
        }
    }
}

/// A bias-free conv with torchvision's initialisation (Kaiming normal, fan-out, ReLU gain).
fn conv(i: usize, o: usize, k: usize, stride: usize, pad: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([i, o], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal { gain: 2f64.sqrt(), fan_out_only: true })
        .init(device)
}

/// The 1×1 projection on the shortcut when the shape changes.
#[derive(Module, Debug)]
pub struct Downsample {
    /// 1×1 conv with the block's stride.
    pub(crate) conv: Conv2d,
    /// Its batch norm.
    pub(crate) bn: BatchNorm,
}

/// Two 3×3 convs with a residual connection.
#[derive(Module, Debug)]
pub struct BasicBlock {
    /// First 3×3 conv (carries the stride).
    pub(crate) conv1: Conv2d,
    /// Its batch norm.
    pub(crate) bn1: BatchNorm,
    /// Second 3×3 conv.
    pub(crate) conv2: Conv2d,
    /// Its batch norm.
    pub(crate) bn2: BatchNorm,
    /// Shortcut projection, when the shape changes.
    pub(crate) downsample: Option<Downsample>,
}

impl BasicBlock {
    fn new(inplanes: usize, planes: usize, stride: usize, device: &Device) -> Self {
        let downsample = (stride != 1 || inplanes != planes).then(|| Downsample {
            conv: conv(inplanes, planes, 1, stride, 0, device),
            bn: BatchNormConfig::new(planes).init(device),
        });
        Self {
            conv1: conv(inplanes, planes, 3, stride, 1, device),
            bn1: BatchNormConfig::new(planes).init(device),
            conv2: conv(planes, planes, 3, 1, 1, device),
            bn2: BatchNormConfig::new(planes).init(device),
            downsample,
        }
    }

    /// # Shapes
    /// `[b, inplanes, h, w]` → `[b, planes, h/stride, w/stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => conv_bn(&d.conv, &d.bn, x.clone()),
            None => x.clone(),
        };
        let out = conv_bn_relu(&self.conv1, &self.bn1, x);
        let out = conv_bn(&self.conv2, &self.bn2, out);
        relu(out + identity)
    }
}

/// ResNet classifier.
#[derive(Module, Debug)]
pub struct ResNet {
    /// 7×7 stride-2 stem conv.
    pub(crate) conv1: Conv2d,
    /// Stem batch norm.
    pub(crate) bn1: BatchNorm,
    /// 3×3 stride-2 max pool.
    pub(crate) maxpool: MaxPool2d,
    /// Stage 1 (64 channels).
    pub(crate) layer1: Vec<BasicBlock>,
    /// Stage 2 (128 channels).
    pub(crate) layer2: Vec<BasicBlock>,
    /// Stage 3 (256 channels).
    pub(crate) layer3: Vec<BasicBlock>,
    /// Stage 4 (512 channels).
    pub(crate) layer4: Vec<BasicBlock>,
    /// Global average pool.
    pub(crate) avgpool: AdaptiveAvgPool2d,
    /// Classifier.
    pub(crate) fc: Linear,
}

impl ResNet {
    /// The feature maps of the last stage.
    ///
    /// # Shapes
    /// `[b, c, h, w]` → `[b, 512, h/32, w/32]`
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        (0..5).fold(x, |x, i| self.stage(i, x))
    }

    /// Stage `i`: 0 the stem (7×7 convolution, batch norm, ReLU, max pool), 1–4 the four
    /// stages of residual blocks.
    pub fn stage(&self, i: usize, x: Tensor<4>) -> Tensor<4> {
        let blocks = match i {
            0 => return self.maxpool.forward(conv_bn_relu(&self.conv1, &self.bn1, x)),
            1 => &self.layer1,
            2 => &self.layer2,
            3 => &self.layer3,
            _ => &self.layer4,
        };
        blocks.iter().fold(x, |x, block| block.forward(x))
    }

    /// The names of the stages, as torchvision's modules: `stem`, `layer1` … `layer4`.
    pub fn stage_names(&self) -> Vec<String> {
        ["stem", "layer1", "layer2", "layer3", "layer4"].map(String::from).to_vec()
    }

    /// Globally average-pooled features of the last stage, the classifier's input.
    ///
    /// # Shapes
    /// `[b, c, h, w]` → `[b, 512]`
    pub fn pooled(&self, x: Tensor<4>) -> Tensor<2> {
        self.avgpool.forward(self.features(x)).flatten(1, 3)
    }

    /// The classifier after the last stage: global average pool and the dense layer.
    ///
    /// # Shapes
    /// `[b, 512, h', w']` → `[b, classes]`
    pub fn head(&self, x: Tensor<4>) -> Tensor<2> {
        self.fc.forward(self.avgpool.forward(x).flatten(1, 3))
    }

    /// # Shapes
    /// `[b, c, h, w]` → `[b, classes]` (logits)
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.features(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet18_and_34_have_torchvisions_parameter_counts() {
        // torchvision: sum(p.numel() for p in resnet18(num_classes=1000).parameters()) = 11_689_512,
        // resnet34: 21_797_672. Burn's num_params also counts the batch-norm running mean and
        // variance (buffers in PyTorch): 2 × 4_800 channels in ResNet-18, 2 × 8_512 in ResNet-34.
        let d = Device::flex();
        assert_eq!(ResNetConfig::resnet18().init(3, 1000, &d).num_params(), 11_689_512 + 2 * 4_800);
        assert_eq!(ResNetConfig::resnet34().init(3, 1000, &d).num_params(), 21_797_672 + 2 * 8_512);
    }

    #[test]
    fn a_small_grey_input_runs_through_resnet18() {
        let d = Device::flex();
        let m = ResNetConfig::resnet18().init(1, 10, &d);
        assert_eq!(m.forward(Tensor::zeros([2, 1, 32, 32], &d)).dims(), [2, 10]);
    }
}
