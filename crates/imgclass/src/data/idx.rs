//! MNIST-style IDX files (`train-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`, …).
//!
//! The format (LeCun et al., <http://yann.lecun.com/exdb/mnist/>) is a big-endian header —
//! two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions — then one
//! `u32` per dimension, then the data. Fashion-MNIST (Xiao et al. 2017) uses the same files;
//! Debian's `dataset-fashion-mnist` installs them under `/usr/share/datasets/fashion-mnist`.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::util::fs::{MAX_IDX, read_file};

/// The ten Fashion-MNIST class names, in label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// One pair of IDX files: `n` grey images of `height × width` bytes and their labels; built
/// by [`IdxSplit::new`], which checks that the pixels and labels agree.
#[derive(Debug, Clone)]
pub struct IdxSplit {
    /// `"train"` or `"t10k"`: the prefix of the file names.
    pub(crate) prefix: String,
    /// Pixels, `n × height × width`, row-major, 0 = black.
    pub(crate) pixels: Vec<u8>,
    /// One label per image.
    pub(crate) labels: Vec<u8>,
    /// Image height in pixels.
    pub(crate) height: usize,
    /// Image width in pixels.
    pub(crate) width: usize,
}

impl IdxSplit {
    /// A split of `labels.len()` grey `height × width` images (`pixels` row-major, 0 =
    /// black), named by `prefix` (`"train"`, `"t10k"`); an error unless `pixels` holds
    /// exactly one image per label.
    pub fn new(prefix: &str, pixels: Vec<u8>, labels: Vec<u8>, height: usize, width: usize) -> Result<IdxSplit> {
        if height == 0 || width == 0 || pixels.len() != labels.len() * height * width {
            return Err(Error::BadIdx {
                path: prefix.into(),
                message: format!(
                    "{} bytes of pixels are not {} images of {height} × {width}",
                    pixels.len(),
                    labels.len()
                ),
            });
        }
        Ok(IdxSplit { prefix: prefix.into(), pixels, labels, height, width })
    }

    /// The prefix of the file names (`"train"`, `"t10k"`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// One label per image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Image height and width in pixels.
    pub fn size(&self) -> (usize, usize) {
        (self.height, self.width)
    }

    /// The pixels and the labels, to edit and build a new split from ([`IdxSplit::new`]).
    pub fn into_parts(self) -> (Vec<u8>, Vec<u8>) {
        (self.pixels, self.labels)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Finds `PREFIX-images-idx3-ubyte[.gz]` (or the `PREFIX-images.idx3-ubyte` spelling) in `dir`.
fn find(dir: &Path, prefix: &str, kind: &str, dims: &str) -> Option<PathBuf> {
    [
        format!("{prefix}-{kind}-{dims}-ubyte"),
        format!("{prefix}-{kind}-{dims}-ubyte.gz"),
        format!("{prefix}-{kind}.{dims}-ubyte"),
        format!("{prefix}-{kind}.{dims}-ubyte.gz"),
    ]
    .into_iter()
    .map(|name| dir.join(name))
    .find(|p| p.is_file())
}

/// The prefixes (`train`, `t10k`) for which `dir` holds both an image and a label file.
pub(crate) fn splits_in(dir: &Path) -> Vec<String> {
    ["train", "t10k"]
        .into_iter()
        .filter(|p| find(dir, p, "images", "idx3").is_some() && find(dir, p, "labels", "idx1").is_some())
        .map(String::from)
        .collect()
}

/// Reads a whole file, gunzipping it when its name ends in `.gz`.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = read_file(path, MAX_IDX)?;
    if path.extension().is_some_and(|e| e == "gz") { gunzip(&raw, path) } else { Ok(raw) }
}

/// The Fashion-MNIST class names as owned strings.
pub(crate) fn fashion_mnist_classes() -> Vec<String> {
    FASHION_MNIST_CLASSES.iter().map(|s| s.to_string()).collect()
}

/// Parses an IDX byte buffer into its dimensions and data.
pub fn parse<'a>(bytes: &'a [u8], path: &Path) -> Result<(Vec<usize>, &'a [u8])> {
    let bad = |message: String| Error::BadIdx { path: path.to_path_buf(), message };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad("missing the 0x0000 magic prefix".into()));
    }
    if bytes[2] != 0x08 {
        return Err(bad(format!("element type 0x{:02x} is not unsigned byte (0x08)", bytes[2])));
    }
    let rank = bytes[3] as usize;
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(bad("header is truncated".into()));
    }
    let dims: Vec<usize> =
        (0..rank).map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize).collect();
    let count =
        dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| bad("dimensions overflow".into()))?;
    let data = &bytes[header..];
    if data.len() != count {
        return Err(bad(format!("header says {count} bytes of data, file has {}", data.len())));
    }
    Ok((dims, data))
}

/// Reads the image and label files of `prefix` from `dir`.
pub(crate) fn read_split(dir: &Path, prefix: &str) -> Result<IdxSplit> {
    let missing = |what: &str| Error::BadDataset {
        path: dir.to_path_buf(),
        message: format!("no {prefix}-{what} IDX file here"),
    };
    let img_path = find(dir, prefix, "images", "idx3").ok_or_else(|| missing("images-idx3-ubyte"))?;
    let lbl_path = find(dir, prefix, "labels", "idx1").ok_or_else(|| missing("labels-idx1-ubyte"))?;
    let img_bytes = read_maybe_gz(&img_path)?;
    let lbl_bytes = read_maybe_gz(&lbl_path)?;
    split_from_bytes(prefix, &img_bytes, &img_path, &lbl_bytes, &lbl_path)
}

/// Builds a split from in-memory IDX files (already gunzipped).
pub(crate) fn split_from_bytes(
    prefix: &str,
    img_bytes: &[u8],
    img_path: &Path,
    lbl_bytes: &[u8],
    lbl_path: &Path,
) -> Result<IdxSplit> {
    let (idims, pixels) = parse(img_bytes, img_path)?;
    let (ldims, labels) = parse(lbl_bytes, lbl_path)?;
    if idims.len() != 3 {
        return Err(Error::BadIdx {
            path: img_path.into(),
            message: format!("images have {} dimensions, expected 3", idims.len()),
        });
    }
    if ldims.len() != 1 || ldims[0] != idims[0] {
        return Err(Error::BadIdx {
            path: lbl_path.into(),
            message: format!(
                "{} labels for {} images in {}",
                ldims.first().copied().unwrap_or(0),
                idims[0],
                img_path.display()
            ),
        });
    }
    Ok(IdxSplit {
        prefix: prefix.into(),
        pixels: pixels.to_vec(),
        labels: labels.to_vec(),
        height: idims[1],
        width: idims[2],
    })
}

/// Gunzips an in-memory `.gz` IDX buffer, decompressing no more than its header declares
/// (and at most [`MAX_IDX`]): a gzip bomb is an error naming the file, not a full memory. A
/// buffer that does not start like an IDX file is returned as far as it goes, for [`parse`]
/// to say what is wrong.
pub(crate) fn gunzip(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let mut gz = flate2::read::GzDecoder::new(bytes);
    let mut out = Vec::new();
    (&mut gz).take(4).read_to_end(&mut out).at(path)?;
    if out.len() < 4 || out[..2] != [0, 0] {
        return Ok(out);
    }
    (&mut gz).take(4 * u64::from(out[3])).read_to_end(&mut out).at(path)?;
    let dim = |d: &[u8]| u64::from(u32::from_be_bytes([d[0], d[1], d[2], d[3]]));
    let count = out[4..].chunks_exact(4).fold(1u64, |n, d| n.saturating_mul(dim(d)));
    let declared = count.saturating_add(out.len() as u64).min(MAX_IDX.bytes);
    (&mut gz).take(declared + 1 - out.len() as u64).read_to_end(&mut out).at(path)?;
    if out.len() as u64 > declared {
        return Err(Error::BadIdx {
            path: path.into(),
            message: format!("decompresses to more than the {declared} bytes its header declares"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_whose_pixels_do_not_fit_its_labels_is_refused() {
        assert!(IdxSplit::new("t10k", vec![0; 8], vec![0, 1], 2, 2).is_ok_and(|s| s.size() == (2, 2)));
        let e = IdxSplit::new("t10k", vec![0; 7], vec![0, 1], 2, 2).unwrap_err().to_string();
        assert!(e.contains("7 bytes of pixels are not 2 images of 2 × 2"), "{e}");
    }

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn a_well_formed_pair_of_files_parses_into_images_and_labels() {
        let img = idx(&[2, 2, 3], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        let lbl = idx(&[2], &[4, 7]);
        let s = split_from_bytes("t10k", &img, Path::new("i"), &lbl, Path::new("l")).unwrap();
        assert_eq!((s.len(), s.height, s.width), (2, 2, 3));
        assert_eq!(s.labels, vec![4, 7]);
        assert_eq!(s.pixels[6], 6);
    }

    #[test]
    fn a_truncated_file_is_an_error_that_names_the_file() {
        let img = idx(&[2, 2, 3], &[0, 1, 2]);
        let err = parse(&img, Path::new("x/t10k-images-idx3-ubyte")).unwrap_err().to_string();
        assert!(err.contains("t10k-images-idx3-ubyte") && err.contains("12 bytes"), "{err}");
    }

    #[test]
    fn label_count_must_match_image_count() {
        let img = idx(&[2, 1, 1], &[0, 1]);
        let lbl = idx(&[3], &[0, 1, 2]);
        assert!(split_from_bytes("t", &img, Path::new("i"), &lbl, Path::new("l")).is_err());
    }

    /// `parts` gzipped, one after the other.
    fn gzip<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        parts.into_iter().for_each(|p| gz.write_all(p).unwrap());
        gz.finish().unwrap()
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_size_its_header_declares() {
        // A header declaring 10 images of 2 × 2 (40 bytes), followed by 64 MiB of zeros.
        let (header, zeros) = (idx(&[10, 2, 2], &[]), vec![0u8; 1 << 20]);
        let bomb = gzip(std::iter::once(&header[..]).chain(std::iter::repeat_n(&zeros[..], 64)));
        let e = gunzip(&bomb, Path::new("bomb-images-idx3-ubyte.gz")).unwrap_err().to_string();
        assert!(e.contains("bomb-images") && e.contains("more than the 56 bytes its header declares"), "{e}");
        let exact = gunzip(&gzip([&idx(&[10, 2, 2], &[7; 40])[..]]), Path::new("ok")).unwrap();
        assert_eq!(exact.len(), 56);
    }
}
