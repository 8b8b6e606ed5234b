//! Batches for the model, made ahead of time (fastai's `DataLoader`, PyTorch's workers): a
//! producer thread builds each batch with a pool of worker threads (decode when streamed,
//! augment, normalize to floats) and hands it over through a bounded queue, so the model
//! rarely waits and memory holds at most `prefetch` batches beyond the one training.

use std::sync::mpsc::sync_channel;

use rayon::prelude::*;

use super::ImageData;
use crate::rng::Rng;
use crate::transforms::Preprocess;
use crate::transforms::augment::{Augment, rescale};

/// One batch, ready for a tensor.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Which images of the split, in order.
    pub indices: Vec<usize>,
    /// Normalized floats, `[n, channels, height, width]` row-major.
    pub x: Vec<f32>,
    /// One label per image.
    pub y: Vec<i64>,
    /// `[n, channels, height, width]`.
    pub shape: [usize; 4],
}

/// Makes batches of one split.
pub struct Loader<'a> {
    data: &'a ImageData,
    pre: &'a Preprocess,
    augment: Option<&'a Augment>,
    pool: Option<&'a rayon::ThreadPool>,
    seed: u64,
    prefetch: usize,
}

/// A pool of `workers` threads for loaders (0: one per core, as rayon's global pool).
pub fn worker_pool(workers: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(if workers == 0 { rayon::current_num_threads() } else { workers })
        .thread_name(|i| format!("imgclass-loader-{i}"))
        .build()
        .expect("a thread pool")
}

impl<'a> Loader<'a> {
    /// A loader over `data` that prepares images for `pre` (its size, channels and
    /// normalization) on rayon's global threads, without augmentation, 2 batches ahead.
    pub fn new(data: &'a ImageData, pre: &'a Preprocess) -> Self {
        Self { data, pre, augment: None, pool: None, seed: 0, prefetch: 2 }
    }

    /// Prepares images on `pool`'s threads (`--workers`).
    pub fn on_pool(mut self, pool: &'a rayon::ThreadPool) -> Self {
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

    /// Batches made ahead of the one in use.
    pub fn prefetch(mut self, batches: usize) -> Self {
        self.prefetch = batches.max(1);
        self
    }

    /// The model-ready bytes (`channels × height × width` of the preprocessing) of image `i`.
    pub fn item(&self, i: usize) -> Vec<u8> {
        let stored = self.data.image(i);
        let c = self.data.channels();
        let out = (self.pre.height, self.pre.width);
        match self.augment {
            Some(aug) => {
                let mut rng = Rng::new(self.seed ^ (i as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93));
                aug.apply(&stored, c, self.data.size, out, &mut rng)
            }
            None if self.data.size == out => stored.into_owned(),
            None => rescale(&stored, c, self.data.size, out),
        }
    }

    /// Builds the batch of images `indices` (in parallel on the pool).
    pub fn batch(&self, indices: &[usize]) -> Batch {
        let per = self.pre.input_channels() * self.pre.height * self.pre.width;
        let work = || -> Vec<Vec<f32>> {
            indices
                .par_iter()
                .map(|&i| {
                    let mut x = Vec::with_capacity(per);
                    self.pre.normalize_into(&self.item(i), &mut x);
                    x
                })
                .collect()
        };
        let parts = match self.pool {
            Some(pool) => pool.install(work),
            None => work(),
        };
        Batch {
            indices: indices.to_vec(),
            x: parts.concat(),
            y: indices.iter().map(|&i| self.data.labels[i] as i64).collect(),
            shape: [indices.len(), self.pre.input_channels(), self.pre.height, self.pre.width],
        }
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

/// Cuts `order` into batches of `batch_size` (the last one may be smaller).
pub fn chunks(order: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    order.chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::ResizeMode;
    use crate::transforms::augment::AugPreset;

    fn data(n: usize, side: usize) -> ImageData {
        let len = side * side;
        ImageData {
            pixels: (0..n * len).map(|i| (i * 31 % 256) as u8).collect(),
            labels: (0..n).map(|i| i % 3).collect(),
            names: (0..n).map(|i| i.to_string()).collect(),
            hashes: vec![0; n],
            image_len: len,
            size: (side, side),
            stream: None,
        }
    }

    #[test]
    fn batches_arrive_in_order_with_their_labels_and_the_consumer_can_stop_early() {
        let d = data(10, 4);
        let pre = Preprocess::new(4, 4, 1, ResizeMode::Squish);
        let pool = worker_pool(2);
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
        let pool = worker_pool(2);
        let plain = Loader::new(&d, &pre).on_pool(&pool);
        assert_eq!(plain.item(0).len(), 16);
        let aug = Augment::preset(AugPreset::Strong);
        let a = Loader::new(&d, &pre).on_pool(&pool).augmented(&aug, 1, 1).batch(&[0, 1, 2]);
        let b = Loader::new(&d, &pre).on_pool(&pool).augmented(&aug, 1, 1).batch(&[0, 1, 2]);
        let c = Loader::new(&d, &pre).on_pool(&pool).augmented(&aug, 1, 2).batch(&[0, 1, 2]);
        assert_eq!(a.x, b.x);
        assert_ne!(a.x, c.x, "another epoch draws other augmentations");
    }
}
