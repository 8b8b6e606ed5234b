//! A folder with one subfolder per class, as Keras' `image_dataset_from_directory` and
//! fastai's `ImageDataLoaders.from_folder` read it.
//!
//! Images may sit at any depth below their class folder. When the root holds `train/` and
//! `valid/` (or `val/`) or `test/`, those are the splits and the classes are the subfolders
//! of each. Files whose extension is not an image format are ignored without a word; files
//! that look like images but cannot be read are reported by the loader.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Split;
use crate::error::{Error, Result};

/// File extensions read as images (lowercase).
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "png", "gif", "bmp", "webp", "tif", "tiff", "pnm", "pbm", "pgm", "ppm", "tga", "ico", "qoi",
];

/// True when the file name ends in an image extension.
pub(crate) fn is_image_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// What a scan found: files with their class name and split hint, plus what it could not read.
#[derive(Debug, Default)]
pub struct Scan {
    /// `(path, class name, split hint)` for each image file.
    pub files: Vec<(PathBuf, String, Option<Split>)>,
    /// Folders or entries that could not be listed, with the reason.
    pub problems: Vec<(PathBuf, String)>,
    /// Class folders that hold no image.
    pub empty_classes: Vec<PathBuf>,
}

fn split_folder(name: &str) -> Option<Split> {
    match name.to_ascii_lowercase().as_str() {
        "train" | "training" => Some(Split::Train),
        "valid" | "val" | "validation" => Some(Split::Valid),
        "test" | "testing" => Some(Split::Test),
        _ => None,
    }
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io { path: dir.into(), source })?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    out.sort();
    Ok(out)
}

/// Lists every image file below `dir`, sorted (following links; loops and unreadable folders
/// are added to `problems`).
pub(crate) fn images_below(dir: &Path, problems: &mut Vec<(PathBuf, String)>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(true).sort_by_file_name() {
        match entry {
            Ok(e) if e.file_type().is_file() && is_image_path(e.path()) => out.push(e.into_path()),
            Ok(_) => {}
            Err(err) => problems.push(walk_problem(&err, dir)),
        }
    }
    out
}

/// What a folder walk below `dir` could not read: the path (or `dir`) and why.
pub(crate) fn walk_problem(err: &walkdir::Error, dir: &Path) -> (PathBuf, String) {
    let path = err.path().map(Path::to_path_buf).unwrap_or_else(|| dir.to_path_buf());
    let why = if err.loop_ancestor().is_some() { "symbolic link loop".to_string() } else { err.to_string() };
    (path, why)
}

/// Scans `root` for class folders (and split folders above them).
pub fn scan(root: &Path) -> Result<Scan> {
    let top = subdirs(root)?;
    let split_dirs: Vec<(PathBuf, Split)> =
        top.iter().filter_map(|d| split_folder(&d.file_name()?.to_string_lossy()).map(|s| (d.clone(), s))).collect();
    let use_splits = split_dirs.iter().any(|(_, s)| *s == Split::Train) && split_dirs.len() >= 2;
    let mut scan = Scan::default();
    let mut class_dirs: Vec<(PathBuf, String, Option<Split>)> = Vec::new();
    if use_splits {
        for (dir, split) in &split_dirs {
            for class_dir in subdirs(dir)? {
                let name = class_dir.file_name().unwrap().to_string_lossy().into_owned();
                class_dirs.push((class_dir, name, Some(*split)));
            }
        }
    } else {
        for class_dir in top {
            let name = class_dir.file_name().unwrap().to_string_lossy().into_owned();
            class_dirs.push((class_dir, name, None));
        }
    }
    // A class is empty only when it has no image in any split.
    let mut per_class: BTreeMap<String, usize> = BTreeMap::new();
    let mut first_dir: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (dir, name, split) in class_dirs {
        let files = images_below(&dir, &mut scan.problems);
        *per_class.entry(name.clone()).or_default() += files.len();
        first_dir.entry(name.clone()).or_insert(dir);
        scan.files.extend(files.into_iter().map(|f| (f, name.clone(), split)));
    }
    scan.empty_classes = per_class.iter().filter(|(_, n)| **n == 0).map(|(c, _)| first_dir[c].clone()).collect();
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn nested_images_belong_to_their_top_class_folder_and_other_files_are_ignored() {
        let t = tempfile::tempdir().unwrap();
        touch(&t.path().join("cat/a.jpg"));
        touch(&t.path().join("cat/deep/b.PNG"));
        touch(&t.path().join("cat/notes.txt"));
        touch(&t.path().join("dog/c.webp"));
        let s = scan(t.path()).unwrap();
        let classes: Vec<_> = s.files.iter().map(|(_, c, h)| (c.as_str(), *h)).collect();
        assert_eq!(classes, vec![("cat", None), ("cat", None), ("dog", None)]);
    }

    #[test]
    fn train_and_valid_folders_become_split_hints() {
        let t = tempfile::tempdir().unwrap();
        touch(&t.path().join("train/cat/a.jpg"));
        touch(&t.path().join("val/cat/b.jpg"));
        touch(&t.path().join("train/dog/c.jpg"));
        let s = scan(t.path()).unwrap();
        let hints: Vec<_> = s.files.iter().map(|(_, c, h)| (c.clone(), h.unwrap())).collect();
        assert!(hints.contains(&("cat".into(), Split::Valid)) && hints.contains(&("dog".into(), Split::Train)));
    }

    #[test]
    fn a_class_folder_without_images_is_reported_empty() {
        let t = tempfile::tempdir().unwrap();
        touch(&t.path().join("cat/a.jpg"));
        std::fs::create_dir_all(t.path().join("dog")).unwrap();
        touch(&t.path().join("dog/readme.md"));
        let s = scan(t.path()).unwrap();
        assert_eq!(s.empty_classes, vec![t.path().join("dog")]);
    }
}
