//! Data sources: where images and labels come from, how they are split, and how they are
//! decoded into model-ready bytes and batches.
//!
//! A [`Source`] lists items (an image file or an image inside an IDX file) with their labels;
//! [`Source::load`] decodes a subset in parallel with a [`Preprocess`] into an [`ImageData`];
//! [`DataSplits`] holds a run's decoded train / valid / test sets and [`Loader`] makes batches
//! from them. Unreadable images are skipped and reported, never fatal.
//!
//! ```no_run
//! use imgclass::data::Source;
//! let source = Source::open("photos".as_ref())?;
//! println!("{} images of {} classes", source.len(), source.classes().len());
//! # Ok::<(), imgclass::Error>(())
//! ```

pub mod bundled;
pub mod check;
mod decode;
pub(crate) mod folder;
pub mod idx;
mod images;
pub mod labels;
mod load;
pub(crate) mod loader;
mod splits;
mod stratify;
pub mod targets;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use decode::MAX_PIXELS;
pub(crate) use decode::decode_file;
pub use decode::decode_image;
pub(crate) use decode::describe;
pub use folder::IMAGE_EXTENSIONS;
pub use images::ImageData;
pub use labels::Labels;
pub use load::Loaded;
pub(crate) use load::load_bytes;
pub use loader::{Batch, Loader};
pub use splits::{DataSplits, LoadOptions, Residency, SplitOptions, SplitRecord};
pub use stratify::Split;

pub(crate) use loader::chunks;
pub(crate) use stratify::assign as assign_splits;

use crate::error::{Error, Result};
use crate::transforms::{Preprocess, ResizeMode};
use crate::util::fs::{MAX_TEXT, read_text};
use crate::util::rng::{FNV_OFFSET, fnv1a};
use idx::IdxSplit;
use targets::TaskKind;

/// Where one item's pixels live.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Origin {
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
pub(crate) struct Item {
    /// Where its pixels are.
    pub(crate) origin: Origin,
    /// Index into [`Source::classes`].
    pub(crate) label: usize,
    /// The split the data layout fixes for it (a `train/` folder, a `t10k` file), if any.
    pub(crate) hint: Option<Split>,
    /// Beyond one class: a 0/1 per class (multi-label) or its numbers (regression, count);
    /// empty for single-label. `label` then only stratifies the split.
    pub(crate) values: Vec<f32>,
}

/// A file that was passed over, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// The file or folder.
    pub path: PathBuf,
    /// What went wrong.
    pub reason: String,
}

/// What kind of layout a source was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SourceKind {
    /// Image files (class folders, a CSV of labels, file names, a file list).
    Folder,
    /// MNIST-style IDX files.
    Idx,
}

/// A labelled collection of images, not yet decoded. Every item's label indexes
/// [`Source::classes`].
#[derive(Debug, Clone)]
pub struct Source {
    pub(crate) root: PathBuf,
    pub(crate) kind: SourceKind,
    /// What the labels ask of a model.
    pub(crate) task: TaskKind,
    /// Why the task was chosen, when it was inferred from the labels.
    pub(crate) task_note: Option<String>,
    /// Multi-label: what separates one image's labels when written in one cell (see
    /// [`targets::TargetTable::delim`]).
    pub(crate) label_delim: char,
    /// Class names, or (regression, count) the target columns' names.
    pub(crate) classes: Vec<String>,
    /// IDX labels with no class names known: the classes are the label numbers.
    pub(crate) numbered: bool,
    pub(crate) items: Vec<Item>,
    pub(crate) problems: Vec<Skipped>,
    pub(crate) idx: Vec<IdxSplit>,
    /// The most pixels an image may declare to be decoded ([`MAX_PIXELS`] by default).
    pub(crate) max_pixels: u64,
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
    /// split when both are present; a lone split is left for the splitter to cut. Without
    /// `classes` (or too few of them) the classes are the label numbers.
    pub fn from_idx(root: PathBuf, parts: Vec<IdxSplit>, classes: Option<Vec<String>>) -> Source {
        let both = parts.len() > 1;
        let max_label = parts.iter().flat_map(|p| p.labels.iter().copied()).max().unwrap_or(0) as usize;
        let named = classes.filter(|c| c.len() > max_label);
        let numbered = named.is_none();
        let classes = named.unwrap_or_else(|| (0..=max_label).map(|i| i.to_string()).collect());
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
                values: Vec::new(),
            }));
        }
        Source {
            root,
            kind: SourceKind::Idx,
            task: TaskKind::SingleLabel,
            task_note: None,
            label_delim: ' ',
            classes,
            numbered,
            items,
            problems: Vec::new(),
            idx: parts,
            max_pixels: MAX_PIXELS,
        }
    }

    fn from_folder(path: &Path) -> Result<Source> {
        let scan = folder::scan(path)?;
        if let Some(empty) = scan.empty_classes.first() {
            return Err(Error::BadDataset {
                path: empty.clone(),
                message: "class folder has no images; add images to it or remove it".into(),
            });
        }
        let files: Vec<(PathBuf, String, Option<Split>)> = scan.files;
        let problems = scan.problems.into_iter().map(|(path, reason)| Skipped { path, reason }).collect();
        let source = Self::labelled_files(path, files, problems);
        if source.classes.is_empty() {
            return Err(Error::BadDataset {
                path: path.into(),
                message: "no class subfolder with images; put each class's images in its own subfolder".into(),
            });
        }
        Ok(source)
    }

    /// A source over image files with their class names (sorted into the class list) and
    /// split hints.
    pub(crate) fn labelled_files(
        root: &Path,
        files: Vec<(PathBuf, String, Option<Split>)>,
        problems: Vec<Skipped>,
    ) -> Source {
        let mut classes: Vec<String> = files.iter().map(|(_, c, _)| c.clone()).collect();
        classes.sort();
        classes.dedup();
        let items = files
            .into_iter()
            .map(|(p, c, hint)| {
                let label = classes.binary_search(&c).unwrap_or_default();
                Item { origin: Origin::File(p), label, hint, values: Vec::new() }
            })
            .collect();
        Source {
            root: root.into(),
            kind: SourceKind::Folder,
            task: TaskKind::SingleLabel,
            task_note: None,
            label_delim: ' ',
            classes,
            numbered: false,
            items,
            problems,
            idx: Vec::new(),
            max_pixels: MAX_PIXELS,
        }
    }

    /// The same source, decoding only images that declare at most `max_pixels` pixels (larger
    /// ones are skipped as undecodable); [`MAX_PIXELS`] by default.
    pub fn with_max_pixels(self, max_pixels: u64) -> Source {
        Source { max_pixels, ..self }
    }

    /// An unlabelled source over image files (for prediction): every item has label 0.
    pub(crate) fn from_files(files: Vec<PathBuf>) -> Source {
        let files = files.into_iter().map(|p| (p, String::new(), None)).collect();
        Self::labelled_files(Path::new(""), files, Vec::new())
    }

    /// The folder it was read from (or `bundled:…` for the built-in sample).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Layout kind.
    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// Class names; labels index into this. For regression and count: the targets' names.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// What the labels ask of a model: one class, several, numbers or counts.
    pub fn task(&self) -> TaskKind {
        self.task
    }

    /// Multi-label: what separates an image's labels written in one cell (the labels CSV's
    /// delimiter, or a character no class name holds).
    pub fn label_delim(&self) -> char {
        self.label_delim
    }

    /// Why the task was chosen, when the labels implied it (one line for the user).
    pub fn task_note(&self) -> Option<&str> {
        self.task_note.as_deref()
    }

    /// Whether the classes are IDX label numbers with no names (no `classes.txt`): such
    /// labels mean class indices, not names.
    pub(crate) fn numbered_classes(&self) -> bool {
        self.numbered
    }

    /// Number of labelled images.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the source lists no image.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Problems met while listing (unreadable folders, link loops, missing listed files).
    pub fn problems(&self) -> &[Skipped] {
        &self.problems
    }

    /// True when the source's images are single-channel by nature (IDX).
    pub fn is_idx(&self) -> bool {
        self.kind == SourceKind::Idx
    }

    /// Errors unless the source has something to learn: two classes for a single-label
    /// classifier, one class or target otherwise.
    pub fn require_trainable(&self) -> Result<()> {
        if self.task != TaskKind::SingleLabel && !self.classes.is_empty() {
            return Ok(());
        }
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

    /// Each item's index by its [`Source::name`] (how decoded images, which carry their
    /// names, find their item again).
    pub(crate) fn indices_by_name(&self) -> std::collections::HashMap<String, usize> {
        (0..self.len()).map(|i| (self.name(i), i)).collect()
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
            for v in &item.values {
                h = fnv1a(h, &v.to_le_bytes());
            }
        }
        vec![h]
    }

    /// The part (see [`Source::part_fingerprints`]) that item `i` belongs to.
    pub(crate) fn part_of(&self, i: usize) -> usize {
        match self.items[i].origin {
            Origin::Idx { part, .. } => part,
            Origin::File(_) => 0,
        }
    }

    /// The size every image shares, when they all share one (IDX files always do).
    pub(crate) fn common_size(&self) -> Option<(usize, usize)> {
        if let Some(p) = self.idx.first() {
            return self.idx.iter().all(|q| (q.height, q.width) == (p.height, p.width)).then_some((p.height, p.width));
        }
        let sizes: Vec<Option<(u32, u32)>> = self
            .items
            .par_iter()
            .map(|it| match &it.origin {
                Origin::File(p) => decode::dimensions(p),
                Origin::Idx { .. } => None,
            })
            .collect();
        let first = sizes.iter().flatten().next().copied()?;
        sizes.iter().flatten().all(|s| *s == first).then_some((first.1 as usize, first.0 as usize))
    }

    /// The split of every item under `options` (the layout's hints first, then seeded and
    /// stratified by class).
    pub fn split(&self, options: SplitOptions) -> Vec<Split> {
        let labels: Vec<usize> = self.items.iter().map(|i| i.label).collect();
        let hints: Vec<Option<Split>> = self.items.iter().map(|i| i.hint).collect();
        assign_splits(&labels, &hints, options.valid_pct, options.test_pct, options.seed)
    }
}

/// Class names for an IDX folder: a `classes.txt` beside the files (one name a line), the
/// Fashion-MNIST names when the folder's path says so, else none (labels are used as names).
fn idx_class_names(dir: &Path) -> Option<Vec<String>> {
    if let Ok(text) = read_text(&dir.join("classes.txt"), MAX_TEXT) {
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
/// most 256 px, else `large_default` (128; 224 for ImageNet-style networks).
pub(crate) fn choose_size(source: &Source, size: Option<usize>, large_default: usize) -> (usize, usize) {
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
pub(crate) fn default_preprocess(source: &Source, (h, w): (usize, usize), resize: ResizeMode) -> Preprocess {
    Preprocess::new(h, w, if source.is_idx() { 1 } else { 3 }, resize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(labels: Vec<u8>) -> IdxSplit {
        let n = labels.len();
        IdxSplit { prefix: "t10k".into(), pixels: vec![0; n * 4], labels, height: 2, width: 2 }
    }

    #[test]
    fn idx_labels_without_names_are_numbered_classes() {
        let s = Source::from_idx("x".into(), vec![part(vec![0, 2, 1])], None);
        assert!(s.numbered_classes());
        assert_eq!(s.classes(), ["0", "1", "2"]);
        let named = Source::from_idx("x".into(), vec![part(vec![0, 1])], Some(vec!["a".into(), "b".into()]));
        assert!(!named.numbered_classes());
    }

    #[test]
    fn a_renamed_copy_of_fashion_mnist_has_numbered_classes_and_the_original_names() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("fm-test");
        std::fs::create_dir(&dir).unwrap();
        let images = idx::gunzip(bundled::IMAGES_GZ, Path::new("i")).unwrap();
        let labels = idx::gunzip(bundled::LABELS_GZ, Path::new("l")).unwrap();
        std::fs::write(dir.join("t10k-images-idx3-ubyte"), images).unwrap();
        std::fs::write(dir.join("t10k-labels-idx1-ubyte"), labels).unwrap();
        let copy = Source::open(&dir).unwrap();
        assert!(copy.numbered_classes() && copy.len() == 10_000);
        assert!(!Source::bundled().unwrap().numbered_classes());
    }
}
