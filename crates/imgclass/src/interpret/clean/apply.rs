//! Carrying out the decisions of an edited `clean.csv` (`imgclass clean apply`), and taking
//! them back (`imgclass clean undo`). Nothing is deleted: with class folders, a relabelled
//! image moves to its new class's folder and a deleted one into `DATA/.imgclass-trash/`; with
//! labels in a CSV file, that file is rewritten (atomically) with the new labels and without
//! the deleted rows. Every apply appends what it did to `DATA/.imgclass-undo.json`; an undo
//! reverts the last apply.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::Labels;
use crate::data::labels::csv_fields;
use crate::error::{Error, IoContext, Result};
use crate::metrics::csv_field;
use crate::util::fs::{atomic_write, read_json, write_json};

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
    },
}

impl LabelStore {
    /// Where the labels of data read with `labels` from `root` live, when `apply` can edit
    /// them: class folders, or a labels CSV. `None` for IDX files (`idx`), labels from a
    /// file-name pattern or a file list.
    pub fn of(labels: &Labels, root: &Path, idx: bool) -> Option<LabelStore> {
        match labels {
            _ if idx => None,
            Labels::Folders => Some(LabelStore::ClassFolders { root: root.to_path_buf() }),
            Labels::Csv(csv) => Some(LabelStore::Csv { root: root.to_path_buf(), csv: csv.clone() }),
            Labels::NameRegex(_) | Labels::FileList(_) => None,
        }
    }

    fn root(&self) -> &Path {
        match self {
            LabelStore::ClassFolders { root } | LabelStore::Csv { root, .. } => root,
        }
    }
}

/// One change made, to be undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Change {
    /// A file moved.
    Moved { from: PathBuf, to: PathBuf },
    /// A labels file rewritten; its text before.
    Rewrote { file: PathBuf, before: String },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct UndoLog {
    /// One entry per apply, oldest first; each entry's changes in the order made.
    applies: Vec<Vec<Change>>,
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

fn undo_path(root: &Path) -> PathBuf {
    root.join(".imgclass-undo.json")
}

/// What `clean.json`, beside `clean.csv`, records for `apply`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Sidecar {
    /// Where the labels live, when `apply` can edit them.
    pub store: Option<LabelStore>,
    /// The dataset's classes.
    pub classes: Vec<String>,
}

pub(crate) fn sidecar_path(clean_csv: &Path) -> PathBuf {
    clean_csv.with_extension("json")
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
    let applied = apply_to(clean_csv, &store, &sidecar.classes)?;
    Ok((applied, store.root().to_path_buf()))
}

/// [`apply`] on the data in `store` whose classes are `classes`.
fn apply_to(clean_csv: &Path, store: &LabelStore, classes: &[String]) -> Result<Applied> {
    let text = std::fs::read_to_string(clean_csv).at(clean_csv)?;
    let bad = |line: usize, message: String| Error::BadDataset {
        path: format!("{}:{line}", clean_csv.display()).into(),
        message,
    };
    let mut decisions = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1).filter(|(_, l)| !l.trim().is_empty()) {
        let fields = csv_fields(line);
        let (Some(file), Some(action)) = (fields.first(), fields.last()) else { continue };
        let decision = match action.trim() {
            "" | "keep" => None,
            "delete" => Some(None),
            a => match a.strip_prefix("relabel:") {
                Some(class) if classes.iter().any(|c| c == class.trim()) => Some(Some(class.trim().to_string())),
                Some(class) => {
                    return Err(bad(n + 1, format!("no class {class:?}; the classes are {}", classes.join(", "))));
                }
                None => return Err(bad(n + 1, format!("unknown action {a:?}: use keep, relabel:CLASS or delete"))),
            },
        };
        decisions.push((PathBuf::from(file), decision));
    }
    let mut applied = Applied { kept: decisions.iter().filter(|d| d.1.is_none()).count(), ..Applied::default() };
    let changes = match store {
        LabelStore::ClassFolders { root } => move_files(root, &decisions, &mut applied)?,
        LabelStore::Csv { root, csv } => rewrite_csv(root, csv, &decisions, &mut applied)?,
    };
    let log_path = undo_path(store.root());
    let mut log: UndoLog = if log_path.exists() { read_json(&log_path)? } else { UndoLog::default() };
    log.applies.push(changes);
    write_json(&log_path, &log)?;
    Ok(applied)
}

type Decision = (PathBuf, Option<Option<String>>);

/// Class folders: relabelled files move to the sibling folder of their class, deleted ones
/// into the trash at the same path below the data folder.
fn move_files(root: &Path, decisions: &[Decision], applied: &mut Applied) -> Result<Vec<Change>> {
    let mut moves = Vec::new();
    for (file, decision) in decisions {
        let Some(decision) = decision else { continue };
        let name =
            file.file_name().ok_or_else(|| Error::BadDataset { path: file.clone(), message: "not a file".into() })?;
        let to = match decision {
            Some(class) => file.parent().and_then(Path::parent).unwrap_or(root).join(class).join(name),
            None => root.join(".imgclass-trash").join(file.strip_prefix(root).unwrap_or(Path::new(name))),
        };
        if !file.is_file() {
            return Err(Error::BadDataset { path: file.clone(), message: "listed in clean.csv but not found".into() });
        }
        if to.exists() {
            return Err(Error::BadDataset {
                path: to,
                message: format!("already exists; {} was not moved", file.display()),
            });
        }
        moves.push((file.clone(), to, decision.is_some()));
    }
    let mut changes = Vec::new();
    for (from, to, relabel) in moves {
        std::fs::create_dir_all(to.parent().unwrap_or(root)).at(&to)?;
        std::fs::rename(&from, &to).at(&from)?;
        changes.push(Change::Moved { from, to });
        if relabel { applied.relabelled += 1 } else { applied.deleted += 1 }
    }
    Ok(changes)
}

/// A CSV of labels: the rows of relabelled images get their new label, those of deleted ones
/// are dropped; the images stay where they are.
fn rewrite_csv(root: &Path, csv: &Path, decisions: &[Decision], applied: &mut Applied) -> Result<Vec<Change>> {
    let before = std::fs::read_to_string(csv).at(csv)?;
    let wanted: HashMap<PathBuf, &Option<String>> =
        decisions.iter().filter_map(|(f, d)| d.as_ref().map(|d| (f.clone(), d))).collect();
    let mut out = String::new();
    for line in before.lines() {
        let fields = csv_fields(line);
        let decision = fields.first().and_then(|p| wanted.get(&root.join(p.trim())));
        match decision {
            None => out += &format!("{line}\n"),
            Some(None) => applied.deleted += 1,
            Some(Some(class)) => {
                out += &format!("{},{}\n", csv_field(fields[0].trim()), csv_field(class));
                applied.relabelled += 1;
            }
        }
    }
    atomic_write(csv, out.as_bytes())?;
    Ok(vec![Change::Rewrote { file: csv.to_path_buf(), before }])
}

/// Reverts the last apply on the data folder `root`: moves its files back, restores the
/// labels file. Returns how many changes were reverted (0 when there is nothing to undo).
pub fn undo(root: &Path) -> Result<usize> {
    let log_path = undo_path(root);
    if !log_path.exists() {
        return Ok(0);
    }
    let mut log: UndoLog = read_json(&log_path)?;
    let Some(changes) = log.applies.pop() else { return Ok(0) };
    for change in changes.iter().rev() {
        match change {
            Change::Moved { from, to } => {
                std::fs::create_dir_all(from.parent().unwrap_or(root)).at(from)?;
                std::fs::rename(to, from).at(to)?;
            }
            Change::Rewrote { file, before } => atomic_write(file, before.as_bytes())?,
        }
    }
    write_json(&log_path, &log)?;
    Ok(changes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes() -> Vec<String> {
        vec!["cat".into(), "dog".into()]
    }

    #[test]
    fn class_folders_move_relabelled_and_deleted_files_and_undo_puts_them_back() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("pets");
        for f in ["cat/a.png", "cat/b.png", "dog/c.png", "dog/d.png"] {
            std::fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            std::fs::write(root.join(f), f).unwrap();
        }
        let p = |f: &str| root.join(f).display().to_string();
        let csv = t.path().join("clean.csv");
        let rows = format!(
            "file,label,suggested,score,issue,action\n{},cat,dog,0.9,label_error,relabel:dog\n{},dog,cat,0.8,label_error,delete\n{},dog,cat,0.7,label_error,keep\n",
            p("cat/a.png"),
            p("dog/c.png"),
            p("dog/d.png")
        );
        std::fs::write(&csv, rows).unwrap();
        let store = LabelStore::ClassFolders { root: root.clone() };
        let done = apply_to(&csv, &store, &classes()).unwrap();
        assert_eq!(done, Applied { relabelled: 1, deleted: 1, kept: 1 });
        assert_eq!(std::fs::read_to_string(root.join("dog/a.png")).unwrap(), "cat/a.png");
        assert!(!root.join("cat/a.png").exists() && !root.join("dog/c.png").exists());
        assert!(root.join(".imgclass-trash/dog/c.png").is_file(), "moved to the trash, not deleted");
        assert_eq!(undo(&root).unwrap(), 2);
        for f in ["cat/a.png", "dog/c.png"] {
            assert_eq!(std::fs::read_to_string(root.join(f)).unwrap(), f);
        }
        assert_eq!(undo(&root).unwrap(), 0, "nothing left to undo");
    }

    #[test]
    fn a_bad_action_or_class_changes_nothing_and_names_the_line() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("pets");
        std::fs::create_dir_all(root.join("cat")).unwrap();
        std::fs::write(root.join("cat/a.png"), "x").unwrap();
        let csv = t.path().join("clean.csv");
        let file = root.join("cat/a.png").display().to_string();
        std::fs::write(&csv, format!("file,action\n{file},relabel:horse\n")).unwrap();
        let store = LabelStore::ClassFolders { root: root.clone() };
        let e = apply_to(&csv, &store, &classes()).unwrap_err().to_string();
        assert!(e.contains("clean.csv:2") && e.contains("cat, dog"), "{e}");
        std::fs::write(&csv, format!("file,action\n{file},burn\n")).unwrap();
        assert!(apply_to(&csv, &store, &classes()).unwrap_err().to_string().contains("keep, relabel:CLASS or delete"));
        assert!(root.join("cat/a.png").is_file());
    }

    #[test]
    fn a_labels_csv_is_rewritten_and_restored() {
        let t = tempfile::tempdir().unwrap();
        let labels = t.path().join("labels.csv");
        let original = "path,label\nimg/a.png,cat\nimg/b.png,dog\nimg/c.png,cat\n";
        std::fs::write(&labels, original).unwrap();
        let csv = t.path().join("clean.csv");
        let p = |f: &str| t.path().join(f).display().to_string();
        std::fs::write(&csv, format!("file,action\n{},relabel:dog\n{},delete\n", p("img/a.png"), p("img/b.png")))
            .unwrap();
        let store = LabelStore::Csv { root: t.path().to_path_buf(), csv: labels.clone() };
        assert_eq!(apply_to(&csv, &store, &classes()).unwrap(), Applied { relabelled: 1, deleted: 1, kept: 0 });
        assert_eq!(std::fs::read_to_string(&labels).unwrap(), "path,label\nimg/a.png,dog\nimg/c.png,cat\n");
        assert_eq!(undo(t.path()).unwrap(), 1);
        assert_eq!(std::fs::read_to_string(&labels).unwrap(), original);
    }
}
