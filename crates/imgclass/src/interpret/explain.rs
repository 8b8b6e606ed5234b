//! Predictions explained (`imgclass predict --cam`): each image's top classes with the
//! Grad-CAM map of one class — the predicted one, or one named — its peak in the original
//! image's pixels, and a picture of the map over the original image.

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use serde::Serialize;

use super::cam::{CamMap, cam_layer, grad_cam, output_index};
use crate::bundle::Bundle;
use crate::data::Skipped;
use crate::data::decode_file;
use crate::error::{IoContext, Result};
use crate::infer::{FilePrediction, each_batch};
use crate::plot::{Canvas, jet};
use crate::transforms::Preprocess;

/// Which map to compute and where its pictures go.
#[derive(Debug, Clone, Default)]
pub struct CamOptions {
    /// The stage to explain (see [`crate::models::Net::stage_names`]); `None`: the last.
    pub layer: Option<String>,
    /// The class to explain, by label; `None`: each image's predicted class.
    pub class: Option<String>,
    /// A folder for one PNG per image (the map over the original image); `None`: no pictures.
    pub out: Option<PathBuf>,
}

/// One image's map, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct CamRecord {
    /// The class explained.
    pub class: String,
    /// The stage explained.
    pub layer: String,
    /// The map's peak in the original image, `[x, y]` in pixels.
    pub peak: [f32; 2],
    /// The map at the stage's resolution, rows of values in [0, 1].
    pub grid: Vec<Vec<f32>>,
    /// The picture written, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub png: Option<PathBuf>,
}

/// A prediction and the map that explains it.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainedPrediction {
    /// The file and its top classes.
    #[serde(flatten)]
    pub prediction: FilePrediction,
    /// The Grad-CAM map.
    pub cam: CamRecord,
}

/// Explained predictions for many files, with the files that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainOutput {
    /// One entry per readable image, in input order.
    pub predictions: Vec<ExplainedPrediction>,
    /// Unreadable files.
    pub skipped: Vec<Skipped>,
}

/// Top-`k` predictions of `bundle` for the image files or folders in `inputs`, each with its
/// Grad-CAM map as `options` asks.
pub fn predict_with_cam(bundle: &Bundle, inputs: &[PathBuf], k: usize, options: &CamOptions) -> Result<ExplainOutput> {
    let labels = bundle.meta().labels();
    let layer = cam_layer(bundle.net(), options.layer.as_deref())?;
    let class = options.class.as_deref().map(|name| output_index(&bundle.meta().task(), name)).transpose()?;
    let (data, skipped) = bundle.load_inputs(inputs)?;
    let predictions = bundle.answers(&data, k, false);
    let pre = bundle.meta().preprocess();
    let mut maps = Vec::new();
    each_batch(&data, pre, bundle.device(), |x, batch| {
        let classes = class.map(|c| vec![c; batch.len()]);
        maps.extend(grad_cam(bundle.net(), x, layer, classes.as_deref()));
    });
    let name = &bundle.net().stage_names()[layer];
    let predictions = maps
        .into_iter()
        .zip(predictions)
        .enumerate()
        .map(|(i, (map, prediction))| {
            let png = options.out.as_ref().map(|dir| picture_path(dir, &prediction.file, i));
            let peak = explain_file(Path::new(&prediction.file), &map, pre, png.as_deref(), bundle.max_pixels())?;
            let (class, grid) = (labels[map.class].clone(), map.grid());
            let cam = CamRecord { class, layer: name.clone(), peak, grid, png };
            Ok(ExplainedPrediction { prediction, cam })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ExplainOutput { predictions, skipped })
}

/// `DIR/<file stem>.cam.png`, numbered when two inputs share a stem.
fn picture_path(dir: &Path, file: &str, index: usize) -> PathBuf {
    let stem = Path::new(file).file_stem().map_or("image".into(), |s| s.to_string_lossy().into_owned());
    let plain = dir.join(format!("{stem}.cam.png"));
    if index == 0 || !plain.exists() { plain } else { dir.join(format!("{stem}-{index}.cam.png")) }
}

/// The peak of `map` in the pixels of the image `file`; with `png`, writes the map over the
/// image there (decoded if it declares at most `max_pixels` pixels).
fn explain_file(file: &Path, map: &CamMap, pre: &Preprocess, png: Option<&Path>, max_pixels: u64) -> Result<[f32; 2]> {
    let image = decode_file(file, max_pixels)?;
    let (iw, ih) = (image.width(), image.height());
    let place = pre.placement(iw, ih);
    let (px, py) = map.peak_in_input(pre.width(), pre.height());
    let (sx, sy) = place.to_source(px as f64, py as f64);
    let peak = [sx.clamp(0.0, iw as f64) as f32, sy.clamp(0.0, ih as f64) as f32];
    if let Some(png) = png {
        if let Some(dir) = png.parent() {
            std::fs::create_dir_all(dir).at(dir)?;
        }
        overlay(&image.to_rgb8(), map, pre, peak).save_png(png)?;
    }
    Ok(peak)
}

/// Overlays drawn at most this many pixels on the longer side.
const MAX_SIDE: u32 = 1024;
/// Opacity of the heat map.
const ALPHA: f32 = 0.5;

/// The original image, shrunk to at most [`MAX_SIDE`], with the map in the jet colormap
/// over the part the model saw (the rest dimmed) and a marker at the peak.
fn overlay(rgb: &RgbImage, map: &CamMap, pre: &Preprocess, peak: [f32; 2]) -> Canvas {
    let (iw, ih) = rgb.dimensions();
    let shrink = (MAX_SIDE as f64 / iw.max(ih) as f64).min(1.0);
    let (w, h) = (((iw as f64 * shrink).round() as u32).max(1), ((ih as f64 * shrink).round() as u32).max(1));
    let small = image::imageops::resize(rgb, w, h, image::imageops::FilterType::Triangle);
    let place = pre.placement(iw, ih);
    let (mw, mh) = (pre.width() as f64, pre.height() as f64);
    let mut canvas = Canvas { image: RgbImage::new(w, h) };
    for (x, y, p) in small.enumerate_pixels() {
        let (ix, iy) = place.to_input((x as f64 + 0.5) / shrink, (y as f64 + 0.5) / shrink);
        let seen = (0.0..mw).contains(&ix) && (0.0..mh).contains(&iy);
        let out = if seen {
            let heat = jet(map.sample(ix as f32, iy as f32, pre.width(), pre.height()));
            std::array::from_fn(|c| ((1.0 - ALPHA) * p[c] as f32 + ALPHA * heat[c] as f32).round() as u8)
        } else {
            p.0.map(|v| (v as f32 * 0.4) as u8)
        };
        canvas.image.put_pixel(x, y, Rgb(out));
    }
    let (cx, cy) = ((peak[0] as f64 * shrink) as i64, (peak[1] as f64 * shrink) as i64);
    let arm = (w.max(h) / 40).max(3) as i64;
    canvas.rect(cx - arm, cy - 1, 2 * arm as u32 + 1, 3, [255, 255, 255]);
    canvas.rect(cx - 1, cy - arm, 3, 2 * arm as u32 + 1, [255, 255, 255]);
    canvas.rect(cx - arm + 1, cy, 2 * arm as u32 - 1, 1, [0, 0, 0]);
    canvas.rect(cx, cy - arm + 1, 1, 2 * arm as u32 - 1, [0, 0, 0]);
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_of_inputs_that_share_a_stem_do_not_overwrite_each_other() {
        let t = tempfile::tempdir().unwrap();
        let first = picture_path(t.path(), "a/cat.jpg", 0);
        assert_eq!(first, t.path().join("cat.cam.png"));
        std::fs::write(&first, b"").unwrap();
        assert_eq!(picture_path(t.path(), "b/cat.png", 3), t.path().join("cat-3.cam.png"));
    }
}
