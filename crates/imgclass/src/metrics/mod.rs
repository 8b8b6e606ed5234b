//! Classification metrics from predictions: accuracy, error rate, the confusion matrix,
//! per-class precision / recall / F1 (scikit-learn's `classification_report`), the most
//! confused pairs (fastai's `most_confused`), and the evaluation report built from a model's
//! class log-probabilities; for two classes, the ROC curve, its area and average precision
//! ([`ranking`]).

mod ranking;
mod tasks;

use serde::{Deserialize, Serialize};

pub use ranking::{ROC_POINTS, Ranking, ranking};
pub use tasks::{LabelMetrics, MultiLabelMetrics, TargetMetrics, ValueMetrics, multi_label, values};

/// The metrics of a task beyond one class per image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskMetrics {
    /// Several labels per image.
    MultiLabel(MultiLabelMetrics),
    /// Numbers (regression) or counts.
    Values(ValueMetrics),
}

impl TaskMetrics {
    /// The headline metrics under their names (multi-label `accuracy_multi`, `f1_micro`,
    /// `f1_macro`, `f1_samples`, `map`; numbers `mae`, `rmse`, `r2`, counts also
    /// `exact_accuracy`), means over the targets of several.
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        match self {
            TaskMetrics::MultiLabel(m) => vec![
                ("accuracy_multi", m.accuracy_multi),
                ("f1_micro", m.f1_micro),
                ("f1_macro", m.f1_macro),
                ("f1_samples", m.f1_samples),
                ("map", m.map),
            ],
            TaskMetrics::Values(v) => {
                let mut out = vec![("mae", v.mean(|t| t.mae)), ("rmse", v.mean(|t| t.rmse)), ("r2", v.mean(|t| t.r2))];
                out.extend(v.exact_accuracy.map(|a| ("exact_accuracy", a)));
                out
            }
        }
    }
}

/// A task's table, for text and HTML alike: a row per class (multi-label) or target (numbers),
/// its cells formatted.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsTable {
    /// The columns' names, the first naming the rows.
    pub columns: Vec<&'static str>,
    /// Each row's cells.
    pub rows: Vec<Vec<String>>,
}

impl TaskMetrics {
    /// The per-class table (threshold, precision, recall, F1, average precision, images and
    /// the 2×2 confusion matrix) or the per-target one (MAE, RMSE, R² and the mean baseline's
    /// MAE and RMSE).
    pub fn table(&self) -> MetricsTable {
        let f4 = |v: f64| format!("{v:.4}");
        match self {
            TaskMetrics::MultiLabel(m) => MetricsTable {
                columns: vec![
                    "class",
                    "threshold",
                    "precision",
                    "recall",
                    "F1",
                    "average precision",
                    "images",
                    "TP",
                    "FP",
                    "FN",
                    "TN",
                ],
                rows: m
                    .per_class
                    .iter()
                    .map(|c| {
                        let ap = c.average_precision.map_or_else(|| "-".to_string(), f4);
                        let (name, threshold) = (c.class.clone(), format!("{:.2}", c.threshold));
                        let mut row = vec![name, threshold, f4(c.precision), f4(c.recall), f4(c.f1), ap];
                        let counts =
                            [c.support, c.true_positives, c.false_positives, c.false_negatives, c.true_negatives];
                        row.extend(counts.iter().map(usize::to_string));
                        row
                    })
                    .collect(),
            },
            TaskMetrics::Values(v) => MetricsTable {
                columns: vec!["target", "MAE", "RMSE", "R²", "baseline MAE", "baseline RMSE"],
                rows: v
                    .per_target
                    .iter()
                    .map(|t| {
                        let numbers = [t.mae, t.rmse, t.r2, t.baseline_mae, t.baseline_rmse];
                        std::iter::once(t.name.clone()).chain(numbers.into_iter().map(f4)).collect()
                    })
                    .collect(),
            },
        }
    }
}

/// The result of evaluating a model on labelled images.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalReport {
    /// Number of images.
    pub n_images: usize,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction correct.
    pub accuracy: f64,
    /// 1 − accuracy.
    pub error_rate: f64,
    /// Per-class precision, recall, F1.
    pub per_class: Vec<ClassMetrics>,
    /// Confusion matrix.
    pub confusion: Confusion,
    /// Two classes only: how well the probability of the second class ranks its images (ROC
    /// AUC, average precision, the ROC curve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranking: Option<Ranking>,
    /// Beyond one class per image: the task's metrics (then `accuracy` is `accuracy_multi`
    /// or the exact-count accuracy, 0 for regression, and the class tables are empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskMetrics>,
    /// Per-image loss (for top-losses views); not serialized.
    #[serde(skip)]
    pub losses: Vec<f32>,
    /// Per-image predicted label; not serialized.
    #[serde(skip)]
    pub predicted: Vec<usize>,
}

/// The index of the largest value of `row` (the first of equal ones; 0 for an empty row).
pub(crate) fn argmax(row: &[f32]) -> usize {
    (0..row.len()).fold(0, |best, i| if row[i] > row[best] { i } else { best })
}

impl EvalReport {
    /// The headline metrics under their names (`accuracy`, `error_rate`; multi-label
    /// `accuracy_multi`, `f1_micro`, `f1_macro`, `f1_samples`, `map`; numbers `mae`, `rmse`,
    /// `r2`, counts also `exact_accuracy`), means over the targets of several.
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        match &self.task {
            None => vec![("accuracy", self.accuracy), ("error_rate", self.error_rate)],
            Some(task) => task.metrics(),
        }
    }

    /// The report of class log-probabilities `lp` (`labels.len() × classes` row-major).
    pub(crate) fn from_log_probs(lp: &[f32], labels: &[usize], classes: &[String]) -> EvalReport {
        let k = classes.len();
        let mut predicted = Vec::with_capacity(labels.len());
        let mut losses = Vec::with_capacity(labels.len());
        for (row, &label) in lp.chunks_exact(k).zip(labels) {
            predicted.push(argmax(row));
            losses.push(-row[label]);
        }
        let confusion = Confusion::new(classes, labels, &predicted);
        let accuracy = confusion.accuracy();
        let ranking = match classes {
            [_, second] => {
                let scores: Vec<f32> = lp.chunks_exact(2).map(|row| row[1].exp()).collect();
                let positive: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
                ranking::ranking(second, &scores, &positive)
            }
            _ => None,
        };
        let loss =
            if losses.is_empty() { 0.0 } else { losses.iter().map(|&l| l as f64).sum::<f64>() / losses.len() as f64 };
        EvalReport {
            n_images: labels.len(),
            loss,
            accuracy,
            error_rate: 1.0 - accuracy,
            per_class: confusion.per_class(),
            confusion,
            ranking,
            task: None,
            losses,
            predicted,
        }
    }
}

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// Class name.
    pub class: String,
    /// Of the images predicted as this class, the fraction that are.
    pub precision: f64,
    /// Of the images of this class, the fraction predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Number of images of this class.
    pub support: usize,
}

/// A confusion matrix: `counts[actual][predicted]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// Class names, in label order.
    pub classes: Vec<String>,
    /// `counts[actual][predicted]`.
    pub counts: Vec<Vec<usize>>,
}

impl Confusion {
    /// Tallies `(actual, predicted)` label pairs.
    pub fn new(classes: &[String], actual: &[usize], predicted: &[usize]) -> Self {
        let k = classes.len();
        let mut counts = vec![vec![0; k]; k];
        for (&a, &p) in actual.iter().zip(predicted) {
            counts[a][p] += 1;
        }
        Self { classes: classes.to_vec(), counts }
    }

    /// Number of images.
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// Fraction predicted correctly (0 when empty).
    pub fn accuracy(&self) -> f64 {
        let correct: usize = (0..self.classes.len()).map(|i| self.counts[i][i]).sum();
        if self.total() == 0 { 0.0 } else { correct as f64 / self.total() as f64 }
    }

    /// Precision, recall and F1 of every class (0 where undefined, as scikit-learn's `zero_division=0`).
    pub fn per_class(&self) -> Vec<ClassMetrics> {
        let k = self.classes.len();
        (0..k)
            .map(|c| {
                let tp = self.counts[c][c] as f64;
                let predicted: usize = (0..k).map(|a| self.counts[a][c]).sum();
                let support: usize = self.counts[c].iter().sum();
                let precision = if predicted == 0 { 0.0 } else { tp / predicted as f64 };
                let recall = if support == 0 { 0.0 } else { tp / support as f64 };
                let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
                ClassMetrics { class: self.classes[c].clone(), precision, recall, f1, support }
            })
            .collect()
    }

    /// Off-diagonal cells with at least `min` images, most frequent first: `(actual, predicted, count)`.
    pub fn most_confused(&self, min: usize) -> Vec<(String, String, usize)> {
        let k = self.classes.len();
        let mut out: Vec<(String, String, usize)> = (0..k)
            .flat_map(|a| (0..k).map(move |p| (a, p)))
            .filter(|&(a, p)| a != p && self.counts[a][p] >= min.max(1))
            .map(|(a, p)| (self.classes[a].clone(), self.classes[p].clone(), self.counts[a][p]))
            .collect();
        out.sort_by(|x, y| y.2.cmp(&x.2).then_with(|| x.0.cmp(&y.0)));
        out
    }

    /// The matrix as CSV: a header of predicted classes, one row per actual class.
    pub fn to_csv(&self) -> String {
        let header: Vec<&str> =
            std::iter::once("actual\\predicted").chain(self.classes.iter().map(String::as_str)).collect();
        let rows = self.classes.iter().zip(&self.counts).map(|(class, row)| {
            std::iter::once(class.clone()).chain(row.iter().map(usize::to_string)).collect::<Vec<_>>()
        });
        crate::util::csv::csv_table(&header, rows)
    }

    /// The matrix as an aligned text table (rows actual, columns predicted by index).
    pub fn to_text(&self) -> String {
        let row_name = |i: usize, c: &str| format!("{i} {c}");
        let name_w =
            self.classes.iter().enumerate().map(|(i, c)| row_name(i, c).chars().count()).max().unwrap_or(0).max(6);
        let cell_w = self
            .counts
            .iter()
            .flatten()
            .max()
            .map_or(1, |m| m.to_string().len())
            .max(self.classes.len().to_string().len())
            + 1;
        let mut out = format!("{:>name_w$}  predicted ->\n{:>name_w$}", "actual", "");
        for i in 0..self.classes.len() {
            out.push_str(&format!("{:>cell_w$}", i));
        }
        out.push('\n');
        for (i, (c, row)) in self.classes.iter().zip(&self.counts).enumerate() {
            out.push_str(&format!("{:>name_w$}", row_name(i, c)));
            for v in row {
                out.push_str(&format!("{v:>cell_w$}"));
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_counts_the_argmax_and_averages_the_loss_of_the_true_class() {
        let classes = ["a".to_string(), "b".to_string()];
        let lp = [0.5f32.ln(), 0.5f32.ln(), 0.9f32.ln(), 0.1f32.ln()];
        let r = EvalReport::from_log_probs(&lp, &[1, 0], &classes);
        assert_eq!((r.n_images, r.predicted.clone()), (2, vec![0, 0]));
        assert!((r.accuracy - 0.5).abs() < 1e-12);
        assert!((r.loss - (-(0.5f64.ln()) - 0.9f64.ln()) / 2.0).abs() < 1e-6, "{}", r.loss);
        // Two classes: b's probability (0.5 for the b image, 0.1 for the a image) ranks perfectly.
        let ranking = r.ranking.expect("two classes are ranked");
        assert_eq!((ranking.class.as_str(), ranking.positives, ranking.roc_auc), ("b", 1, 1.0));
        let three = [0.0f32, f32::NEG_INFINITY, f32::NEG_INFINITY];
        let three_classes = ["a".to_string(), "b".into(), "c".into()];
        assert!(EvalReport::from_log_probs(&three, &[0], &three_classes).ranking.is_none(), "only for two classes");
    }

    fn classes() -> Vec<String> {
        vec!["cat".into(), "dog".into(), "fox".into()]
    }

    #[test]
    fn per_class_metrics_match_scikit_learn() {
        // sklearn.metrics.classification_report([0,0,0,1,1,2], [0,0,1,1,2,2]):
        // cat p=1.00 r=0.67 f1=0.80; dog p=0.50 r=0.50 f1=0.50; fox p=0.50 r=1.00 f1=0.67
        let c = Confusion::new(&classes(), &[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2]);
        let m = c.per_class();
        let close = |a: f64, b: f64| (a - b).abs() < 0.005;
        assert!(close(m[0].precision, 1.0) && close(m[0].recall, 0.667) && close(m[0].f1, 0.8));
        assert!(close(m[1].precision, 0.5) && close(m[1].recall, 0.5));
        assert!(close(m[2].f1, 0.667) && m[2].support == 1);
        assert!(close(c.accuracy(), 4.0 / 6.0));
    }

    #[test]
    fn most_confused_lists_the_largest_off_diagonal_cells_first() {
        let c = Confusion::new(&classes(), &[0, 0, 0, 1, 2, 2], &[1, 1, 2, 0, 0, 2]);
        let top = c.most_confused(1);
        assert_eq!(top[0], ("cat".into(), "dog".into(), 2));
        assert_eq!(top.len(), 4);
    }

    #[test]
    fn the_text_table_aligns_every_row() {
        let c = Confusion::new(&["a".into(), "long name".into()], &[0, 1], &[0, 1]);
        let text = c.to_text();
        let widths: Vec<usize> = text.lines().skip(1).map(|l| l.chars().count()).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{text}");
    }

    #[test]
    fn csv_quotes_class_names_with_commas() {
        let c = Confusion::new(&["a,b".into(), "c".into()], &[0], &[1]);
        assert_eq!(c.to_csv(), "actual\\predicted,\"a,b\",c\n\"a,b\",0,1\nc,0,0\n");
    }
}
