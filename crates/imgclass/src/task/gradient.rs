//! The gradient of one image's loss ([`Task::row_loss`]) with respect to its raw outputs: what
//! the linear probe ([`crate::train`]'s L-BFGS fit of the head on cached features) follows for
//! every task — a logistic regression per label (multi-label), least squares (regression: a
//! ridge regression with the probe's penalty) and a Poisson regression (counts).

use super::Task;
use crate::config::ValueLoss;
use crate::data::targets::TaskKind;

fn logistic(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl Task {
    /// The task whose loss the probe minimizes: least squares for numbers (a ridge regression,
    /// smooth where L1 and Huber are not), the task itself otherwise.
    pub(crate) fn for_probe(&self) -> Task {
        let mut task = self.clone();
        if matches!(task.kind, TaskKind::Regression | TaskKind::Count) && !task.poisson() {
            task.loss = ValueLoss::Mse;
        }
        task
    }

    /// [`Task::row_loss`] of outputs `z` against targets `t`, and its gradient with respect to `z`.
    pub(crate) fn row_loss_grad(&self, z: &[f32], t: &[f32]) -> (f32, Vec<f32>) {
        let k = z.len().max(1) as f32;
        let grad = (0..z.len())
            .map(|c| {
                let g = match self.kind {
                    TaskKind::SingleLabel => 0.0,
                    TaskKind::MultiLabel => logistic(z[c]) - t[c],
                    _ if self.poisson() => (z[c] + self.offset(c)).exp() - t[c],
                    _ => {
                        let (d, slope) = self.standardized_error(z[c], t[c], c);
                        let dl = match self.loss {
                            ValueLoss::L1 => d.signum(),
                            ValueLoss::Huber => d.clamp(-1.0, 1.0),
                            _ => 2.0 * d,
                        };
                        dl * slope
                    }
                };
                g / k
            })
            .collect();
        (self.row_loss(z, t), grad)
    }

    /// Numbers: the standardized prediction's error against target `t` of output `c`, and the
    /// prediction's derivative with respect to the raw output `z`.
    fn standardized_error(&self, z: f32, t: f32, c: usize) -> (f32, f32) {
        let d = self.standardized_prediction(z, c) - (t - self.mean[c]) / self.std[c];
        let slope = match self.y_range {
            Some(r) => {
                let s = logistic(z);
                (r.high - r.low) as f32 * s * (1.0 - s) / self.std[c]
            }
            None => 1.0,
        };
        (d, slope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::YRange;

    #[test]
    fn the_gradient_of_every_tasks_row_loss_matches_finite_differences() {
        let z = [0.3f32, -1.2];
        let cases = [
            (TaskKind::MultiLabel, ValueLoss::Auto, None, [1.0f32, 0.0]),
            (TaskKind::Regression, ValueLoss::Mse, None, [4.0, 1.0]),
            (TaskKind::Regression, ValueLoss::L1, None, [4.0, 1.0]),
            (TaskKind::Regression, ValueLoss::Huber, None, [9.0, 1.3]),
            (TaskKind::Regression, ValueLoss::Mse, Some(YRange { low: 0.0, high: 6.0 }), [4.0, 1.0]),
            (TaskKind::Count, ValueLoss::Poisson, None, [4.0, 1.0]),
        ];
        for (kind, loss, y_range, t) in cases {
            let mut task = Task::single_label(vec!["a".into(), "b".into()]);
            (task.kind, task.loss, task.y_range) = (kind, loss, y_range);
            (task.mean, task.std, task.thresholds) = (vec![3.0, 1.5], vec![2.0, 0.5], vec![0.5; 2]);
            let (loss0, grad) = task.row_loss_grad(&z, &t);
            for c in 0..2 {
                let mut moved = z;
                moved[c] += 1e-3;
                let numeric = (task.row_loss(&moved, &t) - loss0) / 1e-3;
                assert!(
                    (numeric - grad[c]).abs() < 1e-2 * grad[c].abs().max(1.0),
                    "{kind:?} {loss:?} output {c}: {numeric} vs {}",
                    grad[c]
                );
            }
        }
    }

    #[test]
    fn the_probe_fits_numbers_by_least_squares_and_counts_by_poisson() {
        let mut task = Task::single_label(vec!["a".into()]);
        (task.kind, task.loss) = (TaskKind::Regression, ValueLoss::L1);
        assert_eq!(task.for_probe().loss, ValueLoss::Mse);
        (task.kind, task.loss) = (TaskKind::Count, ValueLoss::Poisson);
        assert_eq!(task.for_probe().loss, ValueLoss::Poisson);
    }
}
