//! Decoding a source's items in parallel into [`ImageData`], with the content hash of each
//! file, the per-channel statistics of the stored bytes, and the list of unreadable files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::decode::{decode_bytes, read_image};
use super::images::{ImageData, Streamed};
use super::{Item, Origin, Skipped, Source};
use crate::error::{Error, Result};
use crate::transforms::resize::is_grey;
use crate::transforms::{PixelStats, Preprocess};
use crate::util::rng::{FNV_OFFSET, fnv1a};

/// What [`Source::load`] gives: the images, what was skipped, whether every image was grey,
/// and the per-channel pixel statistics.
#[derive(Debug)]
pub struct Loaded {
    /// The images.
    pub data: ImageData,
    /// Files that could not be read.
    pub skipped: Vec<Skipped>,
    /// Every image had R = G = B.
    pub all_grey: bool,
    /// Per-channel sums over the stored bytes.
    pub stats: PixelStats,
}

impl Source {
    /// Decodes an item and hashes its content (the file's bytes, or the IDX image's pixels).
    fn decode(&self, item: &Item) -> Result<(image::DynamicImage, u64)> {
        match &item.origin {
            Origin::File(p) => {
                let bytes = read_image(p)?;
                Ok((decode_bytes(&bytes, p, self.max_pixels)?, fnv1a(FNV_OFFSET, &bytes)))
            }
            Origin::Idx { part, index } => {
                let p = &self.idx[*part];
                let n = p.height * p.width;
                let bytes = p.pixels[index * n..(index + 1) * n].to_vec();
                let hash = fnv1a(FNV_OFFSET, &bytes);
                let image = image::GrayImage::from_raw(p.width as u32, p.height as u32, bytes)
                    .map(image::DynamicImage::ImageLuma8)
                    .ok_or_else(|| Error::BadIdx { path: self.root.clone(), message: "image size mismatch".into() })?;
                Ok((image, hash))
            }
        }
    }

    /// Decodes the items at `indices` in parallel and maps each `(item index, result)` with
    /// `f`, calling `progress(done, total)` as they finish (every 256 images and at the end).
    pub(crate) fn par_decode<T: Send>(
        &self,
        indices: &[usize],
        progress: &(dyn Fn(usize, usize) + Sync),
        f: impl Fn(usize, Result<(image::DynamicImage, u64)>) -> T + Sync,
    ) -> Vec<T> {
        let done = AtomicUsize::new(0);
        let total = indices.len();
        indices
            .par_iter()
            .map(|&i| {
                let out = f(i, self.decode(&self.items[i]));
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                if d.is_multiple_of(256) || d == total {
                    progress(d, total);
                }
                out
            })
            .collect()
    }

    /// Decodes and preprocesses the items at `indices` in parallel. Images that fail to
    /// decode are left out and returned as [`Skipped`]. With `keep` false only the labels,
    /// names and hashes are kept and the images are streamed from their files later.
    /// `progress(done, total)` is called as images finish.
    pub fn load(
        &self,
        indices: &[usize],
        pre: &Preprocess,
        keep: bool,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Loaded {
        let decoded: Vec<Result<(Vec<u8>, bool, u64)>> =
            self.par_decode(indices, progress, |_, r| r.map(|(img, hash)| (pre.apply(&img), is_grey(&img), hash)));
        let mut data = ImageData { image_len: pre.image_len(), size: (pre.height, pre.width), ..Default::default() };
        if keep {
            data.pixels.reserve(indices.len() * pre.image_len());
        }
        let mut out = Loaded { data, skipped: Vec::new(), all_grey: true, stats: PixelStats::new(pre.channels) };
        let data = &mut out.data;
        let mut files = Vec::new();
        for (&i, r) in indices.iter().zip(decoded) {
            match r {
                Ok((bytes, grey, hash)) => {
                    out.all_grey &= grey;
                    out.stats.add(&bytes, pre.height * pre.width);
                    if keep {
                        data.pixels.extend_from_slice(&bytes);
                    } else if let Origin::File(p) = &self.items[i].origin {
                        files.push(p.clone());
                    }
                    data.labels.push(self.items[i].label);
                    data.targets.extend_from_slice(&self.items[i].values);
                    data.names.push(self.name(i));
                    data.hashes.push(hash);
                }
                Err(e) => out.skipped.push(Skipped { path: PathBuf::from(self.name(i)), reason: e.reason() }),
            }
        }
        if !keep {
            data.stream = Some(Streamed { files, preprocess: pre.clone(), max_pixels: self.max_pixels });
        }
        out
    }

    /// The items at `indices` as a split streamed from their files, without reading them now
    /// (a file that cannot be read is reported when a batch needs it). IDX items are read
    /// from memory.
    pub fn streamed(&self, indices: &[usize], pre: &Preprocess) -> ImageData {
        let files: Vec<PathBuf> = indices
            .iter()
            .filter_map(|&i| match &self.items[i].origin {
                Origin::File(p) => Some(p.clone()),
                Origin::Idx { .. } => None,
            })
            .collect();
        if files.len() < indices.len() {
            return self.load(indices, pre, true, &|_, _| {}).data;
        }
        ImageData {
            pixels: Vec::new(),
            labels: indices.iter().map(|&i| self.items[i].label).collect(),
            targets: indices.iter().flat_map(|&i| self.items[i].values.iter().copied()).collect(),
            names: indices.iter().map(|&i| self.name(i)).collect(),
            hashes: vec![0; indices.len()],
            image_len: pre.image_len(),
            size: (pre.height, pre.width),
            stream: Some(Streamed { files, preprocess: pre.clone(), max_pixels: self.max_pixels }),
        }
    }
}

/// Images given as bytes (a name for each, used in answers and errors), decoded in parallel
/// and prepared with `pre`, as [`Source::load`] prepares files; images that fail to decode or
/// declare more than `max_pixels` pixels are skipped and reported.
pub(crate) fn load_bytes(images: &[(String, Vec<u8>)], pre: &Preprocess, max_pixels: u64) -> (ImageData, Vec<Skipped>) {
    let decoded: Vec<Result<(Vec<u8>, u64)>> = images
        .par_iter()
        .map(|(name, bytes)| {
            let image = decode_bytes(bytes, Path::new(name), max_pixels)?;
            Ok((pre.apply(&image), fnv1a(FNV_OFFSET, bytes)))
        })
        .collect();
    let mut data = ImageData { image_len: pre.image_len(), size: (pre.height, pre.width), ..Default::default() };
    let mut skipped = Vec::new();
    for ((name, _), r) in images.iter().zip(decoded) {
        match r {
            Ok((pixels, hash)) => {
                data.pixels.extend_from_slice(&pixels);
                data.labels.push(0);
                data.names.push(name.clone());
                data.hashes.push(hash);
            }
            Err(e) => skipped.push(Skipped { path: PathBuf::from(name), reason: e.reason() }),
        }
    }
    (data, skipped)
}
