//! What a model answers (its task) and, for the tasks beyond one class per image, each image's
//! targets read from a labels CSV: several labels (multi-label; fastai's `MultiCategoryBlock`),
//! one or more numbers (regression; `RegressionBlock`) or a count ("how many?").
//!
//! A multi-label CSV holds its labels in one column split by a delimiter (`tags` =
//! `"haze primary"`, fastai's `label_delim`) or as one 0/1 column per class. A regression or
//! count CSV names its numeric columns. Every malformed cell is an error naming the file, the
//! line and the column; an empty multi-label cell means "no label".

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Skipped;
use crate::error::{Error, Result};
use crate::util::fs::{MAX_TEXT, read_file};

/// What a model answers about an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum TaskKind {
    /// Which one class (softmax, cross-entropy).
    #[default]
    SingleLabel,
    /// Which of the classes, any number of them (a sigmoid per class, binary cross-entropy).
    MultiLabel,
    /// How much: one or more numbers (linear outputs, mean squared error by default).
    Regression,
    /// How many: a whole number ≥ 0 (a log-rate output, Poisson negative log-likelihood).
    Count,
}

impl TaskKind {
    /// The task's name as a user writes it (`multi-label`).
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::SingleLabel => "single-label",
            TaskKind::MultiLabel => "multi-label",
            TaskKind::Regression => "regression",
            TaskKind::Count => "count",
        }
    }

    /// What a model's answers are for this task (an exported file's `probabilities` output).
    pub fn output_meaning(self) -> &'static str {
        match self {
            TaskKind::SingleLabel => "the probability of each class (softmax)",
            TaskKind::MultiLabel => "the probability of each label (a sigmoid each); a label applies at its threshold",
            TaskKind::Regression => "the predicted value of each target",
            TaskKind::Count => "the expected count of each target (round it for a whole number)",
        }
    }
}

/// An image's target as text: its class (single-label), its labels joined by spaces or
/// `(no label)` (multi-label), or its numbers (`name value`, the name left out for one).
pub(crate) fn target_text(task: TaskKind, names: &[String], label: usize, values: &[f32]) -> String {
    match task {
        TaskKind::SingleLabel => names.get(label).cloned().unwrap_or_default(),
        TaskKind::MultiLabel => {
            let on: Vec<&str> = values.iter().zip(names).filter(|(v, _)| **v == 1.0).map(|(_, n)| n.as_str()).collect();
            if on.is_empty() { "(no label)".into() } else { on.join(" ") }
        }
        _ if values.len() == 1 => format!("{}", values[0]),
        _ => values.iter().zip(names).map(|(v, n)| format!("{n} {v}")).collect::<Vec<_>>().join(", "),
    }
}

/// How a labels CSV's columns give each image its targets, beyond `path,label`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetColumns {
    /// Splits the label column into several labels (fastai's `label_delim`); a space when not
    /// set. Given explicitly, any cell holding it makes the task multi-label.
    pub label_delim: Option<char>,
    /// Multi-label as one 0/1 column per class, by header name; an empty list takes every
    /// column but the first.
    pub label_columns: Option<Vec<String>>,
    /// The numeric columns of a regression or count, by header name; an empty list takes the
    /// second column.
    pub targets: Option<Vec<String>>,
}

/// One image's target.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// The classes it belongs to, as indices into [`TargetTable::names`] (one for single-label,
    /// any number, none included, for multi-label).
    Classes(Vec<usize>),
    /// Its value for each of [`TargetTable::names`] (regression, count).
    Values(Vec<f32>),
}

/// An image a labels CSV names, with its target.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRow {
    /// The image: the CSV's path joined to the data folder.
    pub path: PathBuf,
    /// The CSV line it was read from (1-based).
    pub line: u64,
    /// What the model should answer for it.
    pub target: Target,
}

/// The images of a labels CSV with their targets, read for one task.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetTable {
    /// The task the targets are for.
    pub task: TaskKind,
    /// The class names (single- and multi-label, sorted) or the target columns' names.
    pub names: Vec<String>,
    /// The images that exist, in the CSV's order.
    pub rows: Vec<TargetRow>,
    /// Rows naming a file that does not exist.
    pub skipped: Vec<Skipped>,
    /// Why the task was chosen, when it was inferred rather than given (one line for the user).
    pub inferred: Option<String>,
    /// Multi-label: what separates an image's labels written in one cell — the label column's
    /// delimiter (a space by default), or with 0/1 columns the first of space, `;`, `|` that no
    /// class name holds.
    pub delim: char,
}

/// A CSV read into records, the header (if its first row names no file) set apart.
struct Records {
    header: Option<csv::StringRecord>,
    rows: Vec<(u64, csv::StringRecord)>,
}

fn read_records(root: &Path, csv: &Path) -> Result<Records> {
    let text = read_file(csv, MAX_TEXT)?;
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(&text[..]);
    let (mut header, mut rows) = (None, Vec::new());
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(csv, e.position().map_or(0, |p| p.line()), e.to_string()))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = record.position().map_or(0, |p| p.line());
        if n == 0 && !root.join(record.get(0).unwrap_or_default()).is_file() {
            header = Some(record);
        } else {
            rows.push((line, record));
        }
    }
    Ok(Records { header, rows })
}

fn bad(csv: &Path, line: u64, message: String) -> Error {
    Error::BadDataset { path: PathBuf::from(format!("{}:{line}", csv.display())), message }
}

/// Reads the targets of the images below `root` that `csv` lists, for `task` when given, else
/// for the task the columns and cells imply (said in [`TargetTable::inferred`]).
pub fn read_targets(root: &Path, csv: &Path, columns: &TargetColumns, task: Option<TaskKind>) -> Result<TargetTable> {
    let records = read_records(root, csv)?;
    let delim = columns.label_delim.unwrap_or(' ');
    let (task, inferred) = match task {
        Some(task) => (task, None),
        None => infer_task(&records, columns, delim),
    };
    let picked = pick_columns(csv, &records, columns, task)?;
    let mut names: Vec<String> = match (&picked, task) {
        (Picked::Label, TaskKind::SingleLabel) => records.rows.iter().map(|(_, r)| cell(r, 1).to_string()).collect(),
        (Picked::Label, _) => records.rows.iter().flat_map(|(_, r)| tokens(cell(r, 1), delim)).collect(),
        (Picked::Columns(cols), _) => cols.iter().map(|&c| column_name(&records, c)).collect(),
    };
    if matches!(picked, Picked::Label) {
        names.retain(|n| !n.is_empty());
        names.sort();
        names.dedup();
    }
    let (mut rows, mut skipped) = (Vec::new(), Vec::new());
    for (line, record) in &records.rows {
        let target = match &picked {
            Picked::Label => label_target(csv, *line, cell(record, 1), task, delim, &names)?,
            Picked::Columns(cols) => column_target(csv, *line, record, cols, &records, task)?,
        };
        let path = root.join(cell(record, 0));
        if path.is_file() {
            rows.push(TargetRow { path, line: *line, target });
        } else {
            let reason = format!("listed on line {line} of {} but not found", csv.display());
            skipped.push(Skipped { path, reason });
        }
    }
    if rows.is_empty() {
        return Err(bad(csv, 1, format!("no row names an existing image below {}", root.display())));
    }
    let delim = [delim, ';', '|'].into_iter().find(|d| !names.iter().any(|n| n.contains(*d))).unwrap_or(delim);
    Ok(TargetTable { task, names, rows, skipped, inferred, delim })
}

/// The columns of `csv` (below `root`) that hold the targets of `task` as `read_targets` picks
/// them: `None` for the label column (the second), else the 0/1 or numeric columns.
pub(crate) fn target_columns(
    root: &Path,
    csv: &Path,
    columns: &TargetColumns,
    task: TaskKind,
) -> Result<Option<Vec<usize>>> {
    let records = read_records(root, csv)?;
    Ok(match pick_columns(csv, &records, columns, task)? {
        Picked::Label => None,
        Picked::Columns(c) => Some(c),
    })
}

fn cell(record: &csv::StringRecord, i: usize) -> &str {
    record.get(i).unwrap_or_default()
}

fn tokens(text: &str, delim: char) -> impl Iterator<Item = String> + '_ {
    text.split(delim).map(str::trim).filter(|t| !t.is_empty()).map(String::from)
}

/// The task a CSV implies: numeric columns named → regression; 0/1 columns → multi-label;
/// numbers in nine label cells in ten, some with a fraction → regression (whole numbers alone
/// stay class names, as digits are); a
/// label cell holding several labels → multi-label, when the delimiter was given, a label of
/// such a cell also stands alone in another, or the labels recombine (fewer distinct labels
/// than distinct cells) — so `Ankle boot` stays one class of a single-label CSV whose classes
/// have spaces.
fn infer_task(records: &Records, columns: &TargetColumns, delim: char) -> (TaskKind, Option<String>) {
    if columns.targets.is_some() {
        return (TaskKind::Regression, Some("regression: numeric target columns were named".into()));
    }
    if columns.label_columns.is_some() {
        return (TaskKind::MultiLabel, Some("multi-label: one 0/1 column per class".into()));
    }
    let cells: Vec<(u64, &str)> = records.rows.iter().map(|(l, r)| (*l, cell(r, 1))).collect();
    let number = |c: &str| c.parse::<f64>().ok().filter(|v| v.is_finite());
    let numbers = cells.iter().filter(|(_, c)| number(c).is_some()).count();
    // Nine labels in ten numbers, one with a fraction: a regression (a cell that is not a
    // number is then an error naming it, not a class of its own).
    if numbers * 10 >= cells.len() * 9
        && let Some((line, c)) = cells.iter().find(|(_, c)| number(c).is_some_and(|v| v.fract() != 0.0))
    {
        return (
            TaskKind::Regression,
            Some(format!("regression: the labels are numbers, line {line}'s {c:?} a fraction")),
        );
    }
    let alone: BTreeSet<String> = cells.iter().map(|(_, c)| c.to_string()).filter(|c| !c.contains(delim)).collect();
    let distinct: BTreeSet<&str> = cells.iter().map(|(_, c)| *c).collect();
    let words: BTreeSet<String> = distinct.iter().flat_map(|c| tokens(c, delim)).collect();
    // Labels that recombine: fewer distinct words than distinct cells.
    let recombined = words.len() < distinct.len();
    let several = cells.iter().find(|(_, c)| {
        let t: Vec<String> = tokens(c, delim).collect();
        t.len() > 1 && (columns.label_delim.is_some() || recombined || t.iter().any(|t| alone.contains(t)))
    });
    match several {
        Some((line, c)) => {
            (TaskKind::MultiLabel, Some(format!("multi-label: line {line} gives several labels, {c:?}")))
        }
        None => (TaskKind::SingleLabel, None),
    }
}

/// Where the targets are: the label column (1), or these columns.
enum Picked {
    Label,
    Columns(Vec<usize>),
}

fn column_name(records: &Records, c: usize) -> String {
    records.header.as_ref().and_then(|h| h.get(c)).map_or_else(|| format!("column {}", c + 1), String::from)
}

fn pick_columns(csv: &Path, records: &Records, columns: &TargetColumns, task: TaskKind) -> Result<Picked> {
    let second = Vec::new();
    let named = match task {
        TaskKind::SingleLabel => None,
        TaskKind::MultiLabel => columns.label_columns.as_ref(),
        TaskKind::Regression | TaskKind::Count => Some(columns.targets.as_ref().unwrap_or(&second)),
    };
    let Some(named) = named else { return Ok(Picked::Label) };
    let width = records.rows.iter().map(|(_, r)| r.len()).chain(records.header.iter().map(|h| h.len())).max();
    if named.is_empty() {
        return Ok(Picked::Columns(match task {
            TaskKind::MultiLabel => (1..width.unwrap_or(1).max(2)).collect(),
            _ => vec![1],
        }));
    }
    let Some(header) = &records.header else {
        return Err(bad(csv, 1, "columns are named but the first row is not a header row naming them".into()));
    };
    let find = |name: &String| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            let have: Vec<&str> = header.iter().collect();
            bad(csv, 1, format!("no column {name:?} in the header ({})", have.join(", ")))
        })
    };
    Ok(Picked::Columns(named.iter().map(find).collect::<Result<_>>()?))
}

fn label_target(csv: &Path, line: u64, text: &str, task: TaskKind, delim: char, names: &[String]) -> Result<Target> {
    let index = |t: &str| names.binary_search_by(|n| n.as_str().cmp(t)).unwrap_or_default();
    if task == TaskKind::SingleLabel {
        if text.is_empty() {
            return Err(bad(csv, line, "the label is empty; expected `path,label`".into()));
        }
        return Ok(Target::Classes(vec![index(text)]));
    }
    let mut classes: Vec<usize> = tokens(text, delim).map(|t| index(&t)).collect();
    classes.sort_unstable();
    classes.dedup();
    Ok(Target::Classes(classes))
}

fn column_target(
    csv: &Path,
    line: u64,
    record: &csv::StringRecord,
    cols: &[usize],
    records: &Records,
    task: TaskKind,
) -> Result<Target> {
    let mut values = Vec::with_capacity(cols.len());
    for &c in cols {
        let name = column_name(records, c);
        let Some(text) = record.get(c) else {
            return Err(bad(csv, line, format!("has no {name:?} column (the row is short)")));
        };
        let value = match task {
            TaskKind::MultiLabel => match text {
                "1" => 1.0,
                "0" => 0.0,
                _ => return Err(bad(csv, line, format!("column {name:?}: {text:?} is not 0 or 1"))),
            },
            TaskKind::Count => match text.parse::<u32>() {
                Ok(n) => n as f32,
                Err(_) => return Err(bad(csv, line, format!("column {name:?}: {text:?} is not a count (0, 1, 2, …)"))),
            },
            _ => match text.parse::<f32>() {
                Ok(v) if v.is_finite() => v,
                _ => return Err(bad(csv, line, format!("column {name:?}: {text:?} is not a finite number"))),
            },
        };
        values.push(value);
    }
    Ok(match task {
        TaskKind::MultiLabel => Target::Classes((0..cols.len()).filter(|&k| values[k] == 1.0).collect()),
        _ => Target::Values(values),
    })
}

#[cfg(test)]
mod tests;
