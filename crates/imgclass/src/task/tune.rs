//! Tuning a multi-label model's thresholds on its validation images: the probability from
//! which a label is predicted, chosen to maximize F1 — one for every class (micro F1) or one
//! per class (its own F1) — over 0.05, 0.06, …, 0.95. Ties go to the threshold nearest ½.

use super::Task;
use crate::config::ThresholdTuning;
use crate::data::targets::TaskKind;

/// The candidate thresholds, in hundredths.
const CANDIDATES: std::ops::RangeInclusive<u32> = 5..=95;

/// True positives, false positives and false negatives of `column` (or every column) at `t`.
fn counts(p: &[f32], truth: &[f32], k: usize, column: Option<usize>, t: f32) -> (usize, usize, usize) {
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for (i, (&p, &y)) in p.iter().zip(truth).enumerate() {
        if column.is_some_and(|c| i % k != c) {
            continue;
        }
        match (p >= t, y == 1.0) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            _ => {}
        }
    }
    (tp, fp, fn_)
}

/// The candidate threshold with the best F1 of `column` (every column pooled when `None`).
fn best(p: &[f32], truth: &[f32], k: usize, column: Option<usize>) -> f32 {
    let f1 = |t: f32| {
        let (tp, fp, fn_) = counts(p, truth, k, column, t);
        if tp == 0 { 0.0 } else { 2.0 * tp as f64 / (2 * tp + fp + fn_) as f64 }
    };
    let mut best = (f64::NEG_INFINITY, 0.5f32);
    for h in CANDIDATES {
        let t = h as f32 / 100.0;
        let score = f1(t);
        if score > best.0 || (score == best.0 && (t - 0.5).abs() < (best.1 - 0.5).abs()) {
            best = (score, t);
        }
    }
    best.1
}

impl Task {
    /// The thresholds that maximize the F1 of raw outputs `raw` against 0/1 `targets` (both
    /// `n × classes`), as `tuning` says; the current thresholds for a task not multi-label.
    pub(crate) fn tuned_thresholds(&self, raw: &[f32], targets: &[f32], tuning: ThresholdTuning) -> Vec<f32> {
        if self.kind != TaskKind::MultiLabel {
            return self.thresholds.clone();
        }
        let k = self.names.len().max(1);
        let p: Vec<f32> = raw.chunks_exact(k).flat_map(|z| self.answer_row(z)).collect();
        match tuning {
            ThresholdTuning::Global => vec![best(&p, targets, k, None); k],
            ThresholdTuning::PerClass => (0..k).map(|c| best(&p, targets, k, Some(c))).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tuned_threshold_separates_the_classes_and_per_class_ones_differ() {
        let mut task = Task::single_label(vec!["a".into(), "b".into()]);
        (task.kind, task.thresholds) = (TaskKind::MultiLabel, vec![0.5, 0.5]);
        // Class a's positives score 0.3, its negatives 0.1; class b's positives 0.8, negatives 0.6.
        let logit = |p: f32| (p / (1.0 - p)).ln();
        let rows = [([0.3, 0.8], [1.0, 1.0]), ([0.1, 0.6], [0.0, 0.0]), ([0.3, 0.6], [1.0, 0.0])];
        let raw: Vec<f32> = rows.iter().flat_map(|(p, _)| p.map(logit)).collect();
        let targets: Vec<f32> = rows.iter().flat_map(|(_, t)| *t).collect();
        let per = task.tuned_thresholds(&raw, &targets, ThresholdTuning::PerClass);
        assert!(per[0] > 0.1 && per[0] <= 0.3 && per[1] > 0.6 && per[1] <= 0.8, "{per:?}");
        let global = task.tuned_thresholds(&raw, &targets, ThresholdTuning::Global);
        assert_eq!(global[0], global[1]);
        assert!(global[0] <= 0.3, "catching a's positives is worth b's false positives: {global:?}");
    }
}
