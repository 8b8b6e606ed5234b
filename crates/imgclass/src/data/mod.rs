//! Data sources: where images and labels come from, how they are split, and how they are
//! decoded into model-ready bytes.
//!
//! A [`Source`] lists items (an image file or an image inside an IDX file) with their labels;
//! [`Source::load`] decodes a subset in parallel with a [`Preprocess`] into an [`ImageData`].
//! Unreadable images are skipped and reported, never fatal.
//!
//! ```no_run
//! use imgclass::data::Source;
//! let source = Source::open("photos".as_ref())?;
//! println!("{} images of {} classes", source.items.len(), source.classes.len());
//! # Ok::<(), imgclass::Error>(())
//! ```

pub mod bundled;
pub mod check;
mod decode;
pub mod folder;
pub mod idx;
pub mod labels;
mod loader;
mod split;
mod splits;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

pub use decode::{decode_bytes, decode_file, describe};
pub use split::{Split, assign as assign_splits};
pub use loader::{Batch, Loader, chunks, worker_pool};
pub use splits::{DataSplits, LoadOptions, Residency, SplitOptions, SplitRecord};

use crate::error::{Error, Result};
use crate::rng::{FNV_OFFSET, fnv1a};
use crate::transforms::resize::is_grey;
use crate::transforms::{Preprocess, ResizeMode};
use idx::IdxSplit;

/// Where one item's pixels live.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// An image file.
    File(PathBuf),
    /// Image `index` of the source's IDX split number `part`.
    Idx {
        /// Which IDX split of the source.
        part: usize,
        /// Image number inside it.
        index: usize,
    },
}

/// One labelled image of a source.
#[derive(Debug, Clone)]
pub struct Item {
    /// Where its pixels are.
    pub origin: Origin,
    /// Index into [`Source::classes`].
    pub label: usize,
    /// The split the data layout fixes for it (a `train/` folder, a `t10k` file), if any.
    pub hint: Option<Split>,
}

/// A file that was passed over, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Skipped {
    /// The file or folder.
    pub path: PathBuf,
    /// What went wrong.
    pub reason: String,
}

/// What kind of layout a source was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// One subfolder per class.
    Folder,
    /// MNIST-style IDX files.
    Idx,
}

/// A labelled collection of images, not yet decoded.
#[derive(Debug, Clone)]
pub struct Source {
    /// The folder it was read from (or `bundled:…` for the built-in sample).
    pub root: PathBuf,
    /// Layout kind.
    pub kind: SourceKind,
    /// Class names; labels index into this.
    pub classes: Vec<String>,
    /// Every labelled image.
    pub items: Vec<Item>,
    /// Problems met while listing (unreadable folders, link loops).
    pub problems: Vec<Skipped>,
    idx: Vec<IdxSplit>,
}

/// Decoded, preprocessed images of one split: `n × channels × height × width` bytes, kept in
/// memory, or (for data larger than the memory budget) decoded again from the files each
/// time they are needed.
#[derive(Debug, Clone, Default)]
pub struct ImageData {
    /// Concatenated CHW bytes of every image (empty when streamed).
    pub pixels: Vec<u8>,
    /// One label per image.
    pub labels: Vec<usize>,
    /// One display name per image (its path, or `file#index` inside an IDX file).
    pub names: Vec<String>,
    /// One content hash per image (FNV-1a of the file's bytes, or of an IDX image's pixels).
    pub hashes: Vec<u64>,
    /// Bytes per image.
    pub image_len: usize,
    /// Stored height and width (the presize for augmented training images).
    pub size: (usize, usize),
    /// Set when the images are not kept: they are decoded from these files on demand.
    pub stream: Option<Streamed>,
}

/// Where a streamed split's images come from, and how they are preprocessed.
#[derive(Debug, Clone)]
pub struct Streamed {
    /// One file per image.
    pub files: Vec<PathBuf>,
    /// The preprocessing that gives the stored bytes.
    pub preprocess: Preprocess,
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

    /// Channels of the stored images.
    pub fn channels(&self) -> usize {
        self.image_len / (self.size.0 * self.size.1).max(1)
    }

    /// The stored CHW bytes of image `i` (decoded now when streamed; a file that can no longer
    /// be read gives a black image).
    pub fn image(&self, i: usize) -> std::borrow::Cow<'_, [u8]> {
        match &self.stream {
            None => std::borrow::Cow::Borrowed(&self.pixels[i * self.image_len..(i + 1) * self.image_len]),
            Some(s) => std::borrow::Cow::Owned(
                decode_file(&s.files[i]).map(|img| s.preprocess.apply(&img)).unwrap_or_else(|_| vec![0; self.image_len]),
            ),
        }
    }
}

impl Source {
    /// Opens a folder of class subfolders or of IDX files.
    pub fn open(path: &Path) -> Result<Source> {
        if !path.exists() {
            return Err(Error::DataNotFound(path.to_path_buf()));
        }
        if !path.is_dir() {
            return Err(Error::BadDataset {
                path: path.into(),
                message: "is a file; give a folder with one subfolder per class, or a folder of IDX files".into(),
            });
        }
        let prefixes = idx::splits_in(path);
        if !prefixes.is_empty() {
            let parts = prefixes.iter().map(|p| idx::read_split(path, p)).collect::<Result<Vec<_>>>()?;
            return Ok(Self::from_idx(path.to_path_buf(), parts, idx_class_names(path)));
        }
        Self::from_folder(path)
    }

    /// The built-in sample: the 10,000 images of the Fashion-MNIST test split.
    pub fn bundled() -> Result<Source> {
        let part = bundled::fashion_mnist_t10k()?;
        Ok(Self::from_idx(PathBuf::from(bundled::NAME), vec![part], bundled::classes()))
    }

    /// A source over IDX splits; `train` files hint the train split and `t10k` files the test
    /// split when both are present; a lone split is left for the splitter to cut.
    pub fn from_idx(root: PathBuf, parts: Vec<IdxSplit>, classes: Option<Vec<String>>) -> Source {
        let both = parts.len() > 1;
        let max_label = parts.iter().flat_map(|p| p.labels.iter().copied()).max().unwrap_or(0) as usize;
        let classes = classes
            .filter(|c| c.len() > max_label)
            .unwrap_or_else(|| (0..=max_label).map(|i| i.to_string()).collect());
        let mut items = Vec::new();
        for (part, p) in parts.iter().enumerate() {
            let hint = match (both, p.prefix.as_str()) {
                (true, "train") => Some(Split::Train),
                (true, _) => Some(Split::Test),
                (false, _) => None,
            };
            items.extend(p.labels.iter().enumerate().map(|(index, &l)| Item {
                origin: Origin::Idx { part, index },
                label: l as usize,
                hint,
            }));
        }
        Source { root, kind: SourceKind::Idx, classes, items, problems: Vec::new(), idx: parts }
    }

    fn from_folder(path: &Path) -> Result<Source> {
        let scan = folder::scan(path)?;
        if let Some(empty) = scan.empty_classes.first() {
            return Err(Error::BadDataset {
                path: empty.clone(),
                message: "class folder has no images; add images to it or remove it".into(),
            });
        }
        let mut classes: Vec<String> = scan.files.iter().map(|(_, c, _)| c.clone()).collect();
        classes.sort();
        classes.dedup();
        if classes.is_empty() {
            return Err(Error::BadDataset {
                path: path.into(),
                message: "no class subfolder with images; put each class's images in its own subfolder".into(),
            });
        }
        let items = scan
            .files
            .into_iter()
            .map(|(p, c, hint)| Item { origin: Origin::File(p), label: classes.binary_search(&c).unwrap(), hint })
            .collect();
        let problems = scan.problems.into_iter().map(|(path, reason)| Skipped { path, reason }).collect();
        Ok(Source { root: path.into(), kind: SourceKind::Folder, classes, items, problems, idx: Vec::new() })
    }

    /// An unlabelled source over image files (for prediction): every item has label 0.
    pub fn from_files(files: Vec<PathBuf>) -> Source {
        let items = files.into_iter().map(|p| Item { origin: Origin::File(p), label: 0, hint: None }).collect();
        Source { root: PathBuf::new(), kind: SourceKind::Folder, classes: vec![String::new()], items, problems: Vec::new(), idx: Vec::new() }
    }

    /// Errors unless the source has at least two classes (needed to train a classifier).
    pub fn require_two_classes(&self) -> Result<()> {
        if self.classes.len() < 2 {
            return Err(Error::BadDataset {
                path: self.root.clone(),
                message: format!(
                    "only one class ({}); a classifier needs at least 2 classes: put each class's images in its own subfolder",
                    self.classes.first().map_or("", String::as_str)
                ),
            });
        }
        Ok(())
    }

    /// A display name for item `i`.
    pub fn name(&self, i: usize) -> String {
        match &self.items[i].origin {
            Origin::File(p) => p.display().to_string(),
            Origin::Idx { part, index } => format!("{}-images#{index}", self.idx[*part].prefix),
        }
    }

    /// Fingerprints of the source's parts: one per IDX file pair, or one for a whole folder.
    /// A part is its labelled content (IDX pixels and labels; folder paths relative to the
    /// root, file sizes and labels), so two copies of the same data have the same
    /// fingerprints wherever they lie.
    pub fn part_fingerprints(&self) -> Vec<u64> {
        if !self.idx.is_empty() {
            return self.idx.iter().map(|p| fnv1a(fnv1a(FNV_OFFSET, &p.pixels), &p.labels)).collect();
        }
        let mut h = FNV_OFFSET;
        for item in &self.items {
            if let Origin::File(path) = &item.origin {
                let rel = path.strip_prefix(&self.root).unwrap_or(path);
                h = fnv1a(h, rel.to_string_lossy().as_bytes());
                h = fnv1a(h, &std::fs::metadata(path).map(|m| m.len()).unwrap_or(0).to_le_bytes());
            }
            h = fnv1a(h, &(item.label as u64).to_le_bytes());
        }
        vec![h]
    }

    /// The part (see [`Source::part_fingerprints`]) that item `i` belongs to.
    pub fn part_of(&self, i: usize) -> usize {
        match self.items[i].origin {
            Origin::Idx { part, .. } => part,
            Origin::File(_) => 0,
        }
    }

    /// The size every image shares, when they all share one (IDX files always do).
    pub fn common_size(&self) -> Option<(usize, usize)> {
        if let Some(p) = self.idx.first() {
            return self.idx.iter().all(|q| (q.height, q.width) == (p.height, p.width)).then_some((p.height, p.width));
        }
        let sizes: Vec<Option<(u32, u32)>> = self
            .items
            .par_iter()
            .map(|it| match &it.origin {
                Origin::File(p) => image::ImageReader::open(p).ok()?.with_guessed_format().ok()?.into_dimensions().ok(),
                Origin::Idx { .. } => None,
            })
            .collect();
        let first = sizes.iter().flatten().next().copied()?;
        sizes.iter().flatten().all(|s| *s == first).then_some((first.1 as usize, first.0 as usize))
    }

    /// True when the source's images are single-channel by nature (IDX).
    pub fn is_idx(&self) -> bool {
        self.kind == SourceKind::Idx
    }

    /// Decodes an item and hashes its content (the file's bytes, or the IDX image's pixels).
    fn decode(&self, item: &Item) -> Result<(image::DynamicImage, u64)> {
        match &item.origin {
            Origin::File(p) => {
                let bytes = std::fs::read(p).map_err(|e| Error::Decode { path: p.clone(), message: e.to_string() })?;
                Ok((decode_bytes(&bytes, p)?, fnv1a(FNV_OFFSET, &bytes)))
            }
            Origin::Idx { part, index } => {
                let p = &self.idx[*part];
                let n = p.height * p.width;
                let bytes = p.pixels[index * n..(index + 1) * n].to_vec();
                let hash = fnv1a(FNV_OFFSET, &bytes);
                let image = image::GrayImage::from_raw(p.width as u32, p.height as u32, bytes).expect("IDX image size");
                Ok((image::DynamicImage::ImageLuma8(image), hash))
            }
        }
    }

    /// Decodes the items at `indices` in parallel and maps each `(item index, result)` with
    /// `f`, calling `progress(done, total)` as they finish (every 256 images and at the end).
    fn par_decode<T: Send>(
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
                if d % 256 == 0 || d == total {
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
    pub fn load(&self, indices: &[usize], pre: &Preprocess, keep: bool, progress: &(dyn Fn(usize, usize) + Sync)) -> Loaded {
        let total = indices.len();
        let decoded: Vec<Result<(Vec<u8>, bool, u64)>> =
            self.par_decode(indices, progress, |_, r| r.map(|(img, hash)| (pre.apply(&img), is_grey(&img), hash)));
        let mut data = ImageData { image_len: pre.image_len(), size: (pre.height, pre.width), ..Default::default() };
        if keep {
            data.pixels.reserve(total * pre.image_len());
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
                    data.names.push(self.name(i));
                    data.hashes.push(hash);
                }
                Err(e) => out.skipped.push(Skipped { path: PathBuf::from(self.name(i)), reason: error_reason(&e) }),
            }
        }
        if !keep {
            data.stream = Some(Streamed { files, preprocess: pre.clone() });
        }
        out
    }

    /// The split of every item under `options` (the layout's hints first, then seeded and
    /// stratified by class).
    pub fn split(&self, options: SplitOptions) -> Vec<Split> {
        let labels: Vec<usize> = self.items.iter().map(|i| i.label).collect();
        let hints: Vec<Option<Split>> = self.items.iter().map(|i| i.hint).collect();
        assign_splits(&labels, &hints, options.valid_pct, options.test_pct, options.seed)
    }
}

impl Source {
    /// The items at `indices` as a split streamed from their files, without reading them now
    /// (unreadable files then give black images). IDX items are read from memory.
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
            names: indices.iter().map(|&i| self.name(i)).collect(),
            hashes: vec![0; indices.len()],
            image_len: pre.image_len(),
            size: (pre.height, pre.width),
            stream: Some(Streamed { files, preprocess: pre.clone() }),
        }
    }
}

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

/// Per-channel sums of pixel values and their squares (0–255 scale).
#[derive(Debug, Clone, PartialEq)]
pub struct PixelStats {
    /// Sum per channel.
    pub sum: Vec<f64>,
    /// Sum of squares per channel.
    pub sq: Vec<f64>,
    /// Pixels per channel.
    pub n: f64,
}

impl PixelStats {
    /// Empty statistics over `channels`.
    pub fn new(channels: usize) -> Self {
        Self { sum: vec![0.0; channels], sq: vec![0.0; channels], n: 0.0 }
    }

    /// Adds one CHW image of `plane` pixels per channel.
    pub fn add(&mut self, chw: &[u8], plane: usize) {
        for (c, channel) in chw.chunks_exact(plane).enumerate() {
            let (s, q) = channel.iter().fold((0u64, 0u64), |(s, q), &v| (s + v as u64, q + (v as u64) * (v as u64)));
            self.sum[c] += s as f64;
            self.sq[c] += q as f64;
        }
        self.n += plane as f64;
    }

    /// Mean and standard deviation per channel on the 0–1 scale (std at least 1e-3).
    pub fn mean_std(&self) -> (Vec<f32>, Vec<f32>) {
        let n = self.n.max(1.0);
        self.sum
            .iter()
            .zip(&self.sq)
            .map(|(s, q)| {
                let mean = s / n / 255.0;
                let var = (q / n / (255.0 * 255.0) - mean * mean).max(0.0);
                (mean as f32, (var.sqrt() as f32).max(1e-3))
            })
            .unzip()
    }
}

/// The message of an error without the path prefix (the path is reported beside it).
pub(crate) fn error_reason(e: &Error) -> String {
    match e {
        Error::Decode { message, .. } => message.clone(),
        Error::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// Class names for an IDX folder: a `classes.txt` beside the files (one name a line), the
/// Fashion-MNIST names when the folder's path says so, else none (labels are used as names).
fn idx_class_names(dir: &Path) -> Option<Vec<String>> {
    if let Ok(text) = std::fs::read_to_string(dir.join("classes.txt")) {
        let names: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
        if !names.is_empty() {
            return Some(names);
        }
    }
    let path = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()).to_string_lossy().to_ascii_lowercase();
    let squashed: String = path.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    squashed.contains("fashionmnist").then(idx::fashion_mnist_classes)
}

/// Picks the input size: `size` when given, else the size every image shares when it is at
/// most 256 px, else 128 (224 for ResNets, which expect ImageNet-sized inputs).
pub fn choose_size(source: &Source, size: Option<usize>, large_default: usize) -> (usize, usize) {
    if let Some(s) = size {
        return (s, s);
    }
    match source.common_size() {
        Some((h, w)) if h <= 256 && w <= 256 => (h, w),
        _ => (large_default, large_default),
    }
}

/// A preprocessing for `source` at `(h, w)`: grey for IDX data, RGB otherwise (narrowed to
/// grey by the loader when every image turns out grey).
pub fn default_preprocess(source: &Source, (h, w): (usize, usize), resize: ResizeMode) -> Preprocess {
    Preprocess::new(h, w, if source.is_idx() { 1 } else { 3 }, resize)
}

/// Narrows RGB bytes whose channels are all equal to one channel.
pub fn rgb_to_grey(data: &mut ImageData) {
    let plane = data.image_len / 3;
    if let Some(s) = &mut data.stream {
        s.preprocess.channels = 1;
    } else {
        let mut out = Vec::with_capacity(data.pixels.len() / 3);
        for image in data.pixels.chunks_exact(data.image_len) {
            out.extend_from_slice(&image[..plane]);
        }
        data.pixels = out;
    }
    data.image_len = plane;
}
