//! What a convolution does (`imgclass filters`, `imgclass activations`): classic image
//! kernels (edges, Sobel, Laplacian, sharpen, blurs, emboss, or one's own) applied to an image
//! with a chosen stride and padding — by Burn's `conv2d`, the op the networks' layers run —;
//! a trained network's first-layer filters; and the feature maps a layer computes.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use serde::Serialize;

use super::cam::cam_layer;
use crate::bundle::Bundle;
use crate::data::{MAX_PIXELS, decode_file};
use crate::error::{Error, Result};
use crate::plot::{Tile, captioned_grid};

/// A named classic kernel, or one's own.
#[derive(Debug, Clone, PartialEq)]
pub enum Kernel {
    /// Edges in every direction (the 8-neighbour Laplacian of many tutorials).
    Edge,
    /// Horizontal change (vertical edges).
    SobelX,
    /// Vertical change (horizontal edges).
    SobelY,
    /// The 4-neighbour Laplacian.
    Laplacian,
    /// Sharpening.
    Sharpen,
    /// 3×3 mean.
    BoxBlur,
    /// 3×3 Gaussian (1 2 1 / 16).
    GaussianBlur,
    /// Relief.
    Emboss,
    /// A square kernel of one's own, row by row.
    Custom(Vec<Vec<f32>>),
}

impl Kernel {
    /// The kernel called `name` (`edge`, `sobel_x`, `sobel_y`, `laplacian`, `sharpen`,
    /// `box_blur`, `gaussian_blur`, `emboss`), or a custom one written as JSON rows
    /// (`[[0,-1,0],[-1,5,-1],[0,-1,0]]`).
    pub fn parse(name: &str) -> Result<Kernel> {
        let named = match name {
            "edge" => Kernel::Edge,
            "sobel_x" => Kernel::SobelX,
            "sobel_y" => Kernel::SobelY,
            "laplacian" => Kernel::Laplacian,
            "sharpen" => Kernel::Sharpen,
            "box_blur" => Kernel::BoxBlur,
            "gaussian_blur" => Kernel::GaussianBlur,
            "emboss" => Kernel::Emboss,
            custom => {
                let bad = |why: &str| {
                    Error::config(
                        "kernel",
                        format!(
                            "{custom:?} {why}: name one of edge, sobel_x, sobel_y, laplacian, sharpen, box_blur, \
                             gaussian_blur, emboss, or give square rows such as '[[0,-1,0],[-1,5,-1],[0,-1,0]]'"
                        ),
                    )
                };
                let rows: Vec<Vec<f32>> = serde_json::from_str(custom).map_err(|_| bad("is not a kernel"))?;
                if !is_square(&rows) {
                    return Err(bad("is not square"));
                }
                Kernel::Custom(rows)
            }
        };
        Ok(named)
    }

    /// Its name, or its rows for a custom one.
    pub fn name(&self) -> String {
        match self {
            Kernel::Edge => "edge".into(),
            Kernel::SobelX => "sobel_x".into(),
            Kernel::SobelY => "sobel_y".into(),
            Kernel::Laplacian => "laplacian".into(),
            Kernel::Sharpen => "sharpen".into(),
            Kernel::BoxBlur => "box_blur".into(),
            Kernel::GaussianBlur => "gaussian_blur".into(),
            Kernel::Emboss => "emboss".into(),
            Kernel::Custom(rows) => serde_json::to_string(rows).unwrap_or_default(),
        }
    }

    /// Its rows.
    pub fn rows(&self) -> Vec<Vec<f32>> {
        let r = |v: [[f32; 3]; 3]| v.iter().map(|row| row.to_vec()).collect();
        match self {
            Kernel::Edge => r([[-1., -1., -1.], [-1., 8., -1.], [-1., -1., -1.]]),
            Kernel::SobelX => r([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]]),
            Kernel::SobelY => r([[-1., -2., -1.], [0., 0., 0.], [1., 2., 1.]]),
            Kernel::Laplacian => r([[0., 1., 0.], [1., -4., 1.], [0., 1., 0.]]),
            Kernel::Sharpen => r([[0., -1., 0.], [-1., 5., -1.], [0., -1., 0.]]),
            Kernel::BoxBlur => r([[1. / 9.; 3]; 3]),
            Kernel::GaussianBlur => {
                r([[1. / 16., 2. / 16., 1. / 16.], [2. / 16., 4. / 16., 2. / 16.], [1. / 16., 2. / 16., 1. / 16.]])
            }
            Kernel::Emboss => r([[-2., -1., 0.], [-1., 1., 1.], [0., 1., 2.]]),
            Kernel::Custom(rows) => rows.clone(),
        }
    }
}

/// A filtered image.
#[derive(Debug, Clone, Serialize)]
pub struct Filtered {
    /// The kernel's name.
    pub kernel: String,
    /// Input height and width.
    pub input: [usize; 2],
    /// Output height and width.
    pub output: [usize; 2],
    /// The output as grey bytes (values mapped to 0–255: clamped, or — for kernels that sum to
    /// 0, whose outputs are signed — their magnitude scaled to the largest).
    #[serde(skip)]
    pub pixels: Vec<u8>,
}

/// `image`'s grey plane convolved with each kernel at `stride`, with "same" (`same`) or no
/// padding, by Burn's `conv2d`.
pub fn apply_kernels(image: &Path, kernels: &[Kernel], stride: usize, same: bool) -> Result<(Vec<u8>, Vec<Filtered>)> {
    let grey = decode_file(image, MAX_PIXELS)?.to_luma8();
    let (w, h) = (grey.width() as usize, grey.height() as usize);
    let pixels = grey.into_raw();
    let device = Device::flex();
    let plane: Vec<f32> = pixels.iter().map(|&v| v as f32).collect();
    let mut out = Vec::new();
    for kernel in kernels {
        let rows = kernel.rows();
        if !is_square(&rows) {
            return Err(Error::config("kernel", format!("{} is not square", kernel.name())));
        }
        let k = rows.len();
        let pad = if same { k - 1 } else { 0 };
        let (ph, pw) = (h + pad, w + pad);
        let x = Tensor::<4>::from_data(TensorData::new(padded(&plane, [h, w], pad), [1, 1, ph, pw]), &device);
        if !same && (k > h || k > w) {
            return Err(Error::config("kernel", format!("({k}×{k}) does not fit a {w}×{h} image without padding")));
        }
        let weights = Tensor::<4>::from_data(TensorData::new(rows.concat(), [1, 1, k, k]), &device);
        let y = conv2d(x, weights, None, ConvOptions::new([stride, stride], [0, 0], [1, 1], 1));
        let [_, _, oh, ow] = y.dims();
        let values = y.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 values");
        let signed = rows.concat().iter().sum::<f32>().abs() < 1e-6;
        let peak = values.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        let pixels = values
            .iter()
            .map(|v| if signed { (v.abs() / peak * 255.0) as u8 } else { v.clamp(0.0, 255.0) as u8 })
            .collect();
        out.push(Filtered { kernel: kernel.name(), input: [h, w], output: [oh, ow], pixels });
    }
    Ok((pixels, out))
}

/// Whether `rows` are a non-empty square.
fn is_square(rows: &[Vec<f32>]) -> bool {
    !rows.is_empty() && rows.iter().all(|r| r.len() == rows.len())
}

/// The `h × w` plane with `pad` rows and columns of zeros around it as PyTorch's
/// `padding='same'` places them: half before, the odd one after (right and bottom), so an
/// even-sized kernel keeps the size at stride 1 too.
fn padded(plane: &[f32], [h, w]: [usize; 2], pad: usize) -> Vec<f32> {
    let (before, pw) = (pad / 2, w + pad);
    let mut out = vec![0.0; (h + pad) * pw];
    for (y, row) in plane.chunks(w).enumerate() {
        out[(y + before) * pw + before..][..w].copy_from_slice(row);
    }
    out
}

/// Writes the original image and each filtered one side by side, captioned with the kernel
/// and the sizes (stride and padding show there), as PNG to `path`.
pub fn save_filtered(original: &[u8], filtered: &[Filtered], path: &Path) -> Result<()> {
    let [h, w] = filtered.first().map_or([1, 1], |f| f.input);
    let mut tiles = vec![Tile { bytes: original.to_vec(), captions: vec![("original".into(), [0, 0, 0])], heat: None }];
    for f in filtered {
        // Smaller outputs (stride, no padding) sit in the top-left corner of the input's size.
        let mut bytes = vec![255u8; h * w];
        for y in 0..f.output[0] {
            bytes[y * w..y * w + f.output[1]].copy_from_slice(&f.pixels[y * f.output[1]..][..f.output[1]]);
        }
        let size = format!("{}x{} -> {}x{}", w, h, f.output[1], f.output[0]);
        tiles.push(Tile { bytes, captions: vec![(f.kernel.clone(), [0, 0, 0]), (size, [80, 80, 80])], heat: None });
    }
    captioned_grid("convolutions", (h, w), 160, &tiles).save_png(path)
}

/// Maps each of `planes` (`n × (h·w)` values) to 0–255 over `lo..hi`.
fn to_bytes(values: &[f32], lo: f32, hi: f32) -> Vec<u8> {
    values.iter().map(|v| ((v - lo) / (hi - lo).max(1e-12) * 255.0).clamp(0.0, 255.0) as u8).collect()
}

/// Writes a trained model's first-layer filters as a grid (one colour tile per filter for RGB
/// input, grey for grey input; one scale for all, so their strengths compare) to `path`.
pub fn save_first_filters(bundle: &Bundle, path: &Path) -> Result<usize> {
    let w = bundle
        .net()
        .first_conv_weights()
        .ok_or_else(|| Error::config("model", "has no convolution: its first layer is dense (logreg, mlp)"))?;
    let [n, c, k, _] = w.dims();
    let values = w.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 weights");
    let (lo, hi) = values.iter().fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    let bytes = to_bytes(&values, lo, hi);
    let tiles: Vec<Tile> = bytes
        .chunks(c * k * k)
        .enumerate()
        .map(|(i, f)| {
            // A filter of 2 or more than 3 channels is shown by its first channel.
            let f = if c == 3 { f.to_vec() } else { f[..k * k].to_vec() };
            Tile { bytes: f, captions: vec![(format!("{}", i + 1), [80, 80, 80])], heat: None }
        })
        .collect();
    let title = format!("first layer: {n} filters {k}x{k}x{c}");
    captioned_grid(&title, (k, k), 48, &tiles).save_png(path)?;
    Ok(n)
}

/// Writes the feature maps of stage `layer` (by name; the first when `None`) for the image
/// `image` as a grid (the first 64 channels, each scaled to its own range) to `path`. Returns
/// the stage's name and its output shape `[channels, h, w]`.
pub fn save_activations(
    bundle: &Bundle,
    image: &Path,
    layer: Option<&str>,
    path: &Path,
) -> Result<(String, [usize; 3])> {
    let net = bundle.net();
    let stage = match layer {
        None => {
            cam_layer(net, None)?;
            0
        }
        Some(l) => cam_layer(net, Some(l))?,
    };
    let pre = bundle.meta().preprocess();
    let mut x = Vec::new();
    pre.normalize_into(&pre.apply(&decode_file(image, MAX_PIXELS)?), &mut x);
    let shape = [1, pre.input_channels(), pre.height(), pre.width()];
    let a = net.forward_to(Tensor::from_data(TensorData::new(x, shape), bundle.device()), stage);
    let [_, c, h, w] = a.dims();
    let values = a.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 activations");
    let tiles: Vec<Tile> = values
        .chunks(h * w)
        .take(64)
        .enumerate()
        .map(|(i, m)| {
            let (lo, hi) = m.iter().fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
            Tile { bytes: to_bytes(m, lo, hi), captions: vec![(format!("{}", i + 1), [80, 80, 80])], heat: None }
        })
        .collect();
    let name = net.stage_names()[stage].clone();
    let title = format!("{name}: {c} maps of {w}x{h}{}", if c > 64 { " (first 64)" } else { "" });
    captioned_grid(&title, (h, w), 64, &tiles).save_png(path)?;
    Ok((name, [c, h, w]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_parse_by_name_or_as_square_rows() {
        assert_eq!(Kernel::parse("sobel_x").unwrap(), Kernel::SobelX);
        assert_eq!(Kernel::parse("[[0,1],[1,0]]").unwrap().rows(), vec![vec![0.0, 1.0], vec![1.0, 0.0]]);
        assert!(Kernel::parse("[[1,2],[3]]").unwrap_err().to_string().contains("not square"));
        assert!(Kernel::parse("blurry").unwrap_err().to_string().contains("sobel_x"));
        let blur: f32 = Kernel::GaussianBlur.rows().concat().iter().sum();
        assert!((blur - 1.0).abs() < 1e-6, "a blur keeps the brightness");
    }

    #[test]
    fn a_sobel_filter_finds_a_vertical_edge_and_stride_and_padding_set_the_size() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("edge.png");
        // Left half black, right half white: one vertical edge between columns 3 and 4.
        image::GrayImage::from_fn(8, 6, |x, _| image::Luma([if x < 4 { 0 } else { 255 }])).save(&path).unwrap();
        let (_, out) = apply_kernels(&path, &[Kernel::SobelX, Kernel::SobelY], 1, false).unwrap();
        assert_eq!(out[0].output, [4, 6], "valid: 6×8 → 4×6");
        let row = &out[0].pixels[..6];
        assert_eq!(row, &[0, 0, 255, 255, 0, 0], "the edge lights up where the window straddles it");
        assert!(out[1].pixels.iter().all(|&v| v == 0), "no horizontal edge");
        let (_, same) = apply_kernels(&path, &[Kernel::BoxBlur], 2, true).unwrap();
        assert_eq!(same[0].output, [3, 4], "same padding at stride 2: ⌈6/2⌉ × ⌈8/2⌉");
    }

    #[test]
    fn an_even_sized_kernel_with_same_padding_keeps_the_size_and_pads_right_and_bottom_as_pytorch() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("ramp.png");
        image::GrayImage::from_fn(5, 4, |x, y| image::Luma([(10 * x + y) as u8])).save(&path).unwrap();
        let kernel = Kernel::parse("[[1,2],[3,4]]").unwrap();
        let (original, out) = apply_kernels(&path, std::slice::from_ref(&kernel), 1, true).unwrap();
        assert_eq!(out[0].output, [4, 5], "same padding at stride 1 keeps 4×5");
        // PyTorch, padding='same': the extra row and column of zeros go right and bottom, so
        // the top-left output sees pixels (0,0) (0,1) (1,0) (1,1) = 0, 10, 1, 11.
        assert_eq!(out[0].pixels[0], (2 * 10 + 3 + 4 * 11) as u8);
        assert_eq!(out[0].pixels[4], (40 + 3 * 41) as u8, "the last column sees zeros on its right");
        save_filtered(&original, &out, &t.path().join("out.png")).unwrap();
        assert!(Kernel::parse("[]").unwrap_err().to_string().contains("not square"));
        let ragged = Kernel::Custom(vec![vec![1.0, 2.0], vec![3.0]]);
        assert!(apply_kernels(&path, &[ragged], 1, true).unwrap_err().to_string().contains("not square"));
    }
}
