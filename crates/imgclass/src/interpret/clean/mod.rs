//! Finding label errors in a dataset (`imgclass clean`): every image is scored by a model that
//! did not train on it — out-of-fold predictions of a K-fold cross-validation with the same
//! recipe as `train` — and confident learning ([`confident`]) picks the images whose label the
//! predictions contradict. With a trained model instead (`--model`) it is faster, but the
//! model's own training images look cleaner than they are (it has learnt their labels). The
//! same models' feature spaces find the outliers ([`outliers`]); a perceptual hash finds
//! near-duplicates. Beyond one label per image, multi-label data gets confident learning
//! one-vs-rest per class and numbers their largest out-of-fold errors ([`tasks`]).

pub mod confident;
mod duplicates;
pub mod outliers;
mod score;
mod tasks;

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

pub use confident::RankBy;
pub use score::{Scored, model_scores, out_of_fold};

use crate::curate::{LabelStore, Sidecar, Vocabulary, sidecar_path};
use crate::data::Source;
use crate::data::targets::TaskKind;
use crate::error::Result;
use crate::metrics::{TaskMetrics, argmax, multi_label, values};
use crate::plot::{Tile, captioned_grid};
use crate::transforms::Preprocess;
use crate::util::csv::csv_table;
use crate::util::fs::{atomic_write, write_json};

/// Folds of the cross-validation `imgclass clean` scores images with, unless told otherwise.
pub const DEFAULT_FOLDS: usize = 5;

/// Epochs each fold's model trains in `imgclass clean`'s quick recipe (`train`'s defaults otherwise).
pub const QUICK_EPOCHS: usize = 3;

/// Perceptual-hash bits (of 256) two images may differ in to be listed as near-duplicates.
pub const DEFAULT_DUPLICATE_BITS: u32 = 6;

/// What is suspected of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Issue {
    /// Its label is probably wrong.
    LabelError,
    /// It is (nearly) the same picture as another image of the dataset.
    Duplicate,
    /// It is far from every other image in the model's feature space.
    Outlier,
}

/// One suspect image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suspect {
    /// The image.
    pub file: String,
    /// Its given label (beyond one label: its labels joined by the data's delimiter, or its
    /// numbers).
    pub label: String,
    /// The label (labels, numbers) the predictions suggest.
    pub suggested: String,
    /// How suspicious, in [0, 1], higher first.
    pub score: f32,
    /// What is suspected.
    pub issue: Issue,
    /// For a duplicate, the image it repeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<String>,
    /// Its index in the source.
    #[serde(skip)]
    pub index: usize,
}

impl Scored {
    /// The suspected label errors, most suspicious first: confident learning over the classes
    /// (single-label), one-vs-rest per class (multi-label), or the largest errors (numbers).
    pub fn label_errors(&self, rank: RankBy) -> Vec<Suspect> {
        let k = self.classes.len();
        let suspect = |r: usize, suggested: String, score: f32| Suspect {
            file: self.names[r].clone(),
            label: self.given_text(r),
            suggested,
            score,
            issue: Issue::LabelError,
            other: None,
            index: self.indices[r],
        };
        let beyond = match self.task {
            TaskKind::SingleLabel => {
                let issues = confident::label_issues(&self.probs, &self.labels, k, rank).into_iter();
                return issues.map(|i| suspect(i.index, self.classes[i.suggested].clone(), i.score)).collect();
            }
            TaskKind::MultiLabel => tasks::multi_label_issues(&self.probs, &self.targets, k, rank),
            kind => tasks::residual_issues(&self.probs, &self.targets, k, kind == TaskKind::Count),
        };
        let text = |row: &[f32]| tasks::targets_text(self.task == TaskKind::MultiLabel, &self.classes, row, self.delim);
        beyond.into_iter().map(|i| suspect(i.index, text(&i.suggested), i.score)).collect()
    }

    /// Image `r`'s given label (labels, numbers) as `clean.csv` writes it.
    fn given_text(&self, r: usize) -> String {
        let k = self.classes.len();
        let values = self.targets.get(r * k..(r + 1) * k).unwrap_or_default();
        tasks::label_text(self.task, &self.classes, self.labels[r], values, self.delim)
    }

    /// Image `r`'s answer as `clean.csv` writes it: its most probable class, the classes at
    /// their thresholds, or the predicted numbers (a count rounded).
    fn answer_text(&self, r: usize) -> String {
        let k = self.classes.len();
        let row = &self.probs[r * k..(r + 1) * k];
        let on = |c: usize| f32::from(u8::from(row[c] >= self.thresholds.get(c).copied().unwrap_or(0.5)));
        match self.task {
            TaskKind::SingleLabel => self.classes[argmax(row)].clone(),
            TaskKind::MultiLabel => {
                tasks::targets_text(true, &self.classes, &(0..k).map(on).collect::<Vec<_>>(), self.delim)
            }
            TaskKind::Count => tasks::targets_text(
                false,
                &self.classes,
                &row.iter().map(|v| v.round()).collect::<Vec<_>>(),
                self.delim,
            ),
            TaskKind::Regression => tasks::targets_text(false, &self.classes, row, self.delim),
        }
    }

    /// The outliers: images whose neighbour distance is beyond their fence, farthest first;
    /// the suggestion is the model's answer.
    pub fn outliers(&self) -> Vec<Suspect> {
        let mut out: Vec<Suspect> = (0..self.indices.len())
            .filter(|&r| self.distances[r] > self.fences[r])
            .map(|r| Suspect {
                file: self.names[r].clone(),
                label: self.given_text(r),
                suggested: self.answer_text(r),
                score: self.distances[r],
                issue: Issue::Outlier,
                other: None,
                index: self.indices[r],
            })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        out
    }

    /// The confident joint: image counts by (given label, class it confidently belongs to);
    /// its off-diagonal cells estimate how many images of each class carry another's label.
    /// Empty beyond single-label.
    pub fn confident_joint(&self) -> Vec<Vec<usize>> {
        if self.task != TaskKind::SingleLabel {
            return Vec::new();
        }
        let k = self.classes.len();
        let t = confident::thresholds(&self.probs, &self.labels, k);
        confident::confident_joint(&self.labels, &confident::confident_classes(&self.probs, &t), k)
    }

    /// The fraction of images whose most probable class is their label (single-label; see
    /// [`Scored::metrics`] beyond).
    pub fn accuracy(&self) -> f64 {
        let k = self.classes.len();
        let right = self.probs.chunks_exact(k).zip(&self.labels).filter(|(row, l)| argmax(row) == **l);
        right.count() as f64 / self.labels.len().max(1) as f64
    }

    /// How well the answers fit the given labels, under the metrics' names: `accuracy` for
    /// single-label, else the task's headline metrics (numbers against the mean of the given
    /// targets as the baseline).
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        self.task_metrics().map_or_else(|| vec![("accuracy", self.accuracy())], |m| m.metrics())
    }

    /// The task's metrics of the answers, beyond single-label.
    pub fn task_metrics(&self) -> Option<TaskMetrics> {
        let k = self.classes.len().max(1);
        match self.task {
            TaskKind::SingleLabel => None,
            TaskKind::MultiLabel => {
                let t = if self.thresholds.len() == k { self.thresholds.clone() } else { vec![0.5; k] };
                Some(TaskMetrics::MultiLabel(multi_label(&self.probs, &self.targets, &self.classes, &t)))
            }
            kind => {
                let n = (self.targets.len() / k).max(1) as f32;
                let mean: Vec<f32> = (0..k).map(|c| self.targets.iter().skip(c).step_by(k).sum::<f32>() / n).collect();
                let counts = kind == TaskKind::Count;
                Some(TaskMetrics::Values(values(&self.probs, &self.targets, &self.classes, &mean, counts)))
            }
        }
    }
}

/// Item `i` of `source`'s given label (labels, numbers) as `clean.csv` writes it.
fn source_text(source: &Source, i: usize) -> String {
    let item = &source.items[i];
    tasks::label_text(source.task(), source.classes(), item.label, &item.values, source.label_delim())
}

/// Near-duplicate pairs of `source` by perceptual hash (at most `max_bits` of 256 apart, and
/// their shrunk pixels within a mean difference of 4 of 255):
/// one suspect per pair, the later image, its "suggested" label the earlier one's (a pair
/// whose labels differ contradicts itself), most alike first.
pub fn near_duplicates(source: &Source, max_bits: u32) -> Result<Vec<Suspect>> {
    let duplicates::Hashed { indices, hashes, pixels } = duplicates::hashes(source)?;
    let label = |i: usize| source_text(source, i);
    let pairs = duplicates::close_pairs(&hashes, max_bits);
    Ok(pairs
        .into_iter()
        .filter(|&(a, b, _)| duplicates::same_pixels(&pixels[a], &pixels[b]))
        .map(|(a, b, d)| {
            let (a, b) = (indices[a], indices[b]);
            Suspect {
                file: source.name(b),
                label: label(b),
                suggested: label(a),
                score: 1.0 - d as f32 / 256.0,
                issue: Issue::Duplicate,
                other: Some(source.name(a)),
                index: b,
            }
        })
        .collect())
}

/// What `clean` finds in a dataset: three kinds of suspect, each most suspicious first, and
/// the scores the label errors and outliers come from.
#[derive(Debug, Clone)]
pub struct CleanReport {
    /// The predictions and neighbour distances every image was scored with.
    pub scored: Scored,
    /// Images whose label the predictions contradict (confident learning).
    pub label_errors: Vec<Suspect>,
    /// Images far from every other one in the scoring models' feature space.
    pub outliers: Vec<Suspect>,
    /// Images that (nearly) repeat an earlier one.
    pub duplicates: Vec<Suspect>,
}

impl CleanReport {
    /// The suspects of `source` given its `scored` images: label errors ranked by `rank`,
    /// outliers, and near-duplicates at most `duplicate_bits` of 256 apart ([`near_duplicates`]).
    pub fn find(source: &Source, scored: Scored, rank: RankBy, duplicate_bits: u32) -> Result<CleanReport> {
        Ok(CleanReport {
            label_errors: scored.label_errors(rank),
            outliers: scored.outliers(),
            duplicates: near_duplicates(source, duplicate_bits)?,
            scored,
        })
    }

    /// Every suspect: the label errors, then the outliers, then the duplicates (the rows of
    /// `clean.csv`, in order).
    pub fn suspects(&self) -> impl Iterator<Item = &Suspect> {
        self.label_errors.iter().chain(&self.outliers).chain(&self.duplicates)
    }

    /// Writes `clean.csv` and `clean.json` beside it (see [`crate::curate::apply`]): a row per
    /// suspect, `file,label,suggested,score,issue,other,action`, every action `keep` for the
    /// user to change to `relabel:CLASS` or `delete`; the JSON says where the labels live
    /// (`store`, `None` when apply cannot edit them), the classes and the current folder
    /// (relative paths are relative to it).
    pub fn save_csv(&self, store: Option<LabelStore>, path: &Path) -> Result<()> {
        let s = &self.scored;
        let vocabulary = Vocabulary { task: s.task, names: s.classes.clone(), delim: s.delim };
        write_clean_csv(self.suspects(), store, vocabulary, path)
    }

    /// Draws suspects of `source` (prepared with `pre`) in a grid — the first `n` label errors,
    /// then the first outliers and near-duplicates (up to 10 and 5) — each captioned with its
    /// given label, the suggested one (or what else it is) and its score, and writes it as PNG
    /// to `path`.
    pub fn save_picture(&self, source: &Source, pre: &Preprocess, n: usize, path: &Path) -> Result<()> {
        let shown = self.label_errors.iter().take(n).chain(self.outliers.iter().take(10));
        let shown: Vec<&Suspect> = shown.chain(self.duplicates.iter().take(5)).collect();
        let indices: Vec<usize> = shown.iter().map(|s| s.index).collect();
        let loaded = source.load(&indices, pre, true, &|_, _| {});
        let names = loaded.data.names();
        let by_name: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
        let mut tiles = Vec::new();
        for s in shown {
            let Some(&i) = by_name.get(s.file.as_str()) else { continue };
            let middle = match s.issue {
                Issue::LabelError => (s.suggested.clone(), [0, 100, 0]),
                Issue::Outlier => ("outlier".to_string(), [150, 90, 0]),
                Issue::Duplicate => (format!("dup of {}", s.suggested), [0, 70, 160]),
            };
            let captions = vec![(s.label.clone(), [180, 0, 0]), middle, (format!("{:.3}", s.score), [80, 80, 80])];
            tiles.push(Tile { bytes: loaded.data.image(i)?.into_owned(), captions, heat: None });
        }
        let title = "given (red) / suggested (green), outlier or duplicate / score";
        captioned_grid(title, (pre.height(), pre.width()), 112, &tiles).save_png(path)
    }
}

/// Writes `suspects` as `clean.csv` at `path`, and its `clean.json` (see [`CleanReport::save_csv`]).
fn write_clean_csv<'a>(
    suspects: impl Iterator<Item = &'a Suspect>,
    store: Option<LabelStore>,
    vocabulary: Vocabulary,
    path: &Path,
) -> Result<()> {
    let header = ["file", "label", "suggested", "score", "issue", "other", "action"];
    let rows = suspects.map(|s| {
        let issue = serde_json::to_value(s.issue).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let (score, other) = (format!("{:.4}", s.score), s.other.clone().unwrap_or_default());
        [s.file.clone(), s.label.clone(), s.suggested.clone(), score, issue, other, "keep".into()]
    });
    atomic_write(path, csv_table(&header, rows).as_bytes())?;
    let base = std::env::current_dir().ok();
    let Vocabulary { task, names: classes, delim } = vocabulary;
    write_json(&sidecar_path(path), &Sidecar { store, classes, task, delim, base })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clean_csv_that_clean_writes_is_the_one_apply_reads() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("pets").join("cat");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("two\nlines, \"quoted\".png"), "x").unwrap();
        let root = root.parent().unwrap().canonicalize().unwrap();
        let odd = root.join("cat/two\nlines, \"quoted\".png").display().to_string();
        let csv = t.path().join("clean.csv");
        let suspect = |file: &str| Suspect {
            file: file.into(),
            label: "cat".into(),
            suggested: "dog".into(),
            score: 0.9,
            issue: Issue::LabelError,
            other: None,
            index: 0,
        };
        let store = Some(LabelStore::ClassFolders { root: root.clone() });
        let vocabulary = Vocabulary::classes(vec!["cat".to_string(), "dog".into()]);
        write_clean_csv([suspect(&odd)].iter(), store, vocabulary, &csv).unwrap();
        let text = std::fs::read_to_string(&csv).unwrap().replace("keep", "relabel:dog");
        std::fs::write(&csv, format!("\u{feff}{text}")).unwrap();
        std::fs::create_dir(root.join("dog")).unwrap();
        assert_eq!(crate::curate::apply(&csv).unwrap().0.relabelled, 1);
        assert!(root.join("dog/two\nlines, \"quoted\".png").is_file());
    }

    #[test]
    fn the_report_keeps_each_kind_of_suspect_apart_and_clean_csv_lists_them_in_that_order() {
        // Six 2×2 images: 0 and 1 the same picture (the only ones whose rows rise left to
        // right: the hash sees the others as flat); 2 labelled top but predicted bottom; 5
        // beyond its outlier fence.
        let pixels: Vec<u8> =
            [[0, 90, 0, 90], [0, 90, 0, 90], [0, 0, 99, 99], [0, 0, 40, 40], [0, 0, 180, 180], [255, 0, 255, 0]]
                .concat();
        let part = crate::data::idx::IdxSplit {
            prefix: "t10k".into(),
            pixels,
            labels: vec![0, 0, 0, 1, 1, 1],
            height: 2,
            width: 2,
        };
        let source = Source::from_idx("six".into(), vec![part], Some(vec!["top".into(), "bottom".into()]));
        let scored = Scored {
            task: TaskKind::SingleLabel,
            targets: Vec::new(),
            thresholds: Vec::new(),
            delim: ' ',
            classes: vec!["top".into(), "bottom".into()],
            indices: (0..6).collect(),
            names: (0..6).map(|i| source.name(i)).collect(),
            labels: vec![0, 0, 0, 1, 1, 1],
            probs: vec![0.9, 0.1, 0.9, 0.1, 0.05, 0.95, 0.1, 0.9, 0.1, 0.9, 0.1, 0.9],
            distances: vec![0.1, 0.1, 0.1, 0.1, 0.1, 0.8],
            fences: vec![0.5; 6],
            method: "test".into(),
        };
        let report = CleanReport::find(&source, scored, RankBy::SelfConfidence, 0).unwrap();
        let indices = |s: &[Suspect]| s.iter().map(|s| s.index).collect::<Vec<_>>();
        assert_eq!(indices(&report.label_errors), [2]);
        assert_eq!(indices(&report.outliers), [5]);
        assert_eq!(indices(&report.duplicates), [1]);
        assert_eq!(report.duplicates[0].other.as_deref(), Some(source.name(0).as_str()));

        let t = tempfile::tempdir().unwrap();
        let csv = t.path().join("clean.csv");
        report.save_csv(None, &csv).unwrap();
        let text = std::fs::read_to_string(&csv).unwrap();
        let issues: Vec<&str> = text.lines().skip(1).map(|row| row.split(',').nth(4).unwrap()).collect();
        assert_eq!(issues, ["label_error", "outlier", "duplicate"], "{text}");
    }
}
