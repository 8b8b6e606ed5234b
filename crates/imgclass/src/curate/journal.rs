//! The undo journal, `DATA/.imgclass-undo.jsonl`: one JSON line per change, appended and
//! written out *before* the change is made, with absolute paths. A `kill -9` at any moment
//! leaves a journal that names every change made (and perhaps one more that was not): undo
//! reverts what was made and skips what was not, so it can itself be interrupted and run
//! again. It never overwrites: a file that came back at an original path is refused and named,
//! and stays in the journal for the next undo. `DATA/.imgclass-undo.lock` keeps two applies
//! or undos of one data folder from running at once.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::util::fs::{MAX_TEXT, atomic_write, read_file, read_text};

const JOURNAL: &str = ".imgclass-undo.jsonl";
const LOCK: &str = ".imgclass-undo.lock";
/// The log of imgclass versions before the journal: all-or-nothing, written at the end.
const LEGACY: &str = ".imgclass-undo.json";

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Entry {
    /// An apply starts; the changes up to the next `Begin` are its own.
    Begin {
        /// The clean.csv applied.
        clean_csv: PathBuf,
    },
    /// A file is about to move (absolute paths).
    Move {
        /// Where it was.
        from: PathBuf,
        /// Where it goes.
        to: PathBuf,
    },
    /// A labels file is about to be rewritten.
    Rewrite {
        /// The labels file (absolute).
        file: PathBuf,
        /// Its text before.
        before: String,
        /// The SHA-256 of its text after, so that undo can tell it was not edited since.
        after_sha256: String,
    },
}

/// The journal of one data folder, locked while this value lives.
pub(crate) struct Journal {
    path: PathBuf,
    _lock: File,
}

/// What an undo did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Undone {
    /// Changes reverted.
    pub reverted: usize,
    /// Changes found already reverted (or never made: an apply interrupted between its
    /// journal line and the move).
    pub already: usize,
    /// Changes not reverted, each with why: a file at the original path (undo never
    /// overwrites; the entry stays for the next undo), or a file gone from both places.
    pub refused: Vec<String>,
}

impl Journal {
    /// The journal of the data folder `root` (canonical), locked against other applies and undos.
    pub(crate) fn open(root: &Path) -> Result<Journal> {
        let lock_path = root.join(LOCK);
        let lock = OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).at(&lock_path)?;
        lock.try_lock().map_err(|_| Error::BadDataset {
            path: root.into(),
            message: "another `imgclass clean apply` or `clean undo` is working on this data folder; wait for it"
                .into(),
        })?;
        if root.join(LEGACY).exists() {
            return Err(Error::BadDataset {
                path: root.join(LEGACY),
                message:
                    "an undo log of an older imgclass: undo it with that version (or move the files it lists back \
                          by hand), then delete it"
                        .into(),
            });
        }
        Ok(Journal { path: root.join(JOURNAL), _lock: lock })
    }

    /// The journal's text and its entries, each with the byte offset of its line. A last line
    /// cut short (the process killed while writing it) is not an entry: its change was never made.
    fn read(&self) -> Result<(String, Vec<(usize, Entry)>)> {
        if !self.path.exists() {
            return Ok((String::new(), Vec::new()));
        }
        let text = read_text(&self.path, MAX_TEXT)?;
        let mut entries = Vec::new();
        let mut offset = 0;
        for (n, line) in text.split_inclusive('\n').enumerate() {
            if !line.ends_with('\n') {
                break;
            }
            let entry = serde_json::from_str::<Entry>(line).map_err(|e| Error::BadDataset {
                path: PathBuf::from(format!("{}:{}", self.path.display(), n + 1)),
                message: format!("not a journal line ({e}); revert the changes it lists by hand"),
            })?;
            entries.push((offset, entry));
            offset += line.len();
        }
        Ok((text, entries))
    }

    /// Starts writing an apply: drops a cut-short last line, then returns the appender.
    pub(crate) fn begin(&mut self, clean_csv: &Path) -> Result<Appender> {
        let (text, _) = self.read()?; // a damaged journal is refused before anything is added to it
        let end = text.rfind('\n').map_or(0, |i| i + 1);
        let file = OpenOptions::new().create(true).append(true).open(&self.path).at(&self.path)?;
        if end < text.len() {
            file.set_len(end as u64).at(&self.path)?;
        }
        let mut appender = Appender { file, path: self.path.clone() };
        appender.write(&Entry::Begin { clean_csv: clean_csv.to_path_buf() })?;
        Ok(appender)
    }

    /// Reverts the last apply's changes, last first. Entries refused because a file is in the
    /// way stay in the journal (under their apply) for the next undo.
    pub(crate) fn undo_last(&mut self) -> Result<Undone> {
        let (text, entries) = self.read()?;
        let Some(start) = entries.iter().rposition(|(_, e)| matches!(e, Entry::Begin { .. })) else {
            return Ok(Undone::default());
        };
        let mut undone = Undone::default();
        let mut left = Vec::new();
        for (_, entry) in entries[start + 1..].iter().rev() {
            if let Some(keep) = revert(entry, &mut undone)? {
                left.push(keep);
            }
        }
        let mut kept = text[..entries[start].0].to_string();
        if !left.is_empty() {
            left.reverse();
            for e in std::iter::once(&entries[start].1).chain(&left) {
                kept += &line(e, &self.path)?;
            }
        }
        atomic_write(&self.path, kept.as_bytes())?;
        Ok(undone)
    }
}

/// Writes journal lines, each out of the process before the change it names is made.
pub(crate) struct Appender {
    file: File,
    path: PathBuf,
}

impl Appender {
    /// Appends `entry` as one line, in one write.
    pub(crate) fn write(&mut self, entry: &Entry) -> Result<()> {
        self.file.write_all(line(entry, &self.path)?.as_bytes()).at(&self.path)
    }

    /// Flushes the journal to disk.
    pub(crate) fn finish(self) -> Result<()> {
        self.file.sync_all().at(&self.path)
    }
}

fn line(entry: &Entry, path: &Path) -> Result<String> {
    let json = serde_json::to_string(entry).map_err(|source| Error::Json { path: path.into(), source })?;
    Ok(json + "\n")
}

/// Reverts one change; returns it when it must stay in the journal (a file in the way).
fn revert(entry: &Entry, undone: &mut Undone) -> Result<Option<Entry>> {
    let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    match entry {
        Entry::Begin { .. } => Ok(None),
        Entry::Move { from, to } => match (exists(from), exists(to)) {
            (false, true) => {
                if let Some(folder) = from.parent() {
                    std::fs::create_dir_all(folder).at(folder)?;
                }
                match super::rename_no_replace(to, from) {
                    Ok(()) => undone.reverted += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return Ok(Some(in_the_way(entry, undone)));
                    }
                    Err(e) => return Err(e).at(to),
                }
                Ok(None)
            }
            (true, false) => {
                undone.already += 1;
                Ok(None)
            }
            (true, true) => Ok(Some(in_the_way(entry, undone))),
            (false, false) => {
                undone.refused.push(format!(
                    "{} was moved to {}, and neither is there now",
                    from.display(),
                    to.display()
                ));
                Ok(None)
            }
        },
        Entry::Rewrite { file, before, after_sha256 } => {
            let now = read_file(file, MAX_TEXT)?;
            if now == before.as_bytes() {
                undone.already += 1;
            } else if crate::util::sha256::sha256_bytes(&now) == *after_sha256 {
                atomic_write(file, before.as_bytes())?;
                undone.reverted += 1;
            } else {
                undone.refused.push(format!(
                    "{} was edited after the apply; not restored (its text before is in the journal)",
                    file.display()
                ));
                return Ok(Some(entry.clone()));
            }
            Ok(None)
        }
    }
}

fn in_the_way(entry: &Entry, undone: &mut Undone) -> Entry {
    if let Entry::Move { from, to } = entry {
        undone.refused.push(format!(
            "{} exists again: {} was left where it is (move one away and undo again)",
            from.display(),
            to.display()
        ));
    }
    entry.clone()
}
