//! Confident learning (Northcutt, Jiang and Chuang, "Confident Learning: Estimating
//! Uncertainty in Dataset Labels", JAIR 2021 — the method behind cleanlab): finds the images
//! whose given label is probably wrong from out-of-sample predicted probabilities.
//!
//! Each class `j` gets a threshold `t_j`, the average probability of `j` over the images
//! labelled `j` (the model's self-confidence on that class). An image "confidently belongs" to
//! the classes whose probability reaches their threshold, and among those to the most probable
//! one; counting images by (given label, confident class) gives the confident joint. The images
//! off its diagonal — confidently another class than their label — are the label issues,
//! ranked by how little probability the model gives their label (self-confidence) or by the
//! normalized margin between their label and the best other class.

use serde::{Deserialize, Serialize};

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

/// The label issues of rows `probs` (`classes` probabilities per image, out of sample) with
/// given `labels`: the images off the confident joint's diagonal, most suspicious first.
pub(crate) fn label_issues(probs: &[f32], labels: &[usize], classes: usize, rank: RankBy) -> Vec<LabelIssue> {
    let t = thresholds(probs, labels, classes);
    let confident = confident_classes(probs, &t);
    let mut issues: Vec<LabelIssue> = probs
        .chunks_exact(classes)
        .zip(labels)
        .zip(&confident)
        .enumerate()
        .filter_map(|(index, ((row, &l), c))| {
            let suggested = c.filter(|&c| c != l)?;
            let best_other = (0..classes).filter(|&j| j != l).map(|j| row[j]).fold(0.0f32, f32::max);
            let score = match rank {
                RankBy::SelfConfidence => 1.0 - row[l],
                RankBy::NormalizedMargin => (1.0 - (row[l] - best_other)) / 2.0,
            };
            Some(LabelIssue { index, suggested, score })
        })
        .collect();
    issues.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
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
    fn the_off_diagonal_images_are_the_issues_ranked_by_self_confidence_or_margin() {
        let (p, l) = example();
        let issues = label_issues(&p, &l, 3, RankBy::SelfConfidence);
        assert_eq!(issues.len(), 1);
        assert_eq!((issues[0].index, issues[0].suggested), (4, 2));
        assert!((issues[0].score - 0.9).abs() < 1e-6);
        let margin = label_issues(&p, &l, 3, RankBy::NormalizedMargin);
        assert!((margin[0].score - 0.85).abs() < 1e-6, "(1 − (0.1 − 0.8)) / 2");
        assert!(label_issues(&p, &[0, 0, 1, 1, 2, 2], 3, RankBy::SelfConfidence).is_empty(), "clean labels");
    }
}
