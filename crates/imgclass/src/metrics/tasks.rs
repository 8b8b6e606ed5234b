//! Metrics of the tasks beyond one class per image. Multi-label: fastai's `accuracy_multi`,
//! F1 micro / macro / samples, per-class precision, recall, F1 and average precision, and
//! their mean (mAP) — scikit-learn's definitions, `zero_division=0`. Numbers: MAE, RMSE and
//! R² per target (scikit-learn's `r2_score`), beside the baseline that always predicts the
//! training mean; counts add the exact-count accuracy of the rounded prediction.

use serde::{Deserialize, Serialize};

use super::ranking::ranking;

/// How a multi-label model did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiLabelMetrics {
    /// Fraction of (image, class) decisions right at the thresholds (fastai's `accuracy_multi`).
    pub accuracy_multi: f64,
    /// F1 of every decision pooled.
    pub f1_micro: f64,
    /// Mean of the classes' F1.
    pub f1_macro: f64,
    /// Mean of the images' F1.
    pub f1_samples: f64,
    /// Mean average precision over the classes that have both positives and negatives here.
    pub map: f64,
    /// Each class's metrics.
    pub per_class: Vec<LabelMetrics>,
}

/// Precision, recall, F1 and average precision of one class of a multi-label model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelMetrics {
    /// The class.
    pub class: String,
    /// The probability from which it is predicted.
    pub threshold: f32,
    /// Of the images it was predicted for, the fraction that have it.
    pub precision: f64,
    /// Of the images that have it, the fraction it was predicted for.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Images that have it.
    pub support: usize,
    /// How well its probability ranks its images (undefined when every image, or none, has it).
    pub average_precision: Option<f64>,
    /// Its 2×2 confusion matrix at the threshold: images that have it and got it…
    #[serde(default)]
    pub true_positives: usize,
    /// …that do not have it but got it…
    #[serde(default)]
    pub false_positives: usize,
    /// …that have it but did not get it…
    #[serde(default)]
    pub false_negatives: usize,
    /// …and that neither have it nor got it.
    #[serde(default)]
    pub true_negatives: usize,
}

fn f1(tp: usize, fp: usize, fn_: usize) -> f64 {
    if tp == 0 { 0.0 } else { 2.0 * tp as f64 / (2 * tp + fp + fn_) as f64 }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The metrics of probabilities `probs` against 0/1 `truth` (both `n × classes.len()`
/// row-major), a class predicted when its probability reaches its threshold.
pub fn multi_label(probs: &[f32], truth: &[f32], classes: &[String], thresholds: &[f32]) -> MultiLabelMetrics {
    let k = classes.len().max(1);
    let n = probs.len() / k;
    let said = |i: usize, c: usize| probs[i * k + c] >= thresholds[c];
    let has = |i: usize, c: usize| truth[i * k + c] == 1.0;
    let (mut right, mut samples) = (0, 0.0);
    for i in 0..n {
        let (mut tp, mut fp, mut fn_) = (0, 0, 0);
        for c in 0..k {
            right += usize::from(said(i, c) == has(i, c));
            match (said(i, c), has(i, c)) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fn_ += 1,
                _ => {}
            }
        }
        samples += f1(tp, fp, fn_);
    }
    let (mut all_tp, mut all_fp, mut all_fn, mut aps) = (0, 0, 0, Vec::new());
    let per_class: Vec<LabelMetrics> = (0..classes.len())
        .map(|c| {
            let tp = (0..n).filter(|&i| said(i, c) && has(i, c)).count();
            let fp = (0..n).filter(|&i| said(i, c) && !has(i, c)).count();
            let support = (0..n).filter(|&i| has(i, c)).count();
            (all_tp, all_fp, all_fn) = (all_tp + tp, all_fp + fp, all_fn + support - tp);
            let scores: Vec<f32> = (0..n).map(|i| probs[i * k + c]).collect();
            let positive: Vec<bool> = (0..n).map(|i| has(i, c)).collect();
            let average_precision = ranking(&classes[c], &scores, &positive).map(|r| r.average_precision);
            aps.extend(average_precision);
            LabelMetrics {
                class: classes[c].clone(),
                threshold: thresholds[c],
                precision: ratio(tp, tp + fp),
                recall: ratio(tp, support),
                f1: f1(tp, fp, support - tp),
                support,
                average_precision,
                true_positives: tp,
                false_positives: fp,
                false_negatives: support - tp,
                true_negatives: n - tp - fp - (support - tp),
            }
        })
        .collect();
    let mean = |v: &[f64]| if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
    MultiLabelMetrics {
        accuracy_multi: ratio(right, n * classes.len()),
        f1_micro: f1(all_tp, all_fp, all_fn),
        f1_macro: mean(&per_class.iter().map(|m| m.f1).collect::<Vec<_>>()),
        f1_samples: if n == 0 { 0.0 } else { samples / n as f64 },
        map: mean(&aps),
        per_class,
    }
}

/// How a model that predicts numbers did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueMetrics {
    /// Each target's metrics.
    pub per_target: Vec<TargetMetrics>,
    /// Counts: the fraction of images whose rounded prediction is their count (over every
    /// target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_accuracy: Option<f64>,
    /// Each image's predictions, `images × targets` row-major (for the charts; not saved).
    #[serde(skip)]
    pub predicted: Vec<f32>,
    /// Each image's true values, as `predicted`.
    #[serde(skip)]
    pub actual: Vec<f32>,
}

/// The errors of one predicted number, and of the baseline that always predicts the training
/// mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetMetrics {
    /// The target.
    pub name: String,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Coefficient of determination: 1 − SSres / SStot (1 is perfect, 0 the data's own mean,
    /// negative worse than it).
    pub r2: f64,
    /// MAE of always predicting the training mean.
    pub baseline_mae: f64,
    /// RMSE of always predicting the training mean.
    pub baseline_rmse: f64,
}

impl ValueMetrics {
    /// The mean of `f` over the targets.
    pub fn mean(&self, f: impl Fn(&TargetMetrics) -> f64) -> f64 {
        let n = self.per_target.len().max(1) as f64;
        self.per_target.iter().map(f).sum::<f64>() / n
    }
}

/// The metrics of predictions `pred` against `truth` (both `n × names.len()` row-major);
/// `train_mean` is each target's training mean (the baseline); `counts` adds the exact-count
/// accuracy.
pub fn values(pred: &[f32], truth: &[f32], names: &[String], train_mean: &[f32], counts: bool) -> ValueMetrics {
    let k = names.len().max(1);
    let n = pred.len() / k;
    let per_target = names
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let col = |v: &[f32]| (0..n).map(|i| f64::from(v[i * k + c])).collect::<Vec<f64>>();
            let (p, t) = (col(pred), col(truth));
            let mean_of = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
            let actual_mean = mean_of(&t);
            let mae = mean_of(&p.iter().zip(&t).map(|(a, b)| (a - b).abs()).collect::<Vec<_>>());
            let sse: f64 = p.iter().zip(&t).map(|(a, b)| (a - b).powi(2)).sum();
            let sst: f64 = t.iter().map(|b| (b - actual_mean).powi(2)).sum();
            let base = f64::from(train_mean.get(c).copied().unwrap_or(0.0));
            TargetMetrics {
                name: name.clone(),
                mae,
                rmse: (sse / n.max(1) as f64).sqrt(),
                // scikit-learn: a constant target gives 1 when predicted exactly, else 0.
                r2: if sst > 0.0 { 1.0 - sse / sst } else { f64::from(u8::from(sse == 0.0)) },
                baseline_mae: mean_of(&t.iter().map(|b| (b - base).abs()).collect::<Vec<_>>()),
                baseline_rmse: (t.iter().map(|b| (b - base).powi(2)).sum::<f64>() / n.max(1) as f64).sqrt(),
            }
        })
        .collect();
    let exact = pred.iter().zip(truth).filter(|(p, t)| p.round().max(0.0) == **t).count();
    ValueMetrics {
        per_target,
        exact_accuracy: counts.then(|| ratio(exact, pred.len())),
        predicted: pred.to_vec(),
        actual: truth.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|c| format!("c{c}")).collect()
    }

    #[test]
    fn multi_label_metrics_match_scikit_learn() {
        // y_true = [[1,0,1],[0,1,0],[1,1,0],[0,0,0]]; probabilities below, threshold 0.5:
        // y_pred = [[1,0,0],[0,1,1],[1,0,0],[0,0,0]].
        // sklearn f1_score(average='micro') = 2·3/(2·3+1+2) = 0.6667; 'macro' = (1 + 0.6667 + 0)/3
        // = 0.5556; 'samples' (zero_division=0) = (0.6667 + 0.6667 + 0.6667 + 0)/4 = 0.5;
        // accuracy_multi = 9/12; average_precision_score(y_true[:,0], p[:,0]) = 1.
        let truth = [1., 0., 1., 0., 1., 0., 1., 1., 0., 0., 0., 0.];
        let probs = [0.9, 0.1, 0.4, 0.2, 0.8, 0.6, 0.7, 0.3, 0.1, 0.1, 0.2, 0.3];
        let m = multi_label(&probs, &truth, &names(3), &[0.5; 3]);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-4;
        assert!(close(m.accuracy_multi, 0.75), "{}", m.accuracy_multi);
        assert!(close(m.f1_micro, 2.0 / 3.0) && close(m.f1_macro, 0.5556) && close(m.f1_samples, 0.5), "{m:?}");
        assert_eq!(m.per_class[0].average_precision, Some(1.0));
        assert_eq!((m.per_class[1].support, m.per_class[2].recall), (2, 0.0));
        // Class 1: AP of scores [.1,.8,.3,.2] for [0,1,1,0] = 1; class 2: [.4,.6,.1,.3] for
        // [1,0,0,0] = 1/2. mAP = (1 + 1 + 0.5)/3.
        assert!(close(m.map, 2.5 / 3.0), "{}", m.map);
    }

    #[test]
    fn value_metrics_match_scikit_learn_and_the_mean_baseline() {
        // sklearn: mean_absolute_error([3,-0.5,2,7],[2.5,0,2,8]) = 0.5,
        // r2_score = 0.9486, RMSE = sqrt(0.375) = 0.6124.
        let m = values(&[2.5, 0.0, 2.0, 8.0], &[3.0, -0.5, 2.0, 7.0], &names(1), &[2.0], false);
        let t = &m.per_target[0];
        let close = |a: f64, b: f64| (a - b).abs() < 1e-4;
        assert!(close(t.mae, 0.5) && close(t.r2, 0.9486) && close(t.rmse, 0.6124), "{t:?}");
        assert!(close(t.baseline_mae, (1.0 + 2.5 + 0.0 + 5.0) / 4.0));
        assert!(m.exact_accuracy.is_none());
        let c = values(&[0.4, 2.6, 3.2], &[0.0, 2.0, 3.0], &names(1), &[1.0], true);
        assert_eq!(c.exact_accuracy, Some(2.0 / 3.0));
    }
}
