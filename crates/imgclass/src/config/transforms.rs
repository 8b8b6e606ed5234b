//! How images become model inputs: size, resizing, normalization, augmentation; and the
//! [`Preprocess`] a run builds from them for its data and its model.

use serde::{Deserialize, Serialize};

use super::{Background, TrainConfig};
use crate::data::{LoadOptions, Source, choose_size, default_preprocess};
use crate::error::{Error, Result};
use crate::transforms::{Augment, IMAGENET_STATS, MAX_SIDE, Normalize, Preprocess, ResizeMode};

/// The transforms of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TransformConfig {
    /// Square input size; by default the images' own size when they share one (≤ 256 px), 224
    /// for a pretrained body, else the architecture's default.
    pub size: Option<usize>,
    /// How images are fitted to the input size.
    pub resize: ResizeMode,
    /// Square size training images are stored at before augmentation samples the input size
    /// from them (fastai's presizing); by default 1.5 × the input size when augmentation
    /// resamples (rotates, zooms, warps; flips and padded crops do not).
    pub presize: Option<usize>,
    /// The colour transparent pixels are composited onto (RGB).
    pub background: Background,
    /// Which normalization statistics the inputs get.
    pub normalize: Normalize,
    /// Training-time augmentation (see [`Augment::preset`]).
    pub augment: Augment,
}

impl Default for TransformConfig {
    fn default() -> Self {
        Self {
            size: None,
            resize: ResizeMode::Squish,
            presize: None,
            background: Background::WHITE,
            normalize: Normalize::Auto,
            augment: Augment::default(),
        }
    }
}

impl TransformConfig {
    /// Checks the sizes and the augmentation's ranges.
    pub(crate) fn validate(&self) -> Result<()> {
        for (field, v) in [("transforms.size", self.size), ("transforms.presize", self.presize)] {
            if v.is_some_and(|s| s == 0 || s > MAX_SIDE) {
                return Err(Error::config(field, format!("must be 1..={MAX_SIDE} pixels")));
            }
        }
        self.augment.validate()
    }
}

impl TrainConfig {
    /// The input size: `transforms.size`, else for a pretrained body the size its weights
    /// were trained at (224; 240 and 260 for EfficientNet-Lite1 and -Lite2), else the size
    /// `source`'s images share (≤ 256 px), else the architecture's default.
    pub fn input_size(&self, source: &Source) -> (usize, usize) {
        let size = self.transforms.size.or(self.model.starts_pretrained().then(|| self.model.arch.default_size()));
        choose_size(source, size, self.model.arch.default_size())
    }

    /// The preprocessing for images of `source` at `(h, w)`, normalized as
    /// `transforms.normalize` says: by default with the backbone's own statistics for a
    /// pretrained body, else fitted on the training images. Pretrained bodies and EfficientNet
    /// take RGB input.
    pub fn preprocess(&self, source: &Source, size: (usize, usize)) -> Preprocess {
        let t = &self.transforms;
        let pre = default_preprocess(source, size, t.resize).with_background(t.background.0);
        let pretrained = self.model.starts_pretrained();
        let rgb = pretrained || self.model.arch.lite_variant().is_some();
        let fixed = match t.normalize {
            Normalize::Auto if pretrained => self.model.arch.pretrained_stats(),
            Normalize::Pretrained => self.model.arch.pretrained_stats(),
            Normalize::Imagenet => Some(IMAGENET_STATS),
            Normalize::None => Some(([0.0; 3], [1.0; 3])),
            Normalize::Auto | Normalize::Data => None,
        };
        match fixed {
            Some((mean, std)) => {
                let mut p = Preprocess::pretrained(size.0, size.1, pre.channels, t.resize, mean, std);
                (p.rgb_model, p.background) = (rgb, t.background.0);
                if !rgb {
                    p.mean.truncate(pre.channels);
                    p.std.truncate(pre.channels);
                }
                p
            }
            None if rgb => Preprocess { rgb_model: true, mean: vec![0.0; 3], std: vec![1.0; 3], ..pre },
            None => pre,
        }
    }

    /// How the training data is stored: presized when augmentation resamples, in memory or on disk.
    pub fn load_options(&self, size: (usize, usize)) -> LoadOptions {
        let resampling = self.transforms.augment.resamples();
        let presize = self.transforms.presize.or(resampling.then(|| (size.0.max(size.1) * 3).div_ceil(2)));
        let loader = &self.data.loader;
        LoadOptions { presize, residency: loader.images_in, memory_budget: loader.memory_mb << 20 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Weights;
    use crate::data::idx::IdxSplit;
    use crate::models::{Arch, LiteVariant};

    #[test]
    fn a_pretrained_lite_body_takes_rgb_at_its_own_size_with_its_own_normalization() {
        let part = IdxSplit { prefix: "t10k".into(), pixels: vec![0; 8], labels: vec![0, 1], height: 2, width: 2 };
        let source = Source::from_idx("mem".into(), vec![part], None);
        for variant in LiteVariant::ALL {
            let mut c = TrainConfig::default();
            (c.model.arch, c.model.weights) = (Arch::lite(variant), Weights::Pretrained);
            let size = c.input_size(&source);
            assert_eq!(size, (variant.size(), variant.size()), "{variant:?}");
            let pre = c.preprocess(&source, size);
            assert!(pre.rgb_model && pre.fixed_stats, "{variant:?}");
            assert_eq!(pre.mean, vec![127.0 / 255.0; 3]);
            c.model.weights = Weights::Random;
            assert_eq!(c.input_size(&source), (2, 2), "random weights keep the images' size");
        }
    }
}
