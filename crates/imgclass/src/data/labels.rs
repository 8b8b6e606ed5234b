//! Labels that do not come from folder names: a CSV file of `path,label` rows (fastai's
//! `ImageDataLoaders.from_csv`) and a regular expression on file names (fastai's
//! `from_name_re`; Oxford-IIIT Pets: `^(.+)_\d+\.jpg$`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::folder::images_below;
use super::targets::{Target, TargetColumns, TargetTable, TaskKind, read_targets};
use super::{Skipped, Source};
use crate::error::{Error, Result};
use crate::util::fs::{MAX_TEXT, read_file, read_text};

/// Where the labels of a folder of images come from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Labels {
    /// One subfolder per class (or IDX files).
    #[default]
    Folders,
    /// A CSV file of `path,label` rows; paths are relative to the data folder.
    Csv(PathBuf),
    /// Capture group 1 of this regular expression on each file name.
    NameRegex(String),
    /// A text file listing image paths, one a line (relative to the data folder); each image's
    /// label is the name of the folder it sits in (fastai's `parent_label`).
    FileList(PathBuf),
}

/// Errors when `task` or `columns` ask for targets beyond one class per image but `labels`
/// is not a labels CSV (the only source that can hold them).
pub(crate) fn require_csv_for_targets(labels: &Labels, columns: &TargetColumns, task: Option<TaskKind>) -> Result<()> {
    let beyond = task.is_some_and(|t| t != TaskKind::SingleLabel) || *columns != TargetColumns::default();
    if beyond && !matches!(labels, Labels::Csv(_)) {
        return Err(Error::config_see(
            "task.kind",
            &["data.labels"],
            "beyond one class per image needs its targets in a labels CSV",
        ));
    }
    Ok(())
}

/// The stratum of each item's targets: the first class it has (`k` for none) for
/// multi-label; for numbers, the quantile bin of the first target, one bin per 20 items (at
/// most 10), so every split spans the range.
fn strata(task: TaskKind, values: &[Vec<f32>]) -> Vec<usize> {
    if task == TaskKind::MultiLabel {
        return values.iter().map(|v| v.iter().position(|&x| x == 1.0).unwrap_or(v.len())).collect();
    }
    let n = values.len();
    let bins = (n / 20).clamp(1, 10);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].first().unwrap_or(&0.0).total_cmp(values[b].first().unwrap_or(&0.0)));
    let mut out = vec![0; n];
    for (rank, &i) in order.iter().enumerate() {
        out[i] = rank * bins / n.max(1);
    }
    out
}

fn labelled(root: &Path, files: Vec<(PathBuf, String)>, problems: Vec<Skipped>) -> Result<Source> {
    let files = files.into_iter().map(|(p, c)| (p, c, None)).collect();
    Ok(Source::labelled_files(root, files, problems))
}

impl Source {
    /// Opens `data` with labels from `labels`, for `task` (inferred from a labels CSV when
    /// `None`; the other layouts are single-label), its targets read as `columns` say.
    pub(crate) fn open_labelled(
        data: &Path,
        labels: &Labels,
        columns: &TargetColumns,
        task: Option<TaskKind>,
    ) -> Result<Source> {
        require_csv_for_targets(labels, columns, task)?;
        let csv = match labels {
            Labels::Csv(csv) => csv,
            Labels::NameRegex(re) => return Source::from_name_regex(data, re),
            Labels::FileList(list) => return Source::from_file_list(data, list),
            _ => return Source::open(data),
        };
        if task == Some(TaskKind::SingleLabel) && *columns == TargetColumns::default() {
            return Source::from_csv(data, csv);
        }
        let table = read_targets(data, csv, columns, task)?;
        if table.task == TaskKind::SingleLabel {
            return Source::from_csv(data, csv);
        }
        Ok(Source::from_targets(data, table))
    }

    /// A source over the rows of a targets table (multi-label, regression, count). Each item's
    /// label is its stratum for the split: its first class (or "none") for multi-label, the
    /// quantile bin of its first target for numbers.
    pub(crate) fn from_targets(root: &Path, table: TargetTable) -> Source {
        let k = table.names.len();
        let values: Vec<Vec<f32>> = table
            .rows
            .iter()
            .map(|r| match &r.target {
                Target::Classes(c) => (0..k).map(|j| f32::from(u8::from(c.contains(&j)))).collect(),
                Target::Values(v) => v.clone(),
            })
            .collect();
        let strata = strata(table.task, &values);
        let files = table.rows.into_iter().map(|r| (r.path, String::new(), None)).collect();
        let mut source = Source::labelled_files(root, files, table.skipped);
        for ((item, v), s) in source.items.iter_mut().zip(values).zip(strata) {
            (item.values, item.label) = (v, s);
        }
        (source.task, source.task_note, source.label_delim) = (table.task, table.inferred, table.delim);
        source.classes = table.names;
        source
    }

    /// Every image below `root`, labelled by capture group 1 of `pattern` matched against its
    /// file name. Files whose names do not match are reported as skipped.
    pub(crate) fn from_name_regex(root: &Path, pattern: &str) -> Result<Source> {
        let re = regex::Regex::new(pattern).map_err(|e| {
            // regex's message draws a caret under the pattern over several lines; keep the last.
            let msg = e.to_string();
            let why = msg.lines().last().unwrap_or_default().trim().trim_start_matches("error: ").to_string();
            Error::config("data.labels.name_regex", format!("{pattern:?} is not a valid regular expression: {why}"))
        })?;
        if re.captures_len() < 2 {
            return Err(Error::config(
                "data.labels.name_regex",
                format!("{pattern:?} needs a group in parentheses that captures the label, e.g. '^(.+)_\\d+\\.jpg$'"),
            ));
        }
        if !root.is_dir() {
            return Err(Error::DataNotFound(root.into()));
        }
        let mut raw = Vec::new();
        let images = images_below(root, &mut raw);
        let mut problems: Vec<Skipped> = raw.into_iter().map(|(path, reason)| Skipped { path, reason }).collect();
        let mut files = Vec::new();
        for path in images {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            match re.captures(&name).and_then(|c| c.get(1)).map(|m| m.as_str().to_string()).filter(|l| !l.is_empty()) {
                Some(label) => files.push((path, label)),
                None => problems
                    .push(Skipped { path, reason: format!("file name does not match the label regex {pattern:?}") }),
            }
        }
        if files.is_empty() {
            return Err(Error::BadDataset {
                path: root.into(),
                message: format!(
                    "no image file name matches the label regex {pattern:?}; it is matched against the file name alone"
                ),
            });
        }
        labelled(root, files, problems)
    }

    /// The images listed in the CSV file `csv` (`path,label` rows, a header row allowed; paths
    /// relative to `root`). Rows naming missing files are reported as skipped; a row without a
    /// label is an error naming its line.
    pub fn from_csv(root: &Path, csv: &Path) -> Result<Source> {
        let text = read_file(csv, MAX_TEXT)?;
        let bad = |line: u64, message: String| Error::BadDataset {
            path: PathBuf::from(format!("{}:{line}", csv.display())),
            message,
        };
        let mut files = Vec::new();
        let mut problems = Vec::new();
        let mut reader =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(&text[..]);
        for (n, record) in reader.records().enumerate() {
            let record = record.map_err(|e| bad(e.position().map_or(0, |p| p.line()), e.to_string()))?;
            let line = record.position().map_or(0, |p| p.line());
            if record.iter().all(str::is_empty) {
                continue;
            }
            let (Some(file), Some(label)) = (record.get(0), record.get(1).filter(|l| !l.is_empty())) else {
                if n == 0 {
                    continue;
                }
                return Err(bad(line, "expected `path,label`".into()));
            };
            let path = root.join(file);
            if !path.is_file() {
                // A first row naming no file is the header (`path,label`, `fname,labels`, …).
                if n > 0 {
                    problems.push(Skipped {
                        path,
                        reason: format!("listed on line {line} of {} but not found", csv.display()),
                    });
                }
                continue;
            }
            files.push((path, label.to_string()));
        }
        if files.is_empty() {
            return Err(bad(1, format!("no row names an existing image below {}", root.display())));
        }
        labelled(root, files, problems)
    }

    /// The images listed in the text file `list` (one path a line, relative to `root`; blank
    /// lines and `#` comments ignored), labelled by the name of their folder. Listed files that
    /// do not exist are reported as skipped.
    pub(crate) fn from_file_list(root: &Path, list: &Path) -> Result<Source> {
        let text = read_text(list, MAX_TEXT)?;
        let mut files = Vec::new();
        let mut problems = Vec::new();
        for (n, line) in
            text.lines().enumerate().map(|(n, l)| (n, l.trim())).filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        {
            let path = root.join(line);
            let label = path.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned());
            match label {
                Some(label) if path.is_file() => files.push((path, label)),
                Some(_) => problems.push(Skipped {
                    path,
                    reason: format!("listed on line {} of {} but not found", n + 1, list.display()),
                }),
                None => problems.push(Skipped {
                    path,
                    reason: format!("line {} of {} names no folder to take the label from", n + 1, list.display()),
                }),
            }
        }
        if files.is_empty() {
            return Err(Error::BadDataset {
                path: list.into(),
                message: format!(
                    "no line names an existing image below {}; list one path a line, inside its class folder",
                    root.display()
                ),
            });
        }
        labelled(root, files, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_list_takes_labels_from_folders_and_reports_missing_files() {
        let t = tempfile::tempdir().unwrap();
        for f in ["cat/a.png", "dog/b.png", "dog/c.png"] {
            std::fs::create_dir_all(t.path().join(f).parent().unwrap()).unwrap();
            std::fs::write(t.path().join(f), b"x").unwrap();
        }
        let list = t.path().join("files.txt");
        std::fs::write(&list, "# chosen images\ncat/a.png\n\ndog/c.png\ndog/gone.png\n").unwrap();
        let s = Source::from_file_list(t.path(), &list).unwrap();
        assert_eq!((s.classes.clone(), s.items.len()), (vec!["cat".to_string(), "dog".into()], 2));
        assert!(s.problems[0].reason.contains("line 5"), "{:?}", s.problems);
    }

    #[test]
    fn a_labels_csv_with_a_byte_order_mark_quoted_fields_and_line_breaks_in_names_is_read() {
        let t = tempfile::tempdir().unwrap();
        for name in ["x, y.png", "two\nlines.png"] {
            std::fs::write(t.path().join(name), b"x").unwrap();
        }
        let csv = t.path().join("labels.csv");
        std::fs::write(&csv, "\u{feff}path,label\n\"x, y.png\", cat\n\"two\nlines.png\",\"say \"\"hi\"\"\"\n").unwrap();
        let s = Source::from_csv(t.path(), &csv).unwrap();
        assert_eq!(s.classes, vec!["cat".to_string(), "say \"hi\"".into()]);
        assert!(s.problems.is_empty(), "{:?}", s.problems);
    }

    #[test]
    fn labels_come_from_the_regex_group_and_non_matching_names_are_skipped() {
        let t = tempfile::tempdir().unwrap();
        for name in ["great_pyrenees_12.jpg", "great_pyrenees_3.jpg", "Abyssinian_1.jpg", "readme.jpg"] {
            std::fs::write(t.path().join(name), b"x").unwrap();
        }
        let s = Source::from_name_regex(t.path(), r"^(.+)_\d+\.jpg$").unwrap();
        assert_eq!(s.classes, vec!["Abyssinian", "great_pyrenees"]);
        assert_eq!(s.items.len(), 3);
        assert_eq!(s.problems.len(), 1);
        assert!(
            Source::from_name_regex(t.path(), r"^.+\.jpg$").unwrap_err().to_string().contains("captures the label")
        );
    }

    #[test]
    fn a_csv_lists_labels_skips_missing_files_and_names_a_bad_line() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("img")).unwrap();
        for name in ["a.png", "b.png", "c.png"] {
            std::fs::write(t.path().join("img").join(name), b"x").unwrap();
        }
        let csv = t.path().join("labels.csv");
        std::fs::write(&csv, "fname,label\nimg/a.png,cat\nimg/b.png,dog\nimg/c.png,cat\nimg/gone.png,dog\n").unwrap();
        let s = Source::from_csv(t.path(), &csv).unwrap();
        assert_eq!((s.classes.clone(), s.items.len(), s.problems.len()), (vec!["cat".to_string(), "dog".into()], 3, 1));
        std::fs::write(&csv, "img/a.png,cat\nimg/b.png\n").unwrap();
        let err = Source::from_csv(t.path(), &csv).unwrap_err().to_string();
        assert!(err.contains("labels.csv:2") && err.contains("path,label"), "{err}");
    }
}
