//! Input normalization: which statistics shift and scale the pixels, and the per-channel
//! statistics gathered from training images to fit them.

use serde::{Deserialize, Serialize};

/// ImageNet's per-channel mean and standard deviation (0–1 scale), as torchvision uses them.
pub const IMAGENET_STATS: ([f32; 3], [f32; 3]) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);

/// Which statistics normalize the inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
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

/// Per-channel sums of pixel values and their squares (0–255 scale).
#[derive(Debug, Clone, PartialEq)]
pub struct PixelStats {
    sum: Vec<f64>,
    sq: Vec<f64>,
    n: f64,
}

impl PixelStats {
    /// Empty statistics over `channels`.
    pub fn new(channels: usize) -> Self {
        Self { sum: vec![0.0; channels], sq: vec![0.0; channels], n: 0.0 }
    }

    /// Adds one CHW image of `plane` pixels per channel.
    pub fn add(&mut self, chw: &[u8], plane: usize) {
        for (c, channel) in chw.chunks_exact(plane).enumerate() {
            let (s, q) = channel.iter().fold((0u64, 0u64), |(s, q), &v| (s + v as u64, q + (v as u64) * (v as u64)));
            self.sum[c] += s as f64;
            self.sq[c] += q as f64;
        }
        self.n += plane as f64;
    }

    /// True when no pixel was added.
    pub fn is_empty(&self) -> bool {
        self.n == 0.0
    }

    /// Mean and standard deviation per channel on the 0–1 scale (std at least 1e-3).
    pub(crate) fn mean_std(&self) -> (Vec<f32>, Vec<f32>) {
        let n = self.n.max(1.0);
        self.sum
            .iter()
            .zip(&self.sq)
            .map(|(s, q)| {
                let mean = s / n / 255.0;
                let var = (q / n / (255.0 * 255.0) - mean * mean).max(0.0);
                (mean as f32, (var.sqrt() as f32).max(1e-3))
            })
            .unzip()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_black_and_white_halves_are_a_half_and_a_half() {
        let mut s = PixelStats::new(1);
        s.add(&[0, 255, 0, 255], 4);
        let (mean, std) = s.mean_std();
        assert!((mean[0] - 0.5).abs() < 1e-6 && (std[0] - 0.5).abs() < 1e-6, "{mean:?} {std:?}");
    }
}
