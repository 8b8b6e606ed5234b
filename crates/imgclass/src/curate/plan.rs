//! An edited `clean.csv` read into a checked plan, before anything changes: every file row
//! resolves (its folder canonicalized) to a file inside the data folder, every new class is a
//! plain folder name of the dataset, no file is named twice and no move lands on a file that
//! exists. Any failure refuses the whole apply and names the row.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use super::TRASH;
use crate::data::targets::TaskKind;
use crate::error::{Error, Result};

/// What a row asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Give the image this target.
    Relabel(NewTarget),
    /// Take the image out of the dataset (into the trash, or out of the labels file).
    Delete,
}

/// An image's new target, checked against the dataset's task.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NewTarget {
    /// Single-label: this class.
    Class(String),
    /// Multi-label: these classes (indices into the names, ascending; none at all is allowed).
    Labels(Vec<usize>),
    /// Regression, count: a number per target, as written (checked to be one).
    Values(Vec<String>),
}

/// What a `relabel:` may say for a dataset: one of its classes, several of them joined by
/// `delim` (multi-label), or its numbers (one, or `name value` pairs joined by commas).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Vocabulary {
    pub(crate) task: TaskKind,
    /// The class names, or the targets' names.
    pub(crate) names: Vec<String>,
    pub(crate) delim: char,
}

impl Vocabulary {
    /// The vocabulary of single-label data with these classes.
    #[cfg(test)]
    pub(crate) fn classes(names: Vec<String>) -> Vocabulary {
        Vocabulary { task: TaskKind::SingleLabel, names, delim: ' ' }
    }

    /// The target `text` (what follows `relabel:`) says; `Err` says why it says none.
    pub(crate) fn parse(&self, text: &str) -> std::result::Result<NewTarget, String> {
        let names = || self.names.join(", ");
        let class = |c: &str| self.names.iter().position(|n| n == c);
        match self.task {
            TaskKind::SingleLabel => match class(text) {
                Some(_) => Ok(NewTarget::Class(text.to_string())),
                None => Err(format!("no class {text:?}; the classes are {}", names())),
            },
            TaskKind::MultiLabel => {
                let mut on = Vec::new();
                for label in text.split(self.delim).map(str::trim).filter(|l| !l.is_empty()) {
                    let Some(c) = class(label) else {
                        let d = self.delim;
                        return Err(format!("no class {label:?}; the classes are {}, joined by {d:?}", names()));
                    };
                    on.push(c);
                }
                on.sort_unstable();
                on.dedup();
                Ok(NewTarget::Labels(on))
            }
            TaskKind::Regression | TaskKind::Count => self.numbers(text).map(NewTarget::Values),
        }
    }

    /// A number per target: `text` alone for one target, or `name value, name value` naming each.
    fn numbers(&self, text: &str) -> std::result::Result<Vec<String>, String> {
        let mut values: Vec<Option<String>> = vec![None; self.names.len()];
        if let [_] = self.names[..] {
            values[0] = Some(text.to_string());
        } else {
            for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (name, value) = pair.rsplit_once(' ').unwrap_or(("", pair));
                let Some(c) = self.names.iter().position(|n| n == name.trim()) else {
                    return Err(format!(
                        "{pair:?} names no target; write `name value` for each of {}",
                        self.names.join(", ")
                    ));
                };
                values[c] = Some(value.to_string());
            }
        }
        let count = self.task == TaskKind::Count;
        self.names
            .iter()
            .zip(values)
            .map(|(name, v)| {
                let v = v.ok_or_else(|| format!("no value for {name:?}"))?;
                let fits = if count { v.parse::<u32>().is_ok() } else { v.parse::<f32>().is_ok_and(f32::is_finite) };
                let what = if count { "a count (0, 1, 2, …)" } else { "a finite number" };
                if fits { Ok(v) } else { Err(format!("{v:?} for {name:?} is not {what}")) }
            })
            .collect()
    }
}

/// One row of `clean.csv` that changes something.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decision {
    /// The row's line in `clean.csv`.
    pub(crate) line: u64,
    /// The file, absolute, its folder canonicalized (the file itself may be a link: the link moves).
    pub(crate) file: PathBuf,
    /// What to do with it.
    pub(crate) action: Action,
}

/// The rows of `clean_csv` that change something, and how many rows keep their image. A
/// relative `file` resolves against `base` (the folder `clean` ran in); every file must lie
/// inside `root` (canonical), every new target be one `vocabulary` reads.
pub(crate) fn read_decisions(
    clean_csv: &Path,
    bytes: &[u8],
    base: &Path,
    root: &Path,
    vocabulary: &Vocabulary,
) -> Result<(Vec<Decision>, usize)> {
    let bad = |line: u64, message: String| Error::BadDataset { path: at_line(clean_csv, line), message };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
    let file_col = headers.iter().position(|h| h.trim() == "file").unwrap_or(0);
    let action_col = headers.iter().position(|h| h.trim() == "action").unwrap_or(headers.len().saturating_sub(1));
    let (mut decisions, mut kept) = (Vec::new(), 0);
    let mut seen: HashMap<PathBuf, u64> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad(e.position().map_or(0, |p| p.line()), one_line(&e)))?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let action = match record.get(action_col).map(str::trim).unwrap_or("") {
            "" | "keep" => None,
            "delete" => Some(Action::Delete),
            a => match a.strip_prefix("relabel:").map(str::trim) {
                Some(target) => Some(Action::Relabel(vocabulary.parse(target).map_err(|why| bad(line, why))?)),
                None => return Err(bad(line, format!("unknown action {a:?}: use keep, relabel:CLASS or delete"))),
            },
        };
        let Some(action) = action else {
            kept += 1;
            continue;
        };
        let written = record.get(file_col).unwrap_or("");
        let file = confine(written, base, root).map_err(|why| bad(line, format!("{written:?} {why}")))?;
        if let Some(first) = seen.insert(file.clone(), line) {
            return Err(bad(line, format!("{written:?} is the file of line {first} too: give each file one row")));
        }
        decisions.push(Decision { line, file, action });
    }
    Ok((decisions, kept))
}

/// `path:line`, for errors.
pub(crate) fn at_line(path: &Path, line: u64) -> PathBuf {
    PathBuf::from(format!("{}:{line}", path.display()))
}

fn one_line(e: &csv::Error) -> String {
    e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The file `written` (relative to `base`) as an absolute path inside `root`: its folder
/// canonicalized (so `..` and links in folders are resolved), its own name kept. Errors say
/// why not, to follow the quoted name.
pub(crate) fn confine(written: &str, base: &Path, root: &Path) -> std::result::Result<PathBuf, String> {
    let path = base.join(written);
    let (Some(name), Some(folder)) = (path.file_name(), path.parent()) else {
        return Err("is not a file path".into());
    };
    let folder = folder.canonicalize().map_err(|e| format!("cannot be found ({e})"))?;
    let file = folder.join(name);
    if !file.starts_with(root) {
        return Err(format!("lies outside the data folder {}: apply only moves files inside it", root.display()));
    }
    if file.starts_with(root.join(TRASH)) {
        return Err("is in the trash already".into());
    }
    match std::fs::symlink_metadata(&file) {
        Ok(m) if m.is_dir() => Err("is a folder, not an image".into()),
        Ok(_) => Ok(file),
        Err(e) => Err(format!("cannot be found ({e})")),
    }
}

/// A class that can be a folder name: one plain path component (no separator, not `.` or
/// `..`, not absolute, not hidden).
pub(crate) fn plain_name(class: &str) -> bool {
    let mut parts = Path::new(class).components();
    matches!((parts.next(), parts.next()), (Some(Component::Normal(_)), None))
        && !class.contains(['/', '\\', '\0'])
        && !class.starts_with('.')
}

/// Where each moved file goes with class folders: a relabelled one to the sibling folder of
/// its new class, a deleted one into `root/.imgclass-trash/` at its path below `root`. Refuses
/// a class that is no plain name, a file not inside a class folder, two files to one place and
/// a place taken. Rows that relabel a file to the class it has are dropped (nothing to do).
pub(crate) fn moves(clean_csv: &Path, root: &Path, decisions: &[Decision]) -> Result<Vec<(PathBuf, PathBuf, bool)>> {
    let bad = |line: u64, message: String| Error::BadDataset { path: at_line(clean_csv, line), message };
    let mut out = Vec::new();
    let mut taken: HashMap<PathBuf, u64> = HashMap::new();
    for d in decisions {
        let name = d.file.file_name().unwrap_or_default();
        let to = match &d.action {
            Action::Relabel(target) => {
                let NewTarget::Class(class) = target else {
                    return Err(bad(d.line, "class folders hold one class per image".into()));
                };
                if !plain_name(class) {
                    return Err(bad(d.line, format!("class {class:?} is not a folder name; nothing was moved")));
                }
                let classes_dir = d.file.parent().and_then(Path::parent).filter(|p| p.starts_with(root));
                let Some(classes_dir) = classes_dir else {
                    return Err(bad(
                        d.line,
                        format!("{} is not inside a class folder of {}", d.file.display(), root.display()),
                    ));
                };
                classes_dir.join(class).join(name)
            }
            Action::Delete => root.join(TRASH).join(d.file.strip_prefix(root).unwrap_or(Path::new(name))),
        };
        if to == d.file {
            continue;
        }
        if std::fs::symlink_metadata(&to).is_ok() {
            return Err(bad(d.line, format!("{} already exists; nothing was moved", to.display())));
        }
        if let Some(first) = taken.insert(to.clone(), d.line) {
            return Err(bad(d.line, format!("line {first} moves a file to {} too; nothing was moved", to.display())));
        }
        out.push((d.file.clone(), to, matches!(d.action, Action::Relabel(_))));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("pets");
        for f in ["cat/a.png", "dog/b.png"] {
            std::fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            std::fs::write(root.join(f), f).unwrap();
        }
        std::fs::write(t.path().join("outside.png"), "x").unwrap();
        let root = root.canonicalize().unwrap();
        (t, root)
    }

    fn classes() -> Vec<String> {
        vec!["cat".into(), "dog".into()]
    }

    fn read(t: &Path, root: &Path, csv: &str) -> Result<(Vec<Decision>, usize)> {
        read_decisions(&t.join("clean.csv"), csv.as_bytes(), t, root, &Vocabulary::classes(classes()))
    }

    #[test]
    fn a_file_outside_the_data_folder_is_refused_naming_its_row() {
        let (t, root) = dataset();
        let outside = t.path().join("outside.png").display().to_string();
        for written in [outside.as_str(), "pets/../outside.png", "pets/cat/../../outside.png", "/etc/passwd"] {
            let csv = format!("file,action\npets/cat/a.png,keep\n\"{written}\",delete\n");
            let e = read(t.path(), &root, &csv).unwrap_err().to_string();
            assert!(e.contains("clean.csv:3") && e.contains("outside the data folder"), "{written}: {e}");
        }
    }

    #[test]
    fn a_relative_file_resolves_against_the_folder_clean_ran_in() {
        let (t, root) = dataset();
        let (decisions, kept) =
            read(t.path(), &root, "file,action\npets/cat/a.png,delete\npets/dog/b.png,keep\n").unwrap();
        assert_eq!(kept, 1);
        assert_eq!(decisions, vec![Decision { line: 2, file: root.join("cat/a.png"), action: Action::Delete }]);
    }

    #[test]
    fn a_file_named_twice_even_spelled_two_ways_is_refused() {
        let (t, root) = dataset();
        let csv = "file,action\npets/cat/a.png,delete\npets/dog/../cat/a.png,relabel:dog\n";
        let e = read(t.path(), &root, csv).unwrap_err().to_string();
        assert!(e.contains("clean.csv:3") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn a_class_that_is_a_path_is_not_a_folder_name() {
        for bad in ["../../escaped", "..", ".", "/tmp", "a/b", "a\\b", "", ".imgclass-trash"] {
            assert!(!plain_name(bad), "{bad:?}");
        }
        assert!(plain_name("cat") && plain_name("Great Pyrenees") && plain_name("日本"));
        let (t, root) = dataset();
        let d = vec![Decision {
            line: 2,
            file: root.join("cat/a.png"),
            action: Action::Relabel(NewTarget::Class("../../escaped".into())),
        }];
        let e = moves(&t.path().join("clean.csv"), &root, &d).unwrap_err().to_string();
        assert!(e.contains("not a folder name"), "{e}");
    }

    #[test]
    fn a_move_onto_an_existing_file_or_onto_another_move_is_refused() {
        let (t, root) = dataset();
        std::fs::write(root.join("dog/a.png"), "taken").unwrap();
        let relabel = Action::Relabel(NewTarget::Class("dog".into()));
        let d = vec![Decision { line: 2, file: root.join("cat/a.png"), action: relabel }];
        let csv = t.path().join("clean.csv");
        assert!(moves(&csv, &root, &d).unwrap_err().to_string().contains("already exists"));
        std::fs::remove_file(root.join("dog/a.png")).unwrap();
        std::fs::create_dir_all(root.join("train/cat")).unwrap();
        let planned = moves(&csv, &root, &d).unwrap();
        assert_eq!(planned, vec![(root.join("cat/a.png"), root.join("dog/a.png"), true)]);
    }

    #[test]
    fn a_byte_order_mark_and_a_file_name_with_a_newline_are_read() {
        let (t, root) = dataset();
        let odd = root.join("cat/two\nlines.png");
        std::fs::write(&odd, "x").unwrap();
        let csv = "\u{feff}file,action\n\"pets/cat/two\nlines.png\",delete\n";
        let (decisions, _) = read(t.path(), &root, csv).unwrap();
        assert_eq!(decisions[0].file, odd);
        assert_eq!(decisions[0].line, 2);
    }
}
