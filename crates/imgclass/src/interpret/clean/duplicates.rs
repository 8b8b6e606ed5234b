//! Near-duplicate images by a perceptual hash: the difference hash (dHash: each image shrunk to
//! 17 × 16 grey pixels, one bit per pair of horizontal neighbours, 256 bits), which survives
//! re-encoding, resizing and small edits, compared by Hamming distance; then confirmed on the
//! shrunk pixels themselves (mean absolute difference), since small pictures of simple shapes
//! (a 28-pixel trouser) share their gradients' signs without being the same picture.

use rayon::prelude::*;

use crate::data::Source;
use crate::error::Result;
use crate::transforms::{Preprocess, ResizeMode};

/// Hash width and height in pixels (one more column than bits per row).
const W: usize = 17;
const H: usize = 16;

/// The 256-bit difference hash of a `H × W` grey image.
pub(crate) fn dhash(grey: &[u8]) -> [u64; 4] {
    let mut hash = [0u64; 4];
    for y in 0..H {
        for x in 0..W - 1 {
            let bit = y * (W - 1) + x;
            if grey[y * W + x] < grey[y * W + x + 1] {
                hash[bit / 64] |= 1 << (bit % 64);
            }
        }
    }
    hash
}

/// Bits in which two hashes differ.
pub(crate) fn distance(a: &[u64; 4], b: &[u64; 4]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// The pairs `(i, j, distance)`, `i < j`, of `hashes` at most `max` bits apart (every pair is
/// compared: a second per few tens of thousands of images). Flat images (hash all zero: no
/// neighbour brighter than the other) are left out: they all look alike to the hash.
pub(crate) fn close_pairs(hashes: &[[u64; 4]], max: u32) -> Vec<(usize, usize, u32)> {
    let mut pairs: Vec<(usize, usize, u32)> = (0..hashes.len())
        .into_par_iter()
        .flat_map_iter(|i| {
            let a = &hashes[i];
            let flat = a.iter().all(|w| *w == 0);
            (i + 1..hashes.len()).filter_map(move |j| {
                let d = distance(a, &hashes[j]);
                (!flat && d <= max).then_some((i, j, d))
            })
        })
        .collect();
    pairs.sort_by_key(|p| (p.2, p.0, p.1));
    pairs
}

/// Largest mean absolute difference (of 255) between the shrunk pictures of a duplicate pair.
pub(crate) const MAX_PIXEL_DIFFERENCE: f32 = 4.0;

/// Whether two shrunk pictures are the same within [`MAX_PIXEL_DIFFERENCE`].
pub(crate) fn same_pixels(a: &[u8], b: &[u8]) -> bool {
    let sum: u32 = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y) as u32).sum();
    sum as f32 / a.len() as f32 <= MAX_PIXEL_DIFFERENCE
}

/// Every readable image of a source, hashed.
pub(crate) struct Hashed {
    /// Its index in the source.
    pub indices: Vec<usize>,
    /// Its difference hash.
    pub hashes: Vec<[u64; 4]>,
    /// Its shrunk grey pixels.
    pub pixels: Vec<Vec<u8>>,
}

/// The hashes of every readable image of `source` and its shrunk grey pixels, with their
/// indices in it.
pub(crate) fn hashes(source: &Source) -> Result<Hashed> {
    let all: Vec<usize> = (0..source.len()).collect();
    let pre = Preprocess::new(H, W, 1, ResizeMode::Squish);
    let loaded = source.load(&all, &pre, true, &|_, _| {});
    let names = source.indices_by_name();
    let mut indices = Vec::with_capacity(loaded.data.len());
    let (mut hashes, mut pixels) = (Vec::with_capacity(indices.capacity()), Vec::with_capacity(indices.capacity()));
    for (k, name) in loaded.data.names().iter().enumerate() {
        let grey = loaded.data.image(k)?.into_owned();
        indices.push(names[name]);
        hashes.push(dhash(&grey));
        pixels.push(grey);
    }
    Ok(Hashed { indices, hashes, pixels })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(seed: u32) -> Vec<u8> {
        (0..(W * H) as u32).map(|i| (((i + seed * 7919).wrapping_mul(2654435761) >> 9) % 251) as u8).collect()
    }

    #[test]
    fn a_slightly_changed_copy_is_close_and_another_image_is_far() {
        let a = image(1);
        let mut edited = a.clone();
        edited.iter_mut().for_each(|v| *v = v.saturating_add(3)); // brighter
        edited[5] = edited[5].wrapping_add(90);
        let hashes = [dhash(&a), dhash(&edited), dhash(&image(2)), [0; 4], [0; 4]];
        assert!(distance(&hashes[0], &hashes[1]) <= 4, "{}", distance(&hashes[0], &hashes[1]));
        assert!(distance(&hashes[0], &hashes[2]) > 64);
        let pairs = close_pairs(&hashes, 8);
        assert_eq!(pairs.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(), [(0, 1)], "flat images are not paired");
        assert!(same_pixels(&a, &edited));
        let darker: Vec<u8> = a.iter().map(|v| v / 2).collect();
        assert_eq!(distance(&dhash(&a), &dhash(&darker)), 0, "the hash ignores brightness");
        assert!(!same_pixels(&a, &darker), "the pixels do not");
    }
}
