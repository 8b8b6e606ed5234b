//! Decoded, preprocessed images of one split, kept in memory or decoded again from their files
//! each time they are needed (when they do not fit the memory budget).

use std::borrow::Cow;
use std::path::PathBuf;

use super::decode::decode_file;
use crate::error::Result;
use crate::transforms::Preprocess;

/// The images of one split: `n × channels × height × width` bytes with one label, name and
/// content hash each. The lists always have one entry per image.
#[derive(Debug, Clone, Default)]
pub struct ImageData {
    /// Concatenated CHW bytes of every image (empty when streamed).
    pub(crate) pixels: Vec<u8>,
    /// One label per image (beyond single-label: the stratum of the split).
    pub(crate) labels: Vec<usize>,
    /// Beyond single-label, [`ImageData::target_width`] values per image, row-major: a 0/1
    /// per class (multi-label) or the targets (regression, count). Empty for single-label.
    pub(crate) targets: Vec<f32>,
    /// One display name per image (its path, or `file#index` inside an IDX file).
    pub(crate) names: Vec<String>,
    /// One content hash per image (FNV-1a of the file's bytes, or of an IDX image's pixels).
    pub(crate) hashes: Vec<u64>,
    /// Bytes per image.
    pub(crate) image_len: usize,
    /// Stored height and width (the presize for augmented training images).
    pub(crate) size: (usize, usize),
    /// Set when the images are not kept: they are decoded from these files on demand.
    pub(crate) stream: Option<Streamed>,
}

/// Where a streamed split's images come from, and how they are preprocessed.
#[derive(Debug, Clone)]
pub(crate) struct Streamed {
    /// One file per image.
    pub(crate) files: Vec<PathBuf>,
    /// The preprocessing that gives the stored bytes.
    pub(crate) preprocess: Preprocess,
    /// The most pixels an image may declare to be decoded.
    pub(crate) max_pixels: u64,
}

impl ImageData {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The label (class index) of every image.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// Values per image in [`ImageData::targets`] (0 for single-label data).
    pub fn target_width(&self) -> usize {
        self.targets.len() / self.labels.len().max(1)
    }

    /// Image `i`'s targets beyond one class (empty for single-label data).
    pub fn targets(&self, i: usize) -> &[f32] {
        let w = self.target_width();
        &self.targets[i * w..(i + 1) * w]
    }

    /// The display name of every image.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Stored height and width.
    pub fn size(&self) -> (usize, usize) {
        self.size
    }

    /// Whether the images are decoded from their files each time (else they are in memory).
    pub fn is_streamed(&self) -> bool {
        self.stream.is_some()
    }

    /// Channels of the stored images.
    pub fn channels(&self) -> usize {
        self.image_len / (self.size.0 * self.size.1).max(1)
    }

    /// The stored CHW bytes of image `i`; a streamed file that can no longer be read (deleted
    /// or damaged since the data was listed) is an error naming it.
    pub fn image(&self, i: usize) -> Result<Cow<'_, [u8]>> {
        match &self.stream {
            None => Ok(Cow::Borrowed(&self.pixels[i * self.image_len..(i + 1) * self.image_len])),
            Some(s) => Ok(Cow::Owned(s.preprocess.apply(&decode_file(&s.files[i], s.max_pixels)?))),
        }
    }

    /// Narrows RGB bytes whose channels are all equal to one channel.
    pub(crate) fn narrow_to_grey(&mut self) {
        let plane = self.image_len / 3;
        if let Some(s) = &mut self.stream {
            s.preprocess.narrow_to_grey();
        } else {
            let mut out = Vec::with_capacity(self.pixels.len() / 3);
            for image in self.pixels.chunks_exact(self.image_len) {
                out.extend_from_slice(&image[..plane]);
            }
            self.pixels = out;
        }
        self.image_len = plane;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::ResizeMode;

    #[test]
    fn a_streamed_file_deleted_after_listing_is_an_error_naming_it() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("gone.png");
        image::GrayImage::new(2, 2).save(&p).unwrap();
        let pre = Preprocess::new(2, 2, 1, ResizeMode::Squish);
        let data = ImageData {
            labels: vec![0],
            names: vec![p.display().to_string()],
            hashes: vec![0],
            image_len: 4,
            size: (2, 2),
            stream: Some(Streamed { files: vec![p.clone()], preprocess: pre, max_pixels: crate::data::MAX_PIXELS }),
            ..Default::default()
        };
        assert_eq!(data.image(0).unwrap().len(), 4);
        std::fs::remove_file(&p).unwrap();
        let e = data.image(0).unwrap_err().to_string();
        assert!(e.contains("gone.png"), "{e}");
    }

    #[test]
    fn grey_narrowing_keeps_the_first_plane_of_each_image() {
        let mut data = ImageData {
            pixels: vec![1, 1, 1, 2, 2, 2],
            labels: vec![0, 1],
            names: vec!["a".into(), "b".into()],
            hashes: vec![0, 0],
            image_len: 3,
            size: (1, 1),
            ..Default::default()
        };
        data.narrow_to_grey();
        assert_eq!((data.pixels.as_slice(), data.image_len, data.channels()), (&[1u8, 2][..], 1, 1));
    }
}
