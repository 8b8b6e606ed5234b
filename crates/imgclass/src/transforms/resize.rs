//! Fitting an image to the model's input size: squish, centre crop or pad (as fastai's
//! `Resize(method=…)`), plus the colour conversions every decoded image needs (grey or RGB,
//! alpha composited onto a background, 16-bit scaled down to 8-bit).

use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView, RgbImage};
use serde::{Deserialize, Serialize};

/// How an image whose aspect ratio differs from the target's is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "clap", value(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResizeMode {
    /// Stretch to the target size, ignoring the aspect ratio.
    #[default]
    Squish,
    /// Scale the shorter side to the target, then cut the centre.
    Crop,
    /// Scale the longer side to the target, then pad the rest with black.
    #[cfg_attr(feature = "clap", value(alias = "pad_zeros"))]
    Pad,
    /// Scale the longer side to the target, then pad the rest with the image mirrored at its edges.
    PadReflect,
    /// Scale the shorter side to this many pixels, then cut the centre at the target size
    /// (ImageNet evaluation: 256 then 224). Images already at the target size are kept as they are.
    #[cfg_attr(feature = "clap", value(skip))]
    CropFrom(u32),
}

/// Resizes with a bilinear (triangle) filter widened when shrinking, as PIL's `BILINEAR`
/// does, using SIMD (`fast_image_resize`).
fn resample(rgb: &RgbImage, w: u32, h: u32) -> RgbImage {
    let mut out = RgbImage::new(w, h);
    let options = fast_image_resize::ResizeOptions::new()
        .resize_alg(fast_image_resize::ResizeAlg::Convolution(fast_image_resize::FilterType::Bilinear));
    match fast_image_resize::Resizer::new().resize(rgb, &mut out, &options) {
        Ok(()) => out,
        Err(_) => image::imageops::resize(rgb, w, h, FilterType::Triangle),
    }
}

/// Converts any decoded image to 8-bit RGB, compositing alpha onto `background`.
fn to_rgb(image: &DynamicImage, background: [u8; 3]) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let a = src[3] as u32;
        for c in 0..3 {
            dst[c] = ((src[c] as u32 * a + background[c] as u32 * (255 - a) + 127) / 255) as u8;
        }
    }
    out
}

/// Resizes `image` to `height × width` with `mode` and returns `channels × height × width`
/// bytes (channels 1 = luma, 3 = RGB).
pub(crate) fn resize_to_chw(
    image: &DynamicImage,
    height: usize,
    width: usize,
    channels: usize,
    mode: ResizeMode,
    background: [u8; 3],
) -> Vec<u8> {
    let rgb = to_rgb(image, background);
    let fitted = if rgb.dimensions() == (width as u32, height as u32) {
        rgb
    } else {
        fit(&rgb, width as u32, height as u32, mode)
    };
    to_chw(&fitted, channels)
}

/// Where a source image lands in the model's input: `input = source · scale + offset` on each
/// axis (x, y), in pixels — what a point of the input (a Grad-CAM peak) is in the original.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// Input pixels per source pixel, (x, y).
    pub scale: [f64; 2],
    /// Where the source's origin lands in the input, (x, y): negative when cropped, positive
    /// when padded.
    pub offset: [f64; 2],
}

impl Placement {
    /// The point of the input where source point `(x, y)` lands.
    pub(crate) fn to_input(self, x: f64, y: f64) -> (f64, f64) {
        (x * self.scale[0] + self.offset[0], y * self.scale[1] + self.offset[1])
    }

    /// The source point that lands at input point `(x, y)`.
    pub(crate) fn to_source(self, x: f64, y: f64) -> (f64, f64) {
        ((x - self.offset[0]) / self.scale[0], (y - self.offset[1]) / self.scale[1])
    }
}

/// The [`Placement`] of an `iw × ih` image fitted to `w × h` by `mode`, as [`fit`] does it.
pub(crate) fn placement((iw, ih): (u32, u32), (w, h): (u32, u32), mode: ResizeMode) -> Placement {
    let scaled = |(sw, sh): (u32, u32), offset: [f64; 2]| Placement {
        scale: [sw as f64 / iw as f64, sh as f64 / ih as f64],
        offset,
    };
    if (iw, ih) == (w, h) {
        return scaled((w, h), [0.0, 0.0]);
    }
    match mode {
        ResizeMode::Squish => scaled((w, h), [0.0, 0.0]),
        ResizeMode::Crop | ResizeMode::CropFrom(_) => {
            let (sw, sh) = crop_size((iw, ih), (w, h), mode);
            scaled((sw, sh), [-(((sw - w) / 2) as f64), -(((sh - h) / 2) as f64)])
        }
        ResizeMode::Pad | ResizeMode::PadReflect => {
            let (sw, sh) = pad_size((iw, ih), (w, h));
            scaled((sw, sh), [((w - sw) / 2) as f64, ((h - sh) / 2) as f64])
        }
    }
}

/// The size an image is scaled to before its centre is cut (`Crop`, `CropFrom`).
fn crop_size((iw, ih): (u32, u32), (w, h): (u32, u32), mode: ResizeMode) -> (u32, u32) {
    let cover = f64::max(w as f64 / iw as f64, h as f64 / ih as f64);
    let scale = match mode {
        ResizeMode::CropFrom(short) => f64::max(short as f64 / iw.min(ih) as f64, cover),
        _ => cover,
    };
    (((iw as f64 * scale).round() as u32).max(w), ((ih as f64 * scale).round() as u32).max(h))
}

/// The size an image is scaled to before it is padded (`Pad`, `PadReflect`).
fn pad_size((iw, ih): (u32, u32), (w, h): (u32, u32)) -> (u32, u32) {
    let scale = f64::min(w as f64 / iw as f64, h as f64 / ih as f64);
    (((iw as f64 * scale).round() as u32).clamp(1, w), ((ih as f64 * scale).round() as u32).clamp(1, h))
}

/// `rgb` brought to `w × h` as `mode` says.
fn fit(rgb: &RgbImage, w: u32, h: u32, mode: ResizeMode) -> RgbImage {
    let (iw, ih) = rgb.dimensions();
    match mode {
        ResizeMode::Squish => resample(rgb, w, h),
        ResizeMode::Crop | ResizeMode::CropFrom(_) => {
            let (sw, sh) = crop_size((iw, ih), (w, h), mode);
            let scaled = resample(rgb, sw, sh);
            DynamicImage::ImageRgb8(scaled).crop_imm((sw - w) / 2, (sh - h) / 2, w, h).to_rgb8()
        }
        ResizeMode::Pad | ResizeMode::PadReflect => {
            let (sw, sh) = pad_size((iw, ih), (w, h));
            let scaled = resample(rgb, sw, sh);
            let (x0, y0) = ((w - sw) / 2, (h - sh) / 2);
            if mode == ResizeMode::Pad {
                let mut canvas = RgbImage::new(w, h);
                image::imageops::replace(&mut canvas, &scaled, x0 as i64, y0 as i64);
                return canvas;
            }
            // Mirror about the edge pixels: -1 → 1, n → n - 2.
            let mirror = |p: i64, n: u32| -> u32 {
                let (n, period) = (n as i64, 2 * (n as i64 - 1).max(1));
                let m = p.rem_euclid(period);
                (if n == 1 {
                    0
                } else if m >= n {
                    period - m
                } else {
                    m
                }) as u32
            };
            RgbImage::from_fn(w, h, |x, y| {
                *scaled.get_pixel(mirror(x as i64 - x0 as i64, sw), mirror(y as i64 - y0 as i64, sh))
            })
        }
    }
}

/// The pixels of `image` as `channels` planes (1: BT.601 luma, as PIL's `convert('L')`; 3: RGB).
fn to_chw(image: &RgbImage, channels: usize) -> Vec<u8> {
    let plane = (image.width() * image.height()) as usize;
    let mut out = vec![0u8; channels * plane];
    for (i, p) in image.pixels().enumerate() {
        if channels == 1 {
            out[i] = ((p[0] as u32 * 299 + p[1] as u32 * 587 + p[2] as u32 * 114 + 500) / 1000) as u8;
        } else {
            for c in 0..3 {
                out[c * plane + i] = p[c];
            }
        }
    }
    out
}

/// True when every pixel of `image` has equal red, green and blue (or the image has no colour).
pub(crate) fn is_grey(image: &DynamicImage) -> bool {
    use image::ColorType::*;
    match image.color() {
        L8 | La8 | L16 | La16 => true,
        _ => image.pixels().all(|(_, _, p)| p[0] == p[1] && p[1] == p[2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgba, RgbaImage};

    #[test]
    fn crop_keeps_the_centre_of_a_wide_image() {
        // 6×2 image: left third red, middle green, right blue; crop to 2×2 keeps green.
        let mut img = RgbImage::new(6, 2);
        for (x, _, p) in img.enumerate_pixels_mut() {
            *p = match x / 2 {
                0 => image::Rgb([255, 0, 0]),
                1 => image::Rgb([0, 255, 0]),
                _ => image::Rgb([0, 0, 255]),
            };
        }
        let out = resize_to_chw(&DynamicImage::ImageRgb8(img), 2, 2, 3, ResizeMode::Crop, [0; 3]);
        assert_eq!(&out[4..8], &[255, 255, 255, 255], "green plane is full: {out:?}");
        assert_eq!(&out[0..4], &[0, 0, 0, 0]);
    }

    #[test]
    fn a_placement_maps_the_source_onto_the_input_as_the_resize_places_it() {
        // 600×200 into 100×100: squished, its centre cut (300×100 scaled, 100 cut each side),
        // or letterboxed (100×33, 33 rows of padding above).
        let p = placement((600, 200), (100, 100), ResizeMode::Squish);
        assert_eq!(p.to_input(600.0, 200.0), (100.0, 100.0));
        let p = placement((600, 200), (100, 100), ResizeMode::Crop);
        assert_eq!(p.to_input(300.0, 100.0), (50.0, 50.0), "the centre stays the centre");
        assert_eq!(p.to_input(200.0, 0.0), (-0.0, 0.0), "a third in is the crop's left edge");
        let p = placement((600, 200), (100, 100), ResizeMode::Pad);
        assert_eq!(p.to_input(0.0, 0.0), (0.0, 33.0));
        assert_eq!(p.to_source(50.0, 50.0), (300.0, (50.0 - 33.0) * 200.0 / 33.0));
        let p = placement((100, 100), (100, 100), ResizeMode::CropFrom(120));
        assert_eq!(p.to_input(7.0, 9.0), (7.0, 9.0), "an image at the target size is kept as it is");
    }

    #[test]
    fn pad_letterboxes_with_black() {
        let img = RgbImage::from_pixel(4, 2, image::Rgb([200, 200, 200]));
        let out = resize_to_chw(&DynamicImage::ImageRgb8(img), 4, 4, 1, ResizeMode::Pad, [0; 3]);
        assert_eq!(&out[0..4], &[0, 0, 0, 0], "top row is padding");
        assert_eq!(&out[4..8], &[200, 200, 200, 200]);
    }

    #[test]
    fn reflect_padding_mirrors_the_image_into_the_border() {
        // A 4×2 image with a bright top row, padded to 4×4: the rows above and below mirror it.
        let mut img = RgbImage::from_pixel(4, 2, image::Rgb([0, 0, 0]));
        for x in 0..4 {
            img.put_pixel(x, 0, image::Rgb([200, 200, 200]));
        }
        let out = resize_to_chw(&DynamicImage::ImageRgb8(img), 4, 4, 1, ResizeMode::PadReflect, [0; 3]);
        let rows: Vec<u8> = (0..4).map(|r| out[r * 4]).collect();
        assert_eq!(rows, vec![0, 200, 0, 200], "{out:?}");
    }

    #[test]
    fn transparent_pixels_take_the_background_colour() {
        let img = RgbaImage::from_pixel(1, 1, Rgba([0, 0, 0, 0]));
        let out = resize_to_chw(&DynamicImage::ImageRgba8(img), 1, 1, 3, ResizeMode::Squish, [255, 255, 255]);
        assert_eq!(out, vec![255, 255, 255]);
    }

    #[test]
    fn sixteen_bit_images_are_scaled_to_eight_bits() {
        let img = image::ImageBuffer::<image::Luma<u16>, _>::from_pixel(1, 1, image::Luma([65535u16]));
        let out = resize_to_chw(&DynamicImage::ImageLuma16(img), 1, 1, 1, ResizeMode::Squish, [0; 3]);
        assert_eq!(out, vec![255]);
    }
}
