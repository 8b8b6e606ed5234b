//! The evaluation report of a task's raw outputs on labelled images.

use super::Task;
use crate::data::targets::TaskKind;
use crate::metrics::{Confusion, EvalReport, TaskMetrics, multi_label, values};

/// `z − log Σ eᶻ`, computed without overflow.
fn log_softmax(z: &[f32]) -> Vec<f32> {
    let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = z.iter().map(|v| (v - m).exp()).sum::<f32>().ln() + m;
    z.iter().map(|v| v - log_sum).collect()
}

impl Task {
    /// The report of raw outputs `raw` (`n × names` row-major; for single-label raw outputs or
    /// log-probabilities alike, log-softmax leaving the latter as they are) against the images'
    /// `targets` (same shape; beyond single-label) or `labels` (single-label).
    pub(crate) fn report(&self, raw: &[f32], targets: &[f32], labels: &[usize]) -> EvalReport {
        let k = self.names.len().max(1);
        if self.kind == TaskKind::SingleLabel {
            let lp: Vec<f32> = raw.chunks_exact(k).flat_map(log_softmax).collect();
            return EvalReport::from_log_probs(&lp, labels, &self.names);
        }
        let rows = || raw.chunks_exact(k).zip(targets.chunks_exact(k));
        let answers: Vec<f32> = raw.chunks_exact(k).flat_map(|z| self.answer_row(z)).collect();
        let losses: Vec<f32> = rows().map(|(z, t)| self.row_loss(z, t)).collect();
        let n = losses.len();
        let loss = losses.iter().map(|&l| f64::from(l)).sum::<f64>() / n.max(1) as f64;
        let (metrics, accuracy) = match self.kind {
            TaskKind::MultiLabel => {
                let m = multi_label(&answers, targets, &self.names, &self.thresholds);
                let a = m.accuracy_multi;
                (TaskMetrics::MultiLabel(m), a)
            }
            kind => {
                let m = values(&answers, targets, &self.names, &self.mean, kind == TaskKind::Count);
                let a = m.exact_accuracy.unwrap_or(0.0);
                (TaskMetrics::Values(m), a)
            }
        };
        EvalReport {
            n_images: n,
            loss,
            accuracy,
            error_rate: 1.0 - accuracy,
            per_class: Vec::new(),
            confusion: Confusion::new(&[], &[], &[]),
            ranking: None,
            task: Some(metrics),
            losses,
            predicted: Vec::new(),
        }
    }
}
