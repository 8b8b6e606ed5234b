//! Training-time augmentation, as fastai's `aug_transforms()` does it: every geometric change
//! (flip, rotation, zoom, translation, perspective warp, random resized crop) is composed into
//! one projective map from output to source coordinates and the image is sampled once
//! (bilinear), straight from the presized image to the final size; lighting (brightness,
//! contrast, saturation) and random erasing follow. Each change has a probability and a
//! magnitude; every draw comes from a seeded [`Rng`], so an epoch's images are reproducible.

use serde::{Deserialize, Serialize};

pub use super::geometry::PadMode;
pub(crate) use super::geometry::rescale;
use super::geometry::{IDENTITY, Mat3, affine, mul, sample, warp};
use crate::util::rng::Rng;

/// The largest fraction of the image that random erasing covers (fastai's `RandomErasing`
/// default `sh`; Zhong et al.'s paper uses 0.4).
pub const ERASE_MAX_AREA: f64 = 0.3;

/// Named sets of augmentations (`--aug`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AugPreset {
    /// No augmentation.
    #[default]
    None,
    /// Flips, small rotations and zooms, mild lighting.
    Light,
    /// fastai's `aug_transforms()` defaults.
    Default,
    /// Larger rotations, zooms and warps, saturation, random resized crops and random erasing.
    Strong,
    /// For small images (MNIST, Fashion-MNIST, CIFAR): horizontal flips and random crops of
    /// the image padded with zeros by a tenth of its side (3 pixels at 28 and 32) — whole-pixel
    /// shifts, no resampling.
    Crop,
}

/// Every augmentation with its probability and magnitude (serialized into `config.json` and
/// the bundle's training config). All zeros (the `Default`) is no augmentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Augment {
    /// Probability of a horizontal flip.
    pub flip: f64,
    /// Probability of a vertical flip.
    pub flip_vert: f64,
    /// Probability that rotation, zoom, translation and warp are drawn for an image.
    pub p_affine: f64,
    /// Rotation drawn uniformly in ±`max_rotate` degrees.
    pub max_rotate: f64,
    /// Zoom drawn uniformly in `[min_zoom, max_zoom]`, centred at a random point (fastai's `Zoom`).
    pub min_zoom: f64,
    /// See `min_zoom`.
    pub max_zoom: f64,
    /// Shift drawn uniformly in ±`max_translate` of the image side, per axis.
    pub max_translate: f64,
    /// Perspective warp: each axis's magnitude drawn in ±`max_warp` (fastai's `Warp`).
    pub max_warp: f64,
    /// Probability that brightness, contrast and saturation change.
    pub p_lighting: f64,
    /// Brightness shift drawn in ±`max_brightness`/2 of the full range.
    pub max_brightness: f64,
    /// Contrast factor drawn log-uniformly in `[1 − m, 1 / (1 − m)]`.
    pub max_contrast: f64,
    /// Saturation factor drawn log-uniformly in `[1 − m, 1 / (1 − m)]` (colour images).
    pub max_saturation: f64,
    /// Random resized crop: the crop keeps a uniform fraction in `[min_scale, 1]` of the area,
    /// aspect ratio in `[3/4, 4/3]` (1 = off).
    pub min_scale: f64,
    /// Probability of erasing one random rectangle (up to `max_erase` of the area) with noise.
    pub p_erase: f64,
    /// See `p_erase`.
    pub max_erase: f64,
    /// Random crop after padding (the CIFAR and Fashion-MNIST augmentation): the image shifts
    /// by a whole number of pixels drawn uniformly in ±`round(crop_pad × side)` per axis.
    pub crop_pad: f64,
    /// Fill for pixels the geometry brings in from outside the image.
    pub pad: PadMode,
}

impl Default for Augment {
    fn default() -> Self {
        Self {
            flip: 0.0,
            flip_vert: 0.0,
            p_affine: 0.0,
            max_rotate: 0.0,
            min_zoom: 1.0,
            max_zoom: 1.0,
            max_translate: 0.0,
            max_warp: 0.0,
            p_lighting: 0.0,
            max_brightness: 0.0,
            max_contrast: 0.0,
            max_saturation: 0.0,
            min_scale: 1.0,
            p_erase: 0.0,
            max_erase: 0.0,
            crop_pad: 0.0,
            pad: PadMode::Reflection,
        }
    }
}

impl Augment {
    /// The augmentations of a preset. `Default` is fastai's `aug_transforms()`: flip p 0.5,
    /// rotation ±10°, zoom 1–1.1 and warp 0.2 with p 0.75, lighting 0.2 with p 0.75, reflection padding.
    pub fn preset(preset: AugPreset) -> Self {
        let none = Self::default();
        match preset {
            AugPreset::None => none,
            AugPreset::Light => Self {
                flip: 0.5,
                p_affine: 0.75,
                max_rotate: 5.0,
                max_zoom: 1.05,
                p_lighting: 0.75,
                max_brightness: 0.1,
                max_contrast: 0.1,
                ..none
            },
            AugPreset::Default => Self {
                flip: 0.5,
                p_affine: 0.75,
                max_rotate: 10.0,
                max_zoom: 1.1,
                max_warp: 0.2,
                p_lighting: 0.75,
                max_brightness: 0.2,
                max_contrast: 0.2,
                ..none
            },
            AugPreset::Strong => Self {
                flip: 0.5,
                p_affine: 0.75,
                max_rotate: 20.0,
                max_zoom: 1.3,
                max_translate: 0.1,
                max_warp: 0.3,
                p_lighting: 0.75,
                max_brightness: 0.4,
                max_contrast: 0.4,
                max_saturation: 0.3,
                min_scale: 0.35,
                p_erase: 0.25,
                max_erase: ERASE_MAX_AREA,
                ..none
            },
            AugPreset::Crop => Self { flip: 0.5, crop_pad: 0.1, pad: PadMode::Zeros, ..none },
        }
    }

    /// True when no augmentation can change an image.
    pub fn is_identity(&self) -> bool {
        let lighting = self.p_lighting > 0.0
            && (self.max_brightness > 0.0 || self.max_contrast > 0.0 || self.max_saturation > 0.0);
        !(self.flip > 0.0
            || self.flip_vert > 0.0
            || self.resamples()
            || lighting
            || self.crop_pad > 0.0
            || (self.p_erase > 0.0 && self.max_erase > 0.0))
    }

    /// True when the geometry resamples (rotation, zoom, translation, warp, resized crops), so
    /// training images are best stored larger than the input (presized); flips and
    /// whole-pixel crops move pixels without resampling.
    pub(crate) fn resamples(&self) -> bool {
        let affine = self.p_affine > 0.0
            && (self.max_rotate > 0.0 || self.max_zoom > 1.0 || self.max_translate > 0.0 || self.max_warp > 0.0);
        affine || self.min_scale < 1.0
    }

    /// Checks that probabilities are in `[0, 1]` and magnitudes in range; the error names
    /// `transforms.augment`.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |message: &str| Err(crate::Error::config("transforms.augment", message));
        let probs = [self.flip, self.flip_vert, self.p_affine, self.p_lighting, self.p_erase];
        if probs.iter().any(|p| !(0.0..=1.0).contains(p)) {
            return bad("needs probabilities (flip, flip_vert, p_affine, p_lighting, p_erase) in [0, 1]");
        }
        if !(self.min_zoom > 0.0 && self.max_zoom >= self.min_zoom && self.min_scale > 0.0 && self.min_scale <= 1.0) {
            return bad("needs 0 < min_zoom ≤ max_zoom and min_scale in (0, 1]");
        }
        let below_one = [self.max_contrast, self.max_saturation, self.max_erase, self.max_translate, self.crop_pad];
        if below_one.iter().any(|m| !(0.0..1.0).contains(m))
            || self.max_rotate < 0.0
            || self.max_warp < 0.0
            || self.max_brightness < 0.0
        {
            return bad("needs magnitudes ≥ 0 (contrast, saturation, translation, erasing and crop_pad < 1)");
        }
        Ok(())
    }

    /// Augments one `channels × sh × sw` image into `channels × oh × ow` bytes.
    pub(crate) fn apply(
        &self,
        src: &[u8],
        channels: usize,
        (sh, sw): (usize, usize),
        (oh, ow): (usize, usize),
        rng: &mut Rng,
    ) -> Vec<u8> {
        let mut map = self.draw_geometry(rng);
        if self.crop_pad > 0.0 {
            // A shift of whole source pixels, applied after the rest of the map (2/side per pixel).
            let shift = |side: usize, rng: &mut Rng| {
                let p = (self.crop_pad * side as f64).round() as usize;
                (rng.below(2 * p + 1) as f64 - p as f64) * 2.0 / side as f64
            };
            let (dx, dy) = (shift(sw, rng), shift(sh, rng));
            map = mul(&[[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]], &map);
        }
        let mut out = sample(src, channels, (sh, sw), (oh, ow), &map, self.pad);
        if rng.chance(self.p_lighting) {
            let log_range =
                |m: f64, rng: &mut Rng| if m > 0.0 { rng.uniform((1.0 - m).ln(), -(1.0 - m).ln()).exp() } else { 1.0 };
            let shift = rng.uniform(-self.max_brightness / 2.0, self.max_brightness / 2.0 + f64::MIN_POSITIVE);
            let contrast = log_range(self.max_contrast, rng);
            let saturation = log_range(self.max_saturation, rng);
            lighting(&mut out, channels, oh * ow, shift, contrast, saturation);
        }
        if rng.chance(self.p_erase) && self.max_erase > 0.0 {
            erase(&mut out, channels, (oh, ow), self.max_erase, rng);
        }
        out
    }

    /// Draws the output → source map of one image: crop ∘ affine ∘ warp.
    fn draw_geometry(&self, rng: &mut Rng) -> Mat3 {
        let mut m = IDENTITY;
        if self.min_scale < 1.0 {
            let area = rng.uniform(self.min_scale, 1.0);
            let ratio = rng.uniform((3f64 / 4.0).ln(), (4f64 / 3.0).ln()).exp();
            let (w, h) = ((area * ratio).sqrt().min(1.0), (area / ratio).sqrt().min(1.0));
            let (cx, cy) = (rng.uniform(-(1.0 - w), 1.0 - w), rng.uniform(-(1.0 - h), 1.0 - h));
            m = mul(&m, &[[w, 0.0, cx], [0.0, h, cy], [0.0, 0.0, 1.0]]);
        }
        let fx = if rng.chance(self.flip) { -1.0 } else { 1.0 };
        let fy = if rng.chance(self.flip_vert) { -1.0 } else { 1.0 };
        if rng.chance(self.p_affine) {
            let angle = rng.uniform(-self.max_rotate, self.max_rotate).to_radians();
            let zoom = rng.uniform(self.min_zoom, self.max_zoom + 1e-12);
            // fastai's Zoom: the window of side 1/zoom sits at a random place inside the image.
            let free = (1.0 - 1.0 / zoom).max(0.0);
            let tx = rng.uniform(-free, free) + rng.uniform(-self.max_translate, self.max_translate) * 2.0;
            let ty = rng.uniform(-free, free) + rng.uniform(-self.max_translate, self.max_translate) * 2.0;
            m = mul(&m, &affine(angle, zoom, (tx, ty), (fx, fy)));
            if self.max_warp > 0.0 {
                let (wx, wy) = (rng.uniform(-self.max_warp, self.max_warp), rng.uniform(-self.max_warp, self.max_warp));
                m = mul(&m, &warp(wx, wy));
            }
        } else {
            m = mul(&m, &[[fx, 0.0, 0.0], [0.0, fy, 0.0], [0.0, 0.0, 1.0]]);
        }
        m
    }
}

/// Brightness, contrast (about mid-grey) and saturation (about each pixel's luma).
fn lighting(img: &mut [u8], channels: usize, plane: usize, shift: f64, contrast: f64, saturation: f64) {
    if channels == 3 && saturation != 1.0 {
        for i in 0..plane {
            let (r, g, b) = (img[i] as f64, img[plane + i] as f64, img[2 * plane + i] as f64);
            let luma = 0.299 * r + 0.587 * g + 0.114 * b;
            for (c, v) in [r, g, b].into_iter().enumerate() {
                img[c * plane + i] = (luma + saturation * (v - luma) + 0.5).clamp(0.0, 255.0) as u8;
            }
        }
    }
    let lut: Vec<u8> = (0..256)
        .map(|v| ((0.5 + (v as f64 / 255.0 - 0.5) * contrast + shift) * 255.0 + 0.5).clamp(0.0, 255.0) as u8)
        .collect();
    for v in img.iter_mut() {
        *v = lut[*v as usize];
    }
}

/// fastai's `RandomErasing`: one rectangle of random area (≤ `max_area`) and aspect filled with noise.
fn erase(img: &mut [u8], channels: usize, (h, w): (usize, usize), max_area: f64, rng: &mut Rng) {
    let area = rng.uniform(0.0, max_area) * (h * w) as f64;
    let aspect = rng.uniform(0.3f64.ln(), (1.0f64 / 0.3).ln()).exp();
    let eh = ((area * aspect).sqrt().round() as usize).clamp(1, h);
    let ew = ((area / aspect).sqrt().round() as usize).clamp(1, w);
    let (y0, x0) = (rng.below(h - eh + 1), rng.below(w - ew + 1));
    for c in 0..channels {
        for y in y0..y0 + eh {
            for x in x0..x0 + ew {
                img[c * h * w + y * w + x] = rng.below(256) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(h: usize, w: usize) -> Vec<u8> {
        (0..h * w).map(|i| ((i % w) * 255 / (w - 1)) as u8).collect()
    }

    #[test]
    fn no_augmentation_returns_the_image_unchanged() {
        let img = ramp(8, 8);
        let out = Augment::default().apply(&img, 1, (8, 8), (8, 8), &mut Rng::new(1));
        assert_eq!(out, img);
        assert!(Augment::default().is_identity() && !Augment::preset(AugPreset::Default).is_identity());
    }

    #[test]
    fn a_certain_flip_mirrors_the_rows() {
        let img = ramp(2, 4);
        let aug = Augment { flip: 1.0, ..Augment::default() };
        let out = aug.apply(&img, 1, (2, 4), (2, 4), &mut Rng::new(3));
        assert_eq!(&out[..4], &[255, 170, 85, 0]);
    }

    #[test]
    fn a_quarter_turn_maps_columns_to_rows() {
        // A left-to-right ramp turned by 90°: the first column of the output runs 255 → 0.
        let img = ramp(4, 4);
        let quarter = affine(std::f64::consts::FRAC_PI_2, 1.0, (0.0, 0.0), (1.0, 1.0));
        let out = sample(&img, 1, (4, 4), (4, 4), &quarter, PadMode::Zeros);
        let column: Vec<u8> = (0..4).map(|y| out[y * 4]).collect();
        assert_eq!(column, vec![255, 170, 85, 0], "{out:?}");
        let row: Vec<u8> = out[..4].to_vec();
        assert!(row.iter().all(|&v| v == 255), "the top row holds the ramp's right end: {out:?}");
    }

    #[test]
    fn the_same_seed_gives_the_same_augmentation_and_another_seed_another() {
        let img: Vec<u8> = (0..3 * 16 * 16).map(|i| (i * 7 % 251) as u8).collect();
        let aug = Augment::preset(AugPreset::Strong);
        let a = aug.apply(&img, 3, (16, 16), (12, 12), &mut Rng::new(5));
        assert_eq!(a, aug.apply(&img, 3, (16, 16), (12, 12), &mut Rng::new(5)));
        assert_ne!(a, aug.apply(&img, 3, (16, 16), (12, 12), &mut Rng::new(6)));
        assert_eq!(a.len(), 3 * 12 * 12);
    }

    #[test]
    fn contrast_keeps_mid_grey_and_brightness_shifts_it() {
        let mut img = vec![128u8, 0, 255];
        lighting(&mut img, 1, 3, 0.0, 0.5, 1.0);
        assert_eq!(img, vec![128, 64, 191]);
        let mut img = vec![128u8];
        lighting(&mut img, 1, 1, 0.2, 1.0, 1.0);
        assert_eq!(img, vec![179]);
    }

    #[test]
    fn zero_saturation_turns_colour_to_grey() {
        let mut img = vec![255u8, 0, 0];
        lighting(&mut img, 3, 1, 0.0, 1.0, 0.0);
        assert!(img[0] == img[1] && img[1] == img[2], "{img:?}");
    }

    #[test]
    fn a_padded_crop_is_a_whole_pixel_shift_with_zeros_brought_in() {
        let img: Vec<u8> = (1..=64).collect();
        let aug = Augment { crop_pad: 0.25, pad: PadMode::Zeros, ..Augment::default() };
        assert!(!aug.is_identity() && !aug.resamples());
        let mut shifts = std::collections::HashSet::new();
        for seed in 0..40 {
            let out = aug.apply(&img, 1, (8, 8), (8, 8), &mut Rng::new(seed));
            let shifted = |dx: i64, dy: i64| {
                (0..64).all(|i| {
                    let (x, y) = (i % 8 + dx, i / 8 + dy);
                    let want = if (0..8).contains(&x) && (0..8).contains(&y) { img[(y * 8 + x) as usize] } else { 0 };
                    out[i as usize] == want
                })
            };
            let found: Vec<(i64, i64)> =
                (-2..=2).flat_map(|dx| (-2..=2).map(move |dy| (dx, dy))).filter(|&(dx, dy)| shifted(dx, dy)).collect();
            assert_eq!(found.len(), 1, "seed {seed}: not a shift of at most 2 pixels");
            shifts.insert(found[0]);
        }
        assert!(shifts.len() > 10, "the shifts vary: {shifts:?}");
    }

    #[test]
    fn out_of_range_settings_are_rejected() {
        assert!(Augment { flip: 1.5, ..Augment::default() }.validate().is_err());
        assert!(Augment { min_zoom: 1.2, max_zoom: 1.1, ..Augment::default() }.validate().is_err());
        assert!(Augment::preset(AugPreset::Strong).validate().is_ok());
    }
}
