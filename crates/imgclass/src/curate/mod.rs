//! Changing the user's dataset as an edited `clean.csv` says (`imgclass clean apply`), and
//! taking it back (`imgclass clean undo`). Nothing is deleted: with class folders, a relabelled
//! image moves to its new class's folder and a deleted one into `DATA/.imgclass-trash/`; with
//! labels in a CSV file, that file is rewritten (atomically) with the new labels — or, beyond
//! one label per image, the new labels or numbers in their columns — and without the deleted
//! rows.
//!
//! Every row is checked before anything changes ([`plan`]): files must lie inside the data
//! folder, classes must be plain folder names, no file may be named twice, no move may land on
//! an existing file. Each change is written to the journal ([`journal`]) before it is made, so
//! an apply killed at any moment can be undone, and an undo killed at any moment can be run
//! again. Undo never overwrites a file.

mod journal;
mod plan;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use journal::Undone;
use journal::{Entry, Journal};
pub(crate) use plan::Vocabulary;
use plan::{Action, Decision, NewTarget, at_line, confine, moves, read_decisions};

use crate::data::Labels;
use crate::data::targets::{TargetColumns, TaskKind, target_columns};
use crate::error::{Error, IoContext, Result};
use crate::util::fs::{MAX_TEXT, atomic_write, read_file, read_json, read_text};

/// The folder below the data folder that deleted images move into.
pub(crate) const TRASH: &str = ".imgclass-trash";

/// Where a dataset's labels live, recorded beside `clean.csv` (in `clean.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "layout", rename_all = "snake_case")]
pub enum LabelStore {
    /// One subfolder per class (possibly below `train/`, `valid/`, `test/`).
    ClassFolders {
        /// The data folder.
        root: PathBuf,
    },
    /// A CSV file of `path,label` rows, paths relative to `root`.
    Csv {
        /// The data folder.
        root: PathBuf,
        /// The labels file.
        csv: PathBuf,
        /// Beyond one label per image: which columns hold the targets (as `train` read them).
        #[serde(default)]
        columns: TargetColumns,
    },
}

impl LabelStore {
    /// Where the labels of data read with `labels` (and `columns`) from `root` live, when
    /// `apply` can edit them: class folders, or a labels CSV. `None` for IDX files (`idx`),
    /// labels from a file-name pattern or a file list. Paths are made absolute where they exist.
    pub fn of(labels: &Labels, columns: &TargetColumns, root: &Path, idx: bool) -> Option<LabelStore> {
        let abs = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        match labels {
            _ if idx => None,
            Labels::Folders => Some(LabelStore::ClassFolders { root: abs(root) }),
            Labels::Csv(csv) => Some(LabelStore::Csv { root: abs(root), csv: abs(csv), columns: columns.clone() }),
            Labels::NameRegex(_) | Labels::FileList(_) => None,
        }
    }

    fn root(&self) -> &Path {
        match self {
            LabelStore::ClassFolders { root } | LabelStore::Csv { root, .. } => root,
        }
    }
}

/// What `clean.json`, beside `clean.csv`, records for `apply`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Sidecar {
    /// Where the labels live, when `apply` can edit them.
    pub(crate) store: Option<LabelStore>,
    /// The dataset's classes, or its targets' names.
    pub(crate) classes: Vec<String>,
    /// What its labels ask of a model (older sidecars: single-label).
    #[serde(default)]
    pub(crate) task: TaskKind,
    /// Multi-label: what separates an image's labels in `clean.csv`.
    #[serde(default = "space")]
    pub(crate) delim: char,
    /// The folder `clean` ran in: relative paths of `clean.csv` are relative to it (older
    /// sidecars have none: then the current folder).
    #[serde(default)]
    pub(crate) base: Option<PathBuf>,
}

fn space() -> char {
    ' '
}

/// The path of the sidecar of `clean_csv`.
pub(crate) fn sidecar_path(clean_csv: &Path) -> PathBuf {
    clean_csv.with_extension("json")
}

/// What an apply did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Applied {
    /// Images given another label.
    pub relabelled: usize,
    /// Images moved to the trash (or dropped from the labels file).
    pub deleted: usize,
    /// Rows left as they are.
    pub kept: usize,
}

/// The decisions of an edited `clean.csv` (`file,…,action` rows; actions `keep`,
/// `relabel:CLASS`, `delete`), carried out on the dataset it was made from (recorded in
/// `clean.json` beside it). Checks every row before changing anything. Returns what was done
/// and the data folder (for [`undo`]).
pub fn apply(clean_csv: &Path) -> Result<(Applied, PathBuf)> {
    let sidecar: Sidecar = read_json(&sidecar_path(clean_csv))?;
    let Some(store) = sidecar.store else {
        return Err(Error::BadDataset {
            path: clean_csv.to_path_buf(),
            message: "the labels of this data live in IDX files, file names or a file list, which apply does not \
                      edit: change them there by hand"
                .into(),
        });
    };
    let base = match sidecar.base {
        Some(b) => b,
        None => std::env::current_dir().at(".")?,
    };
    let vocabulary = Vocabulary { task: sidecar.task, names: sidecar.classes, delim: sidecar.delim };
    let applied = apply_to(clean_csv, &store, &vocabulary, &base)?;
    Ok((applied, store.root().to_path_buf()))
}

/// [`apply`] on the data in `store` whose targets `vocabulary` reads; relative paths are
/// relative to `base`.
fn apply_to(clean_csv: &Path, store: &LabelStore, vocabulary: &Vocabulary, base: &Path) -> Result<Applied> {
    let root = base.join(store.root());
    let root = root.canonicalize().map_err(|_| Error::DataNotFound(root.clone()))?;
    let bytes = read_file(clean_csv, MAX_TEXT)?;
    let (decisions, kept) = read_decisions(clean_csv, &bytes, base, &root, vocabulary)?;
    let mut applied = Applied { kept, ..Applied::default() };
    let clean_csv = clean_csv.canonicalize().at(clean_csv)?;
    match store {
        LabelStore::ClassFolders { .. } => {
            let planned = moves(&clean_csv, &root, &decisions)?;
            if planned.is_empty() {
                return Ok(applied);
            }
            let mut journal = Journal::open(&root)?.begin(&clean_csv)?;
            for (from, to, relabel) in planned {
                journal.write(&Entry::Move { from: from.clone(), to: to.clone() })?;
                if let Some(folder) = to.parent() {
                    std::fs::create_dir_all(folder).at(folder)?;
                }
                rename_no_replace(&from, &to).at(&from)?;
                if relabel { applied.relabelled += 1 } else { applied.deleted += 1 }
            }
            journal.finish()?;
        }
        LabelStore::Csv { csv, columns, .. } => {
            let csv = base.join(csv);
            let before = read_text(&csv, MAX_TEXT)?;
            let cells = match vocabulary.task {
                TaskKind::SingleLabel => None,
                task => target_columns(&root, &csv, columns, task)?,
            };
            let edit = Cells { columns: cells, vocabulary };
            let after = rewrite_labels(&csv, &before, &root, &decisions, &edit, &mut applied)?;
            if after != before {
                let mut journal = Journal::open(&root)?.begin(&clean_csv)?;
                let after_sha256 = crate::util::sha256::sha256_bytes(after.as_bytes());
                journal.write(&Entry::Rewrite { file: csv.canonicalize().at(&csv)?, before, after_sha256 })?;
                journal.finish()?;
                atomic_write(&csv, after.as_bytes())?;
            }
        }
    }
    Ok(applied)
}

/// Where a labels CSV row's target is written: the label column (`None`: the second), or
/// these columns (a 0/1 per class, or a number per target).
struct Cells<'a> {
    columns: Option<Vec<usize>>,
    vocabulary: &'a Vocabulary,
}

impl Cells<'_> {
    /// `fields` (a row of the labels CSV) with `target` written in.
    fn write(&self, fields: &mut Vec<String>, target: &NewTarget) {
        let names = &self.vocabulary.names;
        let mut set = |c: usize, text: String| {
            if fields.len() <= c {
                fields.resize(c + 1, String::new());
            }
            fields[c] = text;
        };
        match (target, &self.columns) {
            (NewTarget::Class(class), _) => set(1, class.clone()),
            (NewTarget::Labels(on), None) => {
                let text: Vec<&str> = on.iter().map(|&c| names[c].as_str()).collect();
                set(1, text.join(&self.vocabulary.delim.to_string()));
            }
            (NewTarget::Labels(on), Some(cols)) => {
                for (j, &c) in cols.iter().enumerate() {
                    set(c, if on.contains(&j) { "1" } else { "0" }.into());
                }
            }
            (NewTarget::Values(values), cols) => {
                for (&c, v) in cols.as_deref().unwrap_or(&[1]).iter().zip(values) {
                    set(c, v.clone());
                }
            }
        }
    }
}

/// The labels CSV `text` (of `csv`) with the decided rows given their new targets (written as
/// `cells` says) or dropped; every other row is kept byte for byte.
fn rewrite_labels(
    csv: &Path,
    text: &str,
    root: &Path,
    decisions: &[Decision],
    cells: &Cells,
    applied: &mut Applied,
) -> Result<String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut starts = Vec::new();
    let mut out = String::new();
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| Error::BadDataset {
            path: at_line(csv, e.position().map_or(0, |p| p.line())),
            message: e.to_string(),
        })?;
        starts.push(record.position().map_or(0, |p| p.byte() as usize));
        records.push(record);
    }
    starts.push(text.len());
    out.push_str(&text[..starts[0]]);
    let wanted: HashMap<&Path, &Action> = decisions.iter().map(|d| (d.file.as_path(), &d.action)).collect();
    for (i, record) in records.iter().enumerate() {
        let verbatim = &text[starts[i]..starts[i + 1]];
        let file = record.get(0).map(str::trim).and_then(|f| confine(f, root, root).ok());
        match file.and_then(|f| wanted.get(f.as_path()).copied()) {
            None => out.push_str(verbatim),
            Some(Action::Delete) => applied.deleted += 1,
            Some(Action::Relabel(target)) => {
                let mut fields: Vec<String> = record.iter().map(String::from).collect();
                cells.write(&mut fields, target);
                out.push_str(&crate::util::csv::csv_records([fields]));
                applied.relabelled += 1;
            }
        }
    }
    Ok(out)
}

/// Reverts the last apply on the data folder `root`: moves its files back, restores the
/// labels file. Resumable: run again after an interruption, it finishes the job. Never
/// overwrites: a file at an original path is refused, named in [`Undone::refused`], and
/// stays in the journal for the next undo.
pub fn undo(root: &Path) -> Result<Undone> {
    let root = root.canonicalize().map_err(|_| Error::DataNotFound(root.to_path_buf()))?;
    Journal::open(&root)?.undo_last()
}

/// Renames `from` to `to` unless `to` exists (an `AlreadyExists` error then). Atomic on Linux
/// (`renameat2` with `RENAME_NOREPLACE`); elsewhere, and on file systems without it, a check
/// then a rename.
pub(crate) fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
        let (f, t) = (c(from)?, c(to)?);
        // SAFETY: both are valid NUL-terminated paths that outlive the call.
        let r =
            unsafe { libc::renameat2(libc::AT_FDCWD, f.as_ptr(), libc::AT_FDCWD, t.as_ptr(), libc::RENAME_NOREPLACE) };
        if r == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Err(e);
        }
    }
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, format!("{} exists", to.display())));
    }
    std::fs::rename(from, to)
}

#[cfg(test)]
mod tests;
