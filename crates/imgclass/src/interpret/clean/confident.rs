//! Confident learning (Northcutt, Jiang and Chuang, "Confident Learning: Estimating
//! Uncertainty in Dataset Labels", JAIR 2021 — the method behind cleanlab): finds the images
//! whose given label is probably wrong from out-of-sample predicted probabilities.
//!
//! Each class `j` gets a threshold `t_j`, the average probability of `j` over the images
//! labelled `j` (the model's self-confidence on that class). An image "confidently belongs" to
//! the classes whose probability reaches their threshold, and among those to the most probable
//! one; counting images by (given label, confident class) gives the confident joint, whose
//! off-diagonal total estimates the number of label errors (cleanlab's `num_label_issues`).
//! That many images are flagged, those whose label gets the least probability (self-confidence;
//! or the smallest normalized margin over the best other class), as cleanlab's
//! `filter_by="low_self_confidence"` does. On flipped Fashion-MNIST labels this beat cleanlab's
//! default (`prune_by_noise_rate`: per off-diagonal cell, its calibrated count of the images
//! with the largest margin) in precision and recall alike (README, Benchmark).

use serde::{Deserialize, Serialize};

use crate::metrics::argmax;

/// How suspects are ranked, most suspicious first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// The probability of the given label, lowest first (cleanlab's default).
    #[default]
    SelfConfidence,
    /// The probability of the given label minus the largest other, lowest first.
    NormalizedMargin,
}

/// One suspected label error.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LabelIssue {
    /// The image (an index into the rows given).
    pub index: usize,
    /// The class it confidently belongs to.
    pub suggested: usize,
    /// How suspicious, in [0, 1]: 1 − self-confidence, or (1 − margin) / 2.
    pub score: f32,
}

/// The per-class thresholds: the mean probability of class `j` over the images labelled `j`
/// (1 for a class without images, so that nothing is assigned to it).
pub(crate) fn thresholds(probs: &[f32], labels: &[usize], classes: usize) -> Vec<f32> {
    let (mut sum, mut count) = (vec![0.0f64; classes], vec![0usize; classes]);
    for (row, &l) in probs.chunks_exact(classes).zip(labels) {
        sum[l] += row[l] as f64;
        count[l] += 1;
    }
    sum.iter().zip(&count).map(|(s, &n)| if n == 0 { 1.0 } else { (s / n as f64) as f32 }).collect()
}

/// The class each image confidently belongs to: the most probable of the classes whose
/// probability reaches its threshold; `None` when none does.
pub(crate) fn confident_classes(probs: &[f32], thresholds: &[f32]) -> Vec<Option<usize>> {
    probs
        .chunks_exact(thresholds.len())
        .map(|row| {
            (0..row.len()).filter(|&j| row[j] >= thresholds[j]).fold(None, |best: Option<usize>, j| match best {
                Some(b) if row[b] >= row[j] => Some(b),
                _ => Some(j),
            })
        })
        .collect()
}

/// The confident joint: `joint[given][confident]` image counts.
pub(crate) fn confident_joint(labels: &[usize], confident: &[Option<usize>], classes: usize) -> Vec<Vec<usize>> {
    let mut joint = vec![vec![0; classes]; classes];
    for (&l, c) in labels.iter().zip(confident) {
        if let Some(c) = c {
            joint[l][*c] += 1;
        }
    }
    joint
}

/// The most probable class of `row` other than `label`.
fn best_other(row: &[f32], label: usize) -> usize {
    (0..row.len()).filter(|&j| j != label).reduce(|b, j| if row[j] > row[b] { j } else { b }).unwrap_or(label)
}

/// The label issues of rows `probs` (`classes` probabilities per image, out of sample) with
/// given `labels`, most suspicious first, chosen as cleanlab's `filter_by="low_self_confidence"`
/// does: as many images as the confident joint has off its diagonal (its estimate of the
/// number of label errors), those of lowest rank score, less any whose most probable class is
/// their label. Each is suggested its most probable other class.
pub(crate) fn label_issues(probs: &[f32], labels: &[usize], classes: usize, rank: RankBy) -> Vec<LabelIssue> {
    let t = thresholds(probs, labels, classes);
    let joint = confident_joint(labels, &confident_classes(probs, &t), classes);
    let errors: usize = (0..classes).map(|i| joint[i].iter().sum::<usize>() - joint[i][i]).sum();
    let mut issues: Vec<LabelIssue> = probs
        .chunks_exact(classes)
        .zip(labels)
        .enumerate()
        .map(|(index, (p, &l))| {
            let suggested = best_other(p, l);
            let score = match rank {
                RankBy::SelfConfidence => 1.0 - p[l],
                RankBy::NormalizedMargin => (1.0 - (p[l] - p[suggested])) / 2.0,
            };
            LabelIssue { index, suggested, score }
        })
        .collect();
    issues.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    issues.truncate(errors);
    issues.retain(|i| argmax(&probs[i.index * classes..(i.index + 1) * classes]) != labels[i.index]);
    issues
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Six images of three classes; image 4 is labelled 0 but confidently class 2.
    fn example() -> (Vec<f32>, Vec<usize>) {
        let probs = vec![
            0.8, 0.1, 0.1, //
            0.6, 0.3, 0.1, //
            0.2, 0.7, 0.1, //
            0.1, 0.8, 0.1, //
            0.1, 0.1, 0.8, // labelled 0
            0.1, 0.2, 0.7, //
        ];
        (probs, vec![0, 0, 1, 1, 0, 2])
    }

    #[test]
    fn thresholds_are_each_class_mean_self_confidence() {
        let (p, l) = example();
        let t = thresholds(&p, &l, 3);
        assert!((t[0] - 0.5).abs() < 1e-6 && (t[1] - 0.75).abs() < 1e-6 && (t[2] - 0.7).abs() < 1e-6, "{t:?}");
        assert_eq!(thresholds(&p, &[0, 0, 0, 0, 0, 0], 3)[1], 1.0, "a class without images takes nothing");
    }

    #[test]
    fn the_confident_joint_counts_images_by_given_and_confident_class() {
        let (p, l) = example();
        let c = confident_classes(&p, &thresholds(&p, &l, 3));
        // Image 2 (0.7 of class 1) is below class 1's threshold 0.75: confidently nothing.
        assert_eq!(c, vec![Some(0), Some(0), None, Some(1), Some(2), Some(2)]);
        assert_eq!(confident_joint(&l, &c, 3), vec![vec![2, 0, 1], vec![0, 1, 0], vec![0, 0, 1]]);
    }

    #[test]
    fn a_confidently_other_image_is_the_issue_ranked_by_self_confidence_or_margin() {
        let (p, l) = example();
        let issues = label_issues(&p, &l, 3, RankBy::SelfConfidence);
        assert_eq!(issues.len(), 1);
        assert_eq!((issues[0].index, issues[0].suggested), (4, 2));
        assert!((issues[0].score - 0.9).abs() < 1e-6);
        let margin = label_issues(&p, &l, 3, RankBy::NormalizedMargin);
        assert!((margin[0].score - 0.85).abs() < 1e-6, "(1 − (0.1 − 0.8)) / 2");
        assert!(label_issues(&p, &[0, 0, 1, 1, 2, 2], 3, RankBy::SelfConfidence).is_empty(), "clean labels");
    }

    #[test]
    fn as_many_images_as_the_joint_has_off_its_diagonal_are_flagged_lowest_self_confidence_first() {
        // Labelled 0: A, B, C; 1: D, E; 2: F, G. Thresholds 0.35, 0.875, 0.85: B is confidently
        // 1, the only image off the joint's diagonal, so one image is flagged: the one whose
        // label gets the least probability, C (0.05, torn between 1 and 2), not B (0.1).
        let probs = vec![
            0.9, 0.05, 0.05, 0.1, 0.9, 0.0, 0.05, 0.5, 0.45, 0.05, 0.9, 0.05, 0.1, 0.85, 0.05, 0.1, 0.1, 0.8, 0.05,
            0.05, 0.9,
        ];
        let labels = [0, 0, 0, 1, 1, 2, 2];
        let joint = confident_joint(&labels, &confident_classes(&probs, &thresholds(&probs, &labels, 3)), 3);
        assert_eq!(joint, vec![vec![1, 1, 0], vec![0, 1, 0], vec![0, 0, 1]]);
        let issues = label_issues(&probs, &labels, 3, RankBy::SelfConfidence);
        let found: Vec<(usize, usize)> = issues.iter().map(|i| (i.index, i.suggested)).collect();
        assert_eq!(found, vec![(2, 1)], "C, suggested its most probable other class");
    }
}
