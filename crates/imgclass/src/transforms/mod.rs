//! Deterministic preprocessing: what every image goes through before it reaches a model, at
//! training, evaluation and prediction time alike.
//!
//! [`Preprocess`] is serializable and stored inside every model bundle, so `predict` resizes,
//! converts and normalizes exactly as training did.

pub mod augment;
pub(crate) mod resize;

pub use augment::{AugPreset, Augment, PadMode};

pub use resize::{ResizeMode, resize_to_chw};

use serde::{Deserialize, Serialize};

/// ImageNet's per-channel mean and standard deviation (0–1 scale), as torchvision uses them.
pub const IMAGENET_STATS: ([f32; 3], [f32; 3]) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);

/// Which statistics normalize the inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Normalize {
    /// The pretrained body's own statistics when there is one, else `Data`.
    #[default]
    Auto,
    /// Mean and standard deviation of the training images.
    Data,
    /// ImageNet's (torchvision's) statistics.
    Imagenet,
    /// The pretrained architecture's own statistics.
    Pretrained,
    /// Pixels scaled to 0–1, no shift.
    None,
}

impl std::str::FromStr for Normalize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "data" => Ok(Self::Data),
            "imagenet" => Ok(Self::Imagenet),
            "pretrained" => Ok(Self::Pretrained),
            "none" => Ok(Self::None),
            other => Err(format!("unknown normalization {other:?}: use auto, data, imagenet, pretrained or none")),
        }
    }
}

/// Everything needed to turn a decoded image into a model input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    /// Target height in pixels.
    pub height: usize,
    /// Target width in pixels.
    pub width: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// How images of another aspect ratio are fitted to `height × width`.
    pub resize: ResizeMode,
    /// Per-channel mean of the training pixels, on the 0–1 scale.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation of the training pixels, on the 0–1 scale.
    pub std: Vec<f32>,
    /// Colour that transparent pixels are composited onto (RGB).
    #[serde(default = "white")]
    pub background: [u8; 3],
    /// The model takes RGB input (pretrained backbones): grey images are kept as one channel
    /// (`channels` = 1) and repeated into three when they are turned into a tensor; `mean`
    /// and `std` then have three entries.
    #[serde(default)]
    pub rgb_model: bool,
    /// `mean` and `std` are the backbone's own statistics, kept as they are instead of
    /// being computed from the training images.
    #[serde(default)]
    pub fixed_stats: bool,
}

fn white() -> [u8; 3] {
    [255, 255, 255]
}

impl Preprocess {
    /// A preprocessing with identity normalization (mean 0, std 1 on the 0–1 scale).
    pub fn new(height: usize, width: usize, channels: usize, resize: ResizeMode) -> Self {
        Self {
            height,
            width,
            channels,
            resize,
            mean: vec![0.0; channels],
            std: vec![1.0; channels],
            background: white(),
            rgb_model: false,
            fixed_stats: false,
        }
    }

    /// A preprocessing for a pretrained RGB backbone with its own fixed per-channel `mean`
    /// and `std` (0–1 scale); `channels` may be 1 for grey data.
    pub fn pretrained(height: usize, width: usize, channels: usize, resize: ResizeMode, mean: [f32; 3], std: [f32; 3]) -> Self {
        Self { mean: mean.to_vec(), std: std.to_vec(), rgb_model: true, fixed_stats: true, ..Self::new(height, width, channels, resize) }
    }

    /// Channels of the model's input tensor: 3 for an RGB model, else `channels`.
    pub fn input_channels(&self) -> usize {
        if self.rgb_model { 3 } else { self.channels }
    }

    /// Number of bytes of one preprocessed image (`channels × height × width`).
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Turns one decoded image into `channels × height × width` bytes.
    pub fn apply(&self, image: &image::DynamicImage) -> Vec<u8> {
        resize_to_chw(image, self.height, self.width, self.channels, self.resize, self.background)
    }

    /// Converts CHW bytes of several images into normalized floats (`input_channels` planes
    /// per image: a grey plane is repeated for an RGB model), appending to `out`.
    pub fn normalize_into(&self, chw: &[u8], out: &mut Vec<f32>) {
        let plane = self.height * self.width;
        out.reserve(chw.len() / self.channels * self.input_channels());
        for image in chw.chunks_exact(self.image_len()) {
            for c in 0..self.input_channels() {
                let channel = &image[(c % self.channels) * plane..][..plane];
                let scale = 1.0 / (255.0 * self.std[c]);
                let shift = self.mean[c] / self.std[c];
                out.extend(channel.iter().map(|&v| v as f32 * scale - shift));
            }
        }
    }

    /// Sets `mean` and `std` to the per-channel statistics of `chw` (several images' bytes).
    pub fn fit_normalization(&mut self, chw: &[u8]) {
        let mut stats = crate::data::PixelStats::new(self.channels);
        for image in chw.chunks_exact(self.image_len()) {
            stats.add(image, self.height * self.width);
        }
        if stats.n > 0.0 {
            self.set_normalization(&stats);
        }
    }

    /// Sets `mean` and `std` from pixel statistics gathered over `channels` or more channels
    /// (RGB statistics of images narrowed to grey keep the first channel's, which equals the
    /// others); an RGB model fed grey images gets that channel's values three times.
    pub fn set_normalization(&mut self, stats: &crate::data::PixelStats) {
        let (mut mean, mut std) = stats.mean_std();
        mean.truncate(self.channels);
        std.truncate(self.channels);
        if self.rgb_model && self.channels == 1 {
            (mean, std) = (vec![mean[0]; 3], vec![std[0]; 3]);
        }
        (self.mean, self.std) = (mean, std);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitted_normalization_gives_zero_mean_and_unit_variance() {
        let mut p = Preprocess::new(1, 4, 1, ResizeMode::Squish);
        let bytes = [0u8, 255, 0, 255, 10, 20, 30, 40];
        p.fit_normalization(&bytes);
        let mut out = Vec::new();
        p.normalize_into(&bytes, &mut out);
        let mean: f32 = out.iter().sum::<f32>() / out.len() as f32;
        let var: f32 = out.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / out.len() as f32;
        assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4, "mean {mean} var {var}");
    }

    #[test]
    fn identity_normalization_maps_bytes_to_the_unit_interval() {
        let p = Preprocess::new(1, 2, 1, ResizeMode::Squish);
        let mut out = Vec::new();
        p.normalize_into(&[0, 255], &mut out);
        assert_eq!(out, vec![0.0, 1.0]);
    }

    #[test]
    fn a_grey_image_for_an_rgb_model_becomes_three_planes_with_their_own_statistics() {
        let p = Preprocess::pretrained(1, 2, 1, ResizeMode::Squish, [0.0, 0.5, 0.0], [1.0, 0.5, 0.25]);
        let mut out = Vec::new();
        p.normalize_into(&[0, 255], &mut out);
        assert_eq!(out, vec![0.0, 1.0, -1.0, 1.0, 0.0, 4.0]);
    }
}
