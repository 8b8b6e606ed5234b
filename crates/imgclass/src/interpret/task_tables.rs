//! The validation tables of a task beyond one class per image, as HTML: per class for
//! multi-label (threshold, precision, recall, F1, average precision, images), per target for
//! numbers (MAE, RMSE, R² beside the mean baseline).

use std::fmt::Write as _;

use crate::metrics::{MultiLabelMetrics, TaskMetrics, ValueMetrics};

/// The tables of `task`'s metrics.
pub(crate) fn task_tables(task: &TaskMetrics) -> String {
    match task {
        TaskMetrics::MultiLabel(m) => multi_label(m),
        TaskMetrics::Values(v) => values(v),
    }
}

fn multi_label(m: &MultiLabelMetrics) -> String {
    let mut h = format!(
        "<p>Several labels per image: accuracy_multi {:.4} (every image × class decision), F1 micro {:.4}, \
         macro {:.4}, samples {:.4}; mean average precision {:.4}. TP, FP, FN, TN: each label's 2×2 confusion matrix (has it or not, \
         predicted or not).</p>",
        m.accuracy_multi, m.f1_micro, m.f1_macro, m.f1_samples, m.map
    );
    h += "<table><tr><th>class<th>threshold<th>precision<th>recall<th>F1<th>average precision<th>images\
          <th title='has it, predicted'>TP<th title='has not, predicted'>FP<th title='has it, not predicted'>FN\
          <th title='has not, not predicted'>TN";
    for c in &m.per_class {
        let ap = c.average_precision.map_or("–".to_string(), |a| format!("{a:.3}"));
        let _ = write!(
            h,
            "<tr><td>{}<td class=n>{:.2}<td class=n>{:.3}<td class=n>{:.3}<td class=n>{:.3}<td class=n>{ap}<td class=n>{}",
            esc(&c.class),
            c.threshold,
            c.precision,
            c.recall,
            c.f1,
            c.support
        );
        for v in [c.true_positives, c.false_positives, c.false_negatives, c.true_negatives] {
            let _ = write!(h, "<td class=n>{v}");
        }
    }
    h + "</table>"
}

fn values(v: &ValueMetrics) -> String {
    let mut h = String::from(
        "<p>Each target's errors, beside the baseline that always predicts the training mean \
         (a useful model beats it).</p><table><tr><th>target<th>MAE<th>RMSE<th>R²<th>baseline MAE<th>baseline RMSE",
    );
    for t in &v.per_target {
        let _ = write!(
            h,
            "<tr><td>{}<td class=n>{:.4}<td class=n>{:.4}<td class=n>{:.4}<td class=n>{:.4}<td class=n>{:.4}",
            esc(&t.name),
            t.mae,
            t.rmse,
            t.r2,
            t.baseline_mae,
            t.baseline_rmse
        );
    }
    h += "</table>";
    if let Some(a) = v.exact_accuracy {
        let _ = write!(h, "<p>Exact-count accuracy (the rounded prediction is the count): {:.2}%.</p>", 100.0 * a);
    }
    h
}

/// `text` escaped for HTML.
pub(super) fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
