//! Metrics of a score that ranks images, for one class against the rest: the ROC curve and the
//! area under it, and average precision (scikit-learn's `roc_curve`, `roc_auc_score` and
//! `average_precision_score`, ties handled as they are there). Two-class problems report them
//! for their second class; multi-label problems per class.

use serde::{Deserialize, Serialize};

/// How well one class's score ranks its images above the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    /// The class scored (the positive one).
    pub class: String,
    /// Images of that class among those scored.
    pub positives: usize,
    /// Area under the ROC curve: the chance that an image of the class scores above one that
    /// is not (ties count half); 0.5 is a coin, 1 a perfect ranking.
    pub roc_auc: f64,
    /// Average precision: precision averaged over the recall gained at each threshold.
    pub average_precision: f64,
    /// The ROC curve as (false positive rate, true positive rate) points from (0, 0) to (1, 1),
    /// one per distinct score, thinned to at most [`ROC_POINTS`].
    pub roc: Vec<(f64, f64)>,
}

/// The most points a [`Ranking::roc`] keeps.
pub const ROC_POINTS: usize = 200;

/// Cumulative (false, true) positives at each distinct score, highest score first.
fn cumulative(scores: &[f32], positive: &[bool]) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut fp, mut tp, mut out) = (0, 0, Vec::new());
    for (k, &i) in order.iter().enumerate() {
        if positive[i] {
            tp += 1;
        } else {
            fp += 1;
        }
        if order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]) {
            out.push((fp, tp));
        }
    }
    out
}

/// The ranking of `scores` (higher = more likely `class`) against `positive`, or `None` when
/// the images are all of the class or all not (the curve is then undefined).
pub fn ranking(class: &str, scores: &[f32], positive: &[bool]) -> Option<Ranking> {
    let p = positive.iter().filter(|&&b| b).count();
    let n = positive.len() - p;
    if p == 0 || n == 0 || scores.len() != positive.len() {
        return None;
    }
    let steps = cumulative(scores, positive);
    let mut roc = vec![(0.0, 0.0)];
    roc.extend(steps.iter().map(|&(fp, tp)| (fp as f64 / n as f64, tp as f64 / p as f64)));
    // Trapezoids between the points: ties between the classes count half.
    let roc_auc = roc.windows(2).map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0).sum();
    let (mut average_precision, mut last_recall) = (0.0, 0.0);
    for &(fp, tp) in &steps {
        let recall = tp as f64 / p as f64;
        average_precision += (recall - last_recall) * tp as f64 / (tp + fp) as f64;
        last_recall = recall;
    }
    Some(Ranking { class: class.into(), positives: p, roc_auc, average_precision, roc: thin(roc) })
}

/// At most [`ROC_POINTS`] of `curve`, evenly spread, the first and the last kept.
fn thin(curve: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if curve.len() <= ROC_POINTS {
        return curve;
    }
    let last = curve.len() - 1;
    (0..ROC_POINTS).map(|k| curve[k * last / (ROC_POINTS - 1)]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfect_ranking_has_an_area_and_a_precision_of_one_and_a_reversed_one_an_area_of_zero() {
        let positive = [true, true, false, false];
        let r = ranking("cat", &[0.9, 0.8, 0.2, 0.1], &positive).unwrap();
        assert_eq!((r.roc_auc, r.average_precision, r.positives), (1.0, 1.0, 2));
        assert_eq!(r.roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(r.roc.last(), Some(&(1.0, 1.0)));
        assert_eq!(ranking("cat", &[0.1, 0.2, 0.8, 0.9], &positive).unwrap().roc_auc, 0.0);
    }

    #[test]
    fn the_area_and_precision_equal_scikit_learns_ties_included() {
        // sklearn 1.5: roc_auc_score(y, s) = 0.75, average_precision_score(y, s) = 0.8333...
        let (y, s) = ([false, false, true, true], [0.1, 0.4, 0.35, 0.8]);
        let r = ranking("x", &s, &y).unwrap();
        assert!((r.roc_auc - 0.75).abs() < 1e-12, "{}", r.roc_auc);
        assert!((r.average_precision - 5.0 / 6.0).abs() < 1e-12, "{}", r.average_precision);
        // Every score equal: a coin (sklearn: 0.5), and precision is the share of positives.
        let r = ranking("x", &[0.5; 4], &[true, false, false, false]).unwrap();
        assert_eq!((r.roc_auc, r.average_precision), (0.5, 0.25));
        // A tie across the classes counts half: y = [1, 0, 1], s = [0.5, 0.5, 0.9] → 0.75.
        assert_eq!(ranking("x", &[0.5, 0.5, 0.9], &[true, false, true]).unwrap().roc_auc, 0.75);
    }

    #[test]
    fn one_class_alone_has_no_curve_and_a_long_curve_is_thinned_to_its_ends() {
        assert!(ranking("x", &[0.1, 0.9], &[true, true]).is_none());
        let n = 1000;
        let scores: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let positive: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
        let r = ranking("x", &scores, &positive).unwrap();
        assert_eq!(r.roc.len(), ROC_POINTS);
        assert_eq!((r.roc[0], r.roc[ROC_POINTS - 1]), ((0.0, 0.0), (1.0, 1.0)));
    }
}
