//! A picture of a batch (fastai's `show_batch`): the training images as the model sees them,
//! before normalization, each with its label; with augmentation, every image beside several
//! augmented versions of it (fastai's `show_batch(unique=True)`).

use std::path::Path;

use crate::config::TrainConfig;
use crate::data::{ImageData, Loader, Skipped, Source, Split};
use crate::error::{Error, Result};
use crate::plot::Canvas;
use crate::transforms::{Augment, Preprocess};
use crate::util::rng::Rng;

/// Tiles are drawn at least this many pixels wide (small images are enlarged, pixel for pixel).
const MIN_TILE: usize = 96;
const GAP: u32 = 6;
const LABEL: u32 = 14;

/// Draws `count` training images of `source` (as `config` would split, size and store them)
/// into a PNG at `out`; with augmentation in `config`, each image beside `versions` augmented
/// draws of it. Returns the files that could not be read.
pub fn save_batch_picture(
    config: &TrainConfig,
    source: &Source,
    count: usize,
    versions: usize,
    out: &Path,
) -> Result<Vec<Skipped>> {
    let size = config.input_size(source);
    let pre = config.preprocess(source, size);
    let splits = source.split(config.split_options());
    let mut train: Vec<usize> = (0..splits.len()).filter(|&i| splits[i] == Split::Train).collect();
    Rng::new(config.seed).shuffle(&mut train);
    // Decode a few more than shown, in case some cannot be read.
    train.truncate(count + count / 2 + 4);
    let stored = config.load_options(size).stored(&pre);
    let loaded = source.load(&train, &stored, true, &|_, _| {});
    let shown: Vec<usize> = (0..loaded.data.len().min(count)).collect();
    if shown.is_empty() {
        return Err(Error::BadDataset {
            path: source.root().into(),
            message: "no readable training image to show".into(),
        });
    }
    let augment = &config.transforms.augment;
    let augment = (!augment.is_identity()).then_some(augment);
    batch_grid(&loaded.data, &pre, source.classes(), &shown, augment, versions, config.seed)?.save_png(out)?;
    Ok(loaded.skipped)
}

/// Draws images `indices` of `data` with their class names. Without `augment` they form a
/// near-square grid; with it, one row per image: the plain image, then `versions` augmented
/// ones (drawn as epochs 1, 2, … would draw them with `seed`).
pub(crate) fn batch_grid(
    data: &ImageData,
    pre: &Preprocess,
    classes: &[String],
    indices: &[usize],
    augment: Option<&Augment>,
    versions: usize,
    seed: u64,
) -> Result<Canvas> {
    let (h, w) = (pre.height(), pre.width());
    let zoom = MIN_TILE.div_ceil(w.max(h)).max(1);
    let (tw, th) = ((w * zoom) as u32, (h * zoom) as u32);
    let plain = Loader::new(data, pre);
    let columns = match augment {
        Some(_) => 1 + versions,
        None => (indices.len() as f64).sqrt().ceil().max(1.0) as usize,
    };
    let rows = match augment {
        Some(_) => indices.len(),
        None => indices.len().div_ceil(columns),
    };
    let header = if augment.is_some() { LABEL + GAP } else { 0 };
    let mut canvas = Canvas::new(columns as u32 * (tw + GAP) + GAP, header + rows as u32 * (th + LABEL + GAP) + GAP);
    if augment.is_some() {
        canvas.text(GAP as i64, 4, "original", 1, [0, 0, 0]);
        canvas.text((GAP + tw + GAP) as i64, 4, &format!("augmented ({versions} draws)"), 1, [0, 0, 0]);
    }
    let tile = |canvas: &mut Canvas, slot: usize, bytes: &[u8], label: &str| {
        let (col, row) = (slot % columns, slot / columns);
        let (x0, y0) = (GAP + col as u32 * (tw + GAP), header + GAP + row as u32 * (th + LABEL + GAP));
        canvas.chw_image(x0, y0 + LABEL, bytes, (h, w), zoom, |_, _| None);
        let max_chars = (tw / 8) as usize;
        let text: String = label.chars().take(max_chars).collect();
        canvas.text(x0 as i64, y0 as i64 + 3, &text, 1, [0, 0, 0]);
    };
    for (k, &i) in indices.iter().enumerate() {
        let label = &classes[data.labels[i]];
        match augment {
            None => tile(&mut canvas, k, &plain.item(i)?, label),
            Some(aug) => {
                tile(&mut canvas, k * columns, &plain.item(i)?, label);
                for v in 0..versions {
                    let bytes = Loader::new(data, pre).augmented(aug, seed, v + 1).item(i)?;
                    tile(&mut canvas, k * columns + 1 + v, &bytes, label);
                }
            }
        }
    }
    Ok(canvas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::{AugPreset, ResizeMode};

    fn data() -> ImageData {
        ImageData {
            pixels: (0..4 * 64).map(|i| (i * 13 % 256) as u8).collect(),
            labels: vec![0, 1, 0, 1],
            names: vec![String::new(); 4],
            hashes: vec![0; 4],
            image_len: 64,
            size: (8, 8),
            stream: None,
        }
    }

    #[test]
    fn a_plain_batch_is_a_near_square_grid_of_enlarged_tiles() {
        let pre = Preprocess::new(8, 8, 1, ResizeMode::Squish);
        let c = batch_grid(&data(), &pre, &["a".into(), "b".into()], &[0, 1, 2, 3], None, 0, 0).unwrap();
        assert_eq!(c.image.width(), 2 * (96 + GAP) + GAP);
        assert_eq!(c.image.height(), 2 * (96 + LABEL + GAP) + GAP);
    }

    #[test]
    fn an_augmented_batch_has_a_row_per_image_and_a_column_per_version() {
        let pre = Preprocess::new(8, 8, 1, ResizeMode::Squish);
        let aug = Augment::preset(AugPreset::Default);
        let c = batch_grid(&data(), &pre, &["a".into(), "b".into()], &[0, 1], Some(&aug), 3, 0).unwrap();
        assert_eq!(c.image.width(), 4 * (96 + GAP) + GAP);
        assert_eq!(c.image.height(), LABEL + GAP + 2 * (96 + LABEL + GAP) + GAP);
    }
}
