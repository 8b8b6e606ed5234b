//! Batches for the model, made ahead of time (fastai's `DataLoader`, PyTorch's workers): a
//! producer thread builds each batch with a pool of worker threads (decode when streamed,
//! augment, normalize to floats) and hands it over through a bounded queue, so the model
//! rarely waits and memory holds at most `prefetch` batches beyond the one training.

use std::sync::mpsc::sync_channel;

use rayon::prelude::*;

use super::{ImageData, Skipped};
use crate::error::Result;
use crate::transforms::Preprocess;
use crate::transforms::augment::{Augment, rescale};
use crate::util::rng::{Rng, mix};

/// One batch, ready for a tensor. Images that could not be read (a streamed file deleted or
/// damaged since the data was listed) are left out and named in `skipped`.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Which images of the split, in order.
    pub indices: Vec<usize>,
    /// Normalized floats, `[n, channels, height, width]` row-major.
    pub x: Vec<f32>,
    /// One label per image.
    pub y: Vec<i64>,
    /// Beyond single-label, each image's targets (`n × width` row-major; empty otherwise).
    pub targets: Vec<f32>,
    /// `[n, channels, height, width]`.
    pub shape: [usize; 4],
    /// Images of the batch that could not be read, and why.
    pub skipped: Vec<Skipped>,
    /// Copies of the batch in `x`, one after the other: 1, or with test-time views (see
    /// [`Loader::with_views`]) the plain images followed by each augmented set.
    pub views: usize,
}

/// Makes batches of one split.
pub struct Loader<'a> {
    data: &'a ImageData,
    pre: &'a Preprocess,
    augment: Option<&'a Augment>,
    views: Option<(&'a Augment, usize)>,
    pool: Option<&'a rayon::ThreadPool>,
    seed: u64,
    prefetch: usize,
}

impl<'a> Loader<'a> {
    /// A loader over `data` that prepares images for `pre` (its size, channels and
    /// normalization) on rayon's global threads, without augmentation, 2 batches ahead.
    pub fn new(data: &'a ImageData, pre: &'a Preprocess) -> Self {
        Self { data, pre, augment: None, views: None, pool: None, seed: 0, prefetch: 2 }
    }

    /// Prepares images on `pool`'s threads (`data.loader.workers`).
    pub(crate) fn on_pool(mut self, pool: &'a rayon::ThreadPool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Augments every image with `augment` (unless it is the identity), drawing from a
    /// generator seeded by `seed`, the image and `epoch` (so runs repeat exactly).
    pub fn augmented(mut self, augment: &'a Augment, seed: u64, epoch: usize) -> Self {
        self.augment = (!augment.is_identity()).then_some(augment);
        self.seed = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self
    }

    /// Test-time views (fastai's augmented TTA): each batch holds its plain images followed by
    /// `n` augmented copies of them, drawn with `augment` from generators seeded by each
    /// image's content hash and the copy's number — so an image gets the same views whatever
    /// batch, chunk or shard it is in.
    pub(crate) fn with_views(mut self, augment: &'a Augment, n: usize) -> Self {
        self.augment = None;
        self.views = Some((augment, n));
        self
    }

    /// Batches made ahead of the one in use.
    pub fn prefetch(mut self, batches: usize) -> Self {
        self.prefetch = batches.max(1);
        self
    }

    /// The model-ready bytes (`channels × height × width` of the preprocessing) of image `i`.
    pub fn item(&self, i: usize) -> Result<Vec<u8>> {
        let stored = self.data.image(i)?;
        Ok(match self.augment {
            Some(aug) => {
                let mut rng = Rng::new(self.seed ^ (i as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93));
                self.augmented_bytes(&stored, aug, &mut rng)
            }
            None => self.plain_bytes(stored),
        })
    }

    fn plain_bytes(&self, stored: std::borrow::Cow<'_, [u8]>) -> Vec<u8> {
        let out = (self.pre.height, self.pre.width);
        if self.data.size == out {
            stored.into_owned()
        } else {
            rescale(&stored, self.data.channels(), self.data.size, out)
        }
    }

    fn augmented_bytes(&self, stored: &[u8], aug: &Augment, rng: &mut Rng) -> Vec<u8> {
        aug.apply(stored, self.data.channels(), self.data.size, (self.pre.height, self.pre.width), rng)
    }

    /// Image `i` normalized, followed by each of its test-time views (see
    /// [`Loader::with_views`]).
    fn floats(&self, i: usize) -> Result<Vec<f32>> {
        let per = self.pre.input_channels() * self.pre.height * self.pre.width;
        let Some((aug, n)) = self.views else {
            let mut x = Vec::with_capacity(per);
            self.pre.normalize_into(&self.item(i)?, &mut x);
            return Ok(x);
        };
        let stored = self.data.image(i)?;
        let mut x = Vec::with_capacity(per * (n + 1));
        self.pre.normalize_into(&self.plain_bytes(stored.clone()), &mut x);
        for view in 1..=n as u64 {
            let mut rng = Rng::new(mix(self.data.hashes[i], view));
            self.pre.normalize_into(&self.augmented_bytes(&stored, aug, &mut rng), &mut x);
        }
        Ok(x)
    }

    /// Builds the batch of images `indices` (in parallel on the pool), leaving out images that
    /// cannot be read.
    pub fn batch(&self, indices: &[usize]) -> Batch {
        let per = self.pre.input_channels() * self.pre.height * self.pre.width;
        let views = self.views.map_or(1, |(_, n)| n + 1);
        let work = || -> Vec<Result<Vec<f32>>> { indices.par_iter().map(|&i| self.floats(i)).collect() };
        let parts = match self.pool {
            Some(pool) => pool.install(work),
            None => work(),
        };
        let mut batch = Batch {
            indices: Vec::new(),
            x: Vec::new(),
            y: Vec::new(),
            targets: Vec::new(),
            shape: [0; 4],
            skipped: Vec::new(),
            views,
        };
        let mut read = Vec::with_capacity(indices.len());
        for (&i, part) in indices.iter().zip(parts) {
            match part {
                Ok(x) => {
                    batch.indices.push(i);
                    batch.y.push(self.data.labels[i] as i64);
                    batch.targets.extend_from_slice(self.data.targets(i));
                    read.push(x);
                }
                Err(e) => batch.skipped.push(Skipped { path: self.data.names[i].clone().into(), reason: e.reason() }),
            }
        }
        batch.x = if views == 1 {
            read.concat()
        } else {
            (0..views).flat_map(|v| read.iter().flat_map(move |x| &x[v * per..(v + 1) * per])).copied().collect()
        };
        batch.shape = [batch.indices.len(), self.pre.input_channels(), self.pre.height, self.pre.width];
        batch
    }

    /// Calls `f` with each batch of `batches` in order while the next ones are being made;
    /// stops early when `f` returns false.
    pub fn for_each(&self, batches: &[Vec<usize>], mut f: impl FnMut(Batch) -> bool) {
        std::thread::scope(|scope| {
            let (tx, rx) = sync_channel(self.prefetch);
            scope.spawn(move || {
                for idx in batches {
                    if tx.send(self.batch(idx)).is_err() {
                        break;
                    }
                }
            });
            for batch in rx {
                if !f(batch) {
                    break;
                }
            }
        });
    }
}

/// What [`bench`] measured.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LoaderBench {
    /// Images made into batches.
    pub images: usize,
    /// Wall time, in seconds.
    pub seconds: f64,
    /// Worker threads.
    pub workers: usize,
}

/// Times one epoch of batches made from `source`'s image files, as training would make them:
/// decoded (streamed, nothing kept) and stored with `stored`, augmented with `augment` and
/// brought to `pre`'s size and normalization, on `workers` threads (0: one per core), in
/// batches of `batch_size`.
pub fn bench(
    source: &super::Source,
    stored: &Preprocess,
    pre: &Preprocess,
    augment: &Augment,
    workers: usize,
    batch_size: usize,
) -> Result<LoaderBench> {
    let pool = crate::util::pool::worker_pool(workers, "data.loader.workers")?;
    let mut order: Vec<usize> = (0..source.len()).collect();
    Rng::new(1).shuffle(&mut order);
    let start = std::time::Instant::now();
    let data = source.streamed(&order, stored);
    let loader = Loader::new(&data, pre).on_pool(&pool).augmented(augment, 1, 1);
    let all: Vec<usize> = (0..data.len()).collect();
    let mut images = 0;
    loader.for_each(&chunks(&all, batch_size), |b| {
        images += b.shape[0];
        true
    });
    Ok(LoaderBench { images, seconds: start.elapsed().as_secs_f64(), workers: pool.current_num_threads() })
}

/// Cuts `order` into batches of `batch_size` (the last one may be smaller).
pub(crate) fn chunks(order: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    order.chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::ResizeMode;
    use crate::transforms::augment::AugPreset;
    use crate::util::pool::worker_pool;

    fn data(n: usize, side: usize) -> ImageData {
        let len = side * side;
        ImageData {
            pixels: (0..n * len).map(|i| (i * 31 % 256) as u8).collect(),
            labels: (0..n).map(|i| i % 3).collect(),
            names: (0..n).map(|i| i.to_string()).collect(),
            hashes: vec![0; n],
            image_len: len,
            size: (side, side),
            ..Default::default()
        }
    }

    #[test]
    fn batches_arrive_in_order_with_their_labels_and_the_consumer_can_stop_early() {
        let d = data(10, 4);
        let pre = Preprocess::new(4, 4, 1, ResizeMode::Squish);
        let pool = worker_pool(2, "workers").unwrap();
        let loader = Loader::new(&d, &pre).on_pool(&pool).prefetch(1);
        let mut seen = Vec::new();
        loader.for_each(&chunks(&[9, 8, 7, 6, 5, 4, 3], 3), |b| {
            seen.push((b.indices.clone(), b.y.clone(), b.shape));
            seen.len() < 2
        });
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0], (vec![9, 8, 7], vec![0, 2, 1], [3, 1, 4, 4]));
        assert_eq!(seen[1].0, vec![6, 5, 4]);
    }

    #[test]
    fn presized_images_are_brought_to_the_model_size_and_augmented_reproducibly() {
        let d = data(4, 8);
        let pre = Preprocess::new(4, 4, 1, ResizeMode::Squish);
        let pool = worker_pool(2, "workers").unwrap();
        let plain = Loader::new(&d, &pre).on_pool(&pool);
        assert_eq!(plain.item(0).unwrap().len(), 16);
        let aug = Augment::preset(AugPreset::Strong);
        let a = Loader::new(&d, &pre).on_pool(&pool).augmented(&aug, 1, 1).batch(&[0, 1, 2]);
        let b = Loader::new(&d, &pre).on_pool(&pool).augmented(&aug, 1, 1).batch(&[0, 1, 2]);
        let c = Loader::new(&d, &pre).on_pool(&pool).augmented(&aug, 1, 2).batch(&[0, 1, 2]);
        assert_eq!(a.x, b.x);
        assert_ne!(a.x, c.x, "another epoch draws other augmentations");
    }

    #[test]
    fn test_time_views_follow_the_plain_batch_and_are_drawn_from_each_images_content() {
        let mut d = data(3, 8);
        // Images 0 and 2 have the same bytes and the same content hash.
        let len = d.image_len;
        let first = d.pixels[..len].to_vec();
        d.pixels[2 * len..].copy_from_slice(&first);
        d.hashes = vec![7, 8, 7];
        let pre = Preprocess::new(8, 8, 1, ResizeMode::Squish);
        let aug = Augment::preset(AugPreset::Strong);
        let plain = Loader::new(&d, &pre).batch(&[0, 1, 2]);
        let views = Loader::new(&d, &pre).with_views(&aug, 2).batch(&[0, 1, 2]);
        let per = 64;
        assert_eq!((views.views, views.shape, views.x.len()), (3, [3, 1, 8, 8], 3 * 3 * per));
        assert_eq!(views.x[..3 * per], plain.x[..], "the plain images come first");
        let view = |v: usize, image: usize| &views.x[(v * 3 + image) * per..(v * 3 + image + 1) * per];
        assert_ne!(view(1, 0), view(0, 0), "an augmented view differs from the image");
        assert_ne!(view(1, 0), view(2, 0), "each view is drawn anew");
        assert_eq!(view(1, 0), view(1, 2), "the same content gets the same views wherever it is");
        let alone = Loader::new(&d, &pre).with_views(&aug, 2).batch(&[2]);
        assert_eq!(alone.x[2 * per..], view(2, 0)[..], "whatever batch it is in");
    }
}

#[cfg(test)]
mod streamed_tests {
    use super::*;
    use crate::data::Source;
    use crate::transforms::ResizeMode;

    #[test]
    fn a_streamed_image_deleted_during_training_is_left_out_of_its_batch_and_named() {
        let t = tempfile::tempdir().unwrap();
        let files: Vec<std::path::PathBuf> = (0..3).map(|i| t.path().join(format!("{i}.png"))).collect();
        for f in &files {
            image::GrayImage::from_pixel(4, 4, image::Luma([9])).save(f).unwrap();
        }
        let source = Source::from_files(files.clone());
        let pre = Preprocess::new(4, 4, 1, ResizeMode::Squish);
        let data = source.streamed(&[0, 1, 2], &pre);
        std::fs::remove_file(&files[1]).unwrap();
        let batch = Loader::new(&data, &pre).batch(&[0, 1, 2]);
        assert_eq!((batch.indices.clone(), batch.shape), (vec![0, 2], [2, 1, 4, 4]));
        assert_eq!(batch.x.len(), 2 * 16);
        assert!(batch.skipped[0].path.ends_with("1.png"), "{:?}", batch.skipped);
    }
}
