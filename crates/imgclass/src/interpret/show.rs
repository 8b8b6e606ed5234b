//! A picture of a batch (fastai's `show_batch`): the training images as the model sees them,
//! before normalization, each with its label; with augmentation, every image beside several
//! augmented versions of it (fastai's `show_batch(unique=True)`).

use std::path::Path;

use crate::config::TrainConfig;
use crate::data::targets::target_text;
use crate::data::{ImageData, Loader, Skipped, Source, Split};
use crate::error::{Error, Result};
use crate::plot::{Canvas, Tile, captioned_grid, captioned_rows};
use crate::transforms::{Augment, Preprocess};
use crate::util::rng::Rng;

/// Tiles are drawn at least this many pixels wide (small images are enlarged, pixel for pixel).
const MIN_TILE: usize = 96;

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
    let data = &loaded.data;
    let caption = |i: usize| target_text(source.task(), source.classes(), data.labels()[i], data.targets(i));
    batch_grid(data, &pre, &caption, &shown, augment, versions, config.seed)?.save_png(out)?;
    Ok(loaded.skipped)
}

/// Draws images `indices` of `data`, each captioned by `caption(i)` (its class, labels or
/// numbers). Without `augment` they form a
/// near-square grid; with it, one row per image: the plain image, then `versions` augmented
/// ones (drawn as epochs 1, 2, … would draw them with `seed`).
pub(crate) fn batch_grid(
    data: &ImageData,
    pre: &Preprocess,
    caption: &dyn Fn(usize) -> String,
    indices: &[usize],
    augment: Option<&Augment>,
    versions: usize,
    seed: u64,
) -> Result<Canvas> {
    let dims = (pre.height(), pre.width());
    let plain = Loader::new(data, pre);
    let tile = |bytes: Vec<u8>, caption: String| Tile { bytes, captions: vec![(caption, [0, 0, 0])], heat: None };
    let mut tiles = Vec::new();
    for &i in indices {
        let label = &caption(i);
        tiles.push(tile(plain.item(i)?, label.clone()));
        if let Some(aug) = augment {
            for v in 0..versions {
                let bytes = Loader::new(data, pre).augmented(aug, seed, v + 1).item(i)?;
                tiles.push(tile(bytes, format!("{label}, draw {}", v + 1)));
            }
        }
    }
    Ok(match augment {
        None => captioned_grid("training images", dims, MIN_TILE, &tiles),
        Some(_) => {
            let title = format!("an image, then {versions} augmented draws");
            captioned_rows(&title, dims, MIN_TILE, 1 + versions, &tiles)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::{AugPreset, ResizeMode};

    fn class_of(i: usize) -> String {
        ["a", "b"][i % 2].to_string()
    }

    fn data() -> ImageData {
        ImageData {
            pixels: (0..4 * 64).map(|i| (i * 13 % 256) as u8).collect(),
            labels: vec![0, 1, 0, 1],
            names: vec![String::new(); 4],
            hashes: vec![0; 4],
            image_len: 64,
            size: (8, 8),
            ..Default::default()
        }
    }

    #[test]
    fn a_plain_batch_is_a_near_square_grid_of_enlarged_tiles() {
        let pre = Preprocess::new(8, 8, 1, ResizeMode::Squish);
        let c = batch_grid(&data(), &pre, &class_of, &[0, 1, 2, 3], None, 0, 0).unwrap();
        // 2 × 2 tiles of 96 px, 8 px apart, a 14-px caption under each, a 20-px title.
        assert_eq!(c.image.width(), 2 * (96 + 8) + 8);
        assert_eq!(c.image.height(), 20 + 2 * (96 + 14 + 8) + 8);
    }

    #[test]
    fn an_augmented_batch_has_a_row_per_image_and_a_column_per_version() {
        let pre = Preprocess::new(8, 8, 1, ResizeMode::Squish);
        let aug = Augment::preset(AugPreset::Default);
        let c = batch_grid(&data(), &pre, &class_of, &[0, 1], Some(&aug), 3, 0).unwrap();
        assert_eq!(c.image.width(), 4 * (96 + 8) + 8);
        assert_eq!(c.image.height(), 20 + 2 * (96 + 14 + 8) + 8);
    }
}
