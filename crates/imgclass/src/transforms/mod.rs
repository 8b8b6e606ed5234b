//! Deterministic preprocessing: what every image goes through before it reaches a model, at
//! training, evaluation and prediction time alike; and training-time augmentation.
//!
//! [`Preprocess`] is serializable and stored inside every model bundle, so `predict` resizes,
//! converts and normalizes exactly as training did.

pub mod augment;
mod geometry;
mod normalize;
pub(crate) mod resize;

pub use augment::{AugPreset, Augment, ERASE_MAX_AREA, PadMode};
pub use normalize::{IMAGENET_STATS, Normalize, PixelStats};
pub use resize::{Placement, ResizeMode};

use serde::{Deserialize, Serialize};

use resize::resize_to_chw;

/// The largest input side, in pixels, a preprocessing may ask for.
pub const MAX_SIDE: usize = 4096;

/// Everything needed to turn a decoded image into a model input.
///
/// Invariants (checked by [`Preprocess::validate`], which a bundle runs when it is loaded):
/// `channels` is 1 or 3, the sides are 1..=[`MAX_SIDE`], and `mean` and `std` hold one finite
/// value per input channel, `std` positive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    /// Target height in pixels.
    pub(crate) height: usize,
    /// Target width in pixels.
    pub(crate) width: usize,
    /// 1 (grey) or 3 (RGB): the channels images are stored with.
    pub(crate) channels: usize,
    /// How images of another aspect ratio are fitted to `height × width`.
    pub(crate) resize: ResizeMode,
    /// Per-channel mean of the training pixels, on the 0–1 scale.
    pub(crate) mean: Vec<f32>,
    /// Per-channel standard deviation of the training pixels, on the 0–1 scale.
    pub(crate) std: Vec<f32>,
    /// Colour that transparent pixels are composited onto (RGB).
    #[serde(default = "white")]
    pub(crate) background: [u8; 3],
    /// The model takes RGB input (pretrained backbones): grey images are kept as one channel
    /// (`channels` = 1) and repeated into three when they are turned into a tensor; `mean`
    /// and `std` then have three entries.
    #[serde(default)]
    pub(crate) rgb_model: bool,
    /// `mean` and `std` are the backbone's own statistics, kept as they are instead of
    /// being computed from the training images.
    #[serde(default)]
    pub(crate) fixed_stats: bool,
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
    pub fn pretrained(
        height: usize,
        width: usize,
        channels: usize,
        resize: ResizeMode,
        mean: [f32; 3],
        std: [f32; 3],
    ) -> Self {
        Self {
            mean: mean.to_vec(),
            std: std.to_vec(),
            rgb_model: true,
            fixed_stats: true,
            ..Self::new(height, width, channels, resize)
        }
    }

    /// Target height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Target width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Channels images are stored with: 1 (grey) or 3 (RGB).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// How images are fitted to the input size.
    pub fn resize(&self) -> ResizeMode {
        self.resize
    }

    /// Per-channel mean and standard deviation (0–1 scale), one per input channel.
    pub(crate) fn mean_std(&self) -> (&[f32], &[f32]) {
        (&self.mean, &self.std)
    }

    /// The colour transparent pixels are composited onto (RGB).
    pub fn background(&self) -> [u8; 3] {
        self.background
    }

    /// Whether the model takes RGB input whatever the images are (pretrained bodies).
    pub fn rgb_model(&self) -> bool {
        self.rgb_model
    }

    /// Channels of the model's input tensor: 3 for an RGB model, else `channels`.
    pub fn input_channels(&self) -> usize {
        if self.rgb_model { 3 } else { self.channels }
    }

    /// Where an `iw × ih` image lands in the model's input (to map a point of the input back
    /// to the original image).
    pub(crate) fn placement(&self, iw: u32, ih: u32) -> Placement {
        resize::placement((iw, ih), (self.width as u32, self.height as u32), self.resize)
    }

    /// Number of bytes of one preprocessed image (`channels × height × width`).
    pub(crate) fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The same preprocessing storing images at `side × side` (fastai's presizing).
    pub(crate) fn at_size(&self, side: usize) -> Preprocess {
        Preprocess { height: side, width: side, ..self.clone() }
    }

    /// The same preprocessing, with transparency composited onto `background`.
    pub(crate) fn with_background(self, background: [u8; 3]) -> Preprocess {
        Preprocess { background, ..self }
    }

    /// Checks the invariants; `Err` names the field that breaks one.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.channels != 1 && self.channels != 3 {
            return Err(format!("preprocess.channels is {}, not 1 or 3", self.channels));
        }
        let side = 1..=MAX_SIDE;
        if !side.contains(&self.height) || !side.contains(&self.width) {
            return Err(format!("preprocess size {}×{} is outside 1..={MAX_SIDE} pixels", self.height, self.width));
        }
        if let ResizeMode::CropFrom(short) = self.resize
            && (short as usize) < self.height.min(self.width)
        {
            return Err(format!("preprocess.resize crops from {short} px, less than the input side"));
        }
        let n = self.input_channels();
        if self.mean.len() != n || self.std.len() != n {
            return Err(format!(
                "preprocess.mean and preprocess.std have {} and {} values for {n} input channels",
                self.mean.len(),
                self.std.len()
            ));
        }
        if !self.mean.iter().all(|m| m.is_finite()) || !self.std.iter().all(|s| s.is_finite() && *s > 0.0) {
            return Err("preprocess.mean must be finite and preprocess.std finite and positive".into());
        }
        Ok(())
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
        let mut stats = PixelStats::new(self.channels);
        for image in chw.chunks_exact(self.image_len()) {
            stats.add(image, self.height * self.width);
        }
        if !stats.is_empty() {
            self.set_normalization(&stats);
        }
    }

    /// Sets `mean` and `std` from pixel statistics gathered over `channels` or more channels
    /// (RGB statistics of images narrowed to grey keep the first channel's, which equals the
    /// others); an RGB model fed grey images gets that channel's values three times.
    pub(crate) fn set_normalization(&mut self, stats: &PixelStats) {
        let (mut mean, mut std) = stats.mean_std();
        mean.truncate(self.channels);
        std.truncate(self.channels);
        if self.rgb_model && self.channels == 1 {
            (mean, std) = (vec![mean[0]; 3], vec![std[0]; 3]);
        }
        (self.mean, self.std) = (mean, std);
    }

    /// Narrows RGB images that turned out all grey to one stored channel (an RGB model keeps
    /// its three input channels and their statistics).
    pub(crate) fn narrow_to_grey(&mut self) {
        self.channels = 1;
        if !self.rgb_model {
            self.mean.truncate(1);
            self.std.truncate(1);
        }
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

    #[test]
    fn a_preprocessing_that_breaks_an_invariant_names_the_field() {
        let good = Preprocess::new(28, 28, 1, ResizeMode::Squish);
        assert!(good.validate().is_ok());
        let cases = [
            (Preprocess { channels: 2, ..good.clone() }, "channels"),
            (Preprocess { mean: vec![], ..good.clone() }, "preprocess.mean"),
            (Preprocess { std: vec![0.0], ..good.clone() }, "preprocess.std"),
            (Preprocess { height: 0, ..good.clone() }, "size"),
            (Preprocess { rgb_model: true, ..good.clone() }, "3 input channels"),
        ];
        for (p, field) in cases {
            let e = p.validate().unwrap_err();
            assert!(e.contains(field), "{e}");
        }
    }
}
