//! The validation tables of a task beyond one class per image, as HTML: per class for
//! multi-label (threshold, precision, recall, F1, average precision, images), per target for
//! numbers (MAE, RMSE, R² beside the mean baseline).

use std::fmt::Write as _;

use crate::metrics::TaskMetrics;

/// The tables of `task`'s metrics, each with a line that says what it shows.
pub(crate) fn task_tables(task: &TaskMetrics) -> String {
    let (intro, after) = match task {
        TaskMetrics::MultiLabel(m) => (
            format!(
                "<p>Several labels per image: accuracy_multi {:.4} (every image × class decision), F1 micro {:.4}, \
                 macro {:.4}, samples {:.4}; mean average precision {:.4}. TP, FP, FN, TN: each label's 2×2 \
                 confusion matrix (has it or not, predicted or not).</p>",
                m.accuracy_multi, m.f1_micro, m.f1_macro, m.f1_samples, m.map
            ),
            String::new(),
        ),
        TaskMetrics::Values(v) => (
            "<p>Each target's errors, beside the baseline that always predicts the training mean \
             (a useful model beats it).</p>"
                .to_string(),
            v.exact_accuracy.map_or_else(String::new, |a| {
                format!("<p>Exact-count accuracy (the rounded prediction is the count): {:.2}%.</p>", 100.0 * a)
            }),
        ),
    };
    intro + &table(task) + &after
}

/// `task`'s table ([`TaskMetrics::table`]) as HTML, the 2×2 cells' headers explained.
fn table(task: &TaskMetrics) -> String {
    let t = task.table();
    let mut h = String::from("<table><tr>");
    for c in &t.columns {
        let title = match *c {
            "TP" => " title='has it, predicted'",
            "FP" => " title='has not, predicted'",
            "FN" => " title='has it, not predicted'",
            "TN" => " title='has not, not predicted'",
            _ => "",
        };
        let _ = write!(h, "<th{title}>{}", esc(c));
    }
    for row in &t.rows {
        h += "<tr>";
        for (j, cell) in row.iter().enumerate() {
            let _ = write!(h, "{}{}", if j == 0 { "<td>" } else { "<td class=n>" }, esc(cell));
        }
    }
    h + "</table>"
}

/// `text` escaped for HTML.
pub(super) fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
