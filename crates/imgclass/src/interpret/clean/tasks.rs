//! Label errors beyond one class per image, from out-of-sample answers.
//!
//! - Multi-label: confident learning one-vs-rest, as cleanlab's multi-label
//!   `find_label_issues` does. Each class is a two-class problem — the image has it or not,
//!   with probabilities 1 − p and p — whose label issues are found as for one label
//!   ([`confident::label_issues`]); an image is suspect when any of its classes is, its
//!   suggestion flips those classes, and its score is that of its most suspect class.
//! - Numbers (regression, count): the largest out-of-sample errors, as cleanlab's regression
//!   module ranks images by their residual. An image is suspect when its error for some target
//!   lies beyond 3.5 robust standard deviations of all the errors (Iglewicz and Hoaglin's
//!   modified z-score, 0.6745·(r − median) / MAD); its score is z / (z + 3.5), ½ at that
//!   fence, and its suggestion the prediction (rounded for a count).

use super::confident::{self, RankBy};
use crate::data::targets::TaskKind;

/// Iglewicz and Hoaglin's cut-off for the modified z-score.
pub(crate) const RESIDUAL_FENCE: f32 = 3.5;

/// One suspect image of a task beyond one label.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskIssue {
    /// The image (an index into the rows given).
    pub index: usize,
    /// Its suggested targets: a 0/1 per class, or the numbers.
    pub suggested: Vec<f32>,
    /// How suspicious, in [0, 1].
    pub score: f32,
}

/// The label issues of multi-label rows: `probs` and 0/1 `targets` (`k` per image), most
/// suspicious first.
pub(crate) fn multi_label_issues(probs: &[f32], targets: &[f32], k: usize, rank: RankBy) -> Vec<TaskIssue> {
    let n = targets.len() / k.max(1);
    let mut flagged: Vec<Option<TaskIssue>> = vec![None; n];
    for c in 0..k {
        let binary: Vec<f32> = (0..n).flat_map(|i| [1.0 - probs[i * k + c], probs[i * k + c]]).collect();
        let labels: Vec<usize> = (0..n).map(|i| usize::from(targets[i * k + c] == 1.0)).collect();
        for issue in confident::label_issues(&binary, &labels, 2, rank) {
            let i = issue.index;
            let entry = flagged[i].get_or_insert_with(|| TaskIssue {
                index: i,
                suggested: targets[i * k..(i + 1) * k].to_vec(),
                score: 0.0,
            });
            entry.suggested[c] = 1.0 - targets[i * k + c];
            entry.score = entry.score.max(issue.score);
        }
    }
    sorted(flagged.into_iter().flatten().collect())
}

/// The images whose out-of-sample error for some target is beyond [`RESIDUAL_FENCE`] robust
/// standard deviations: `preds` and `targets` hold `k` numbers per image; `counts` rounds the
/// suggestion. Most suspicious first.
pub(crate) fn residual_issues(preds: &[f32], targets: &[f32], k: usize, counts: bool) -> Vec<TaskIssue> {
    let n = targets.len() / k.max(1);
    let mut z = vec![0f32; n];
    for c in 0..k {
        let residuals: Vec<f32> = (0..n).map(|i| preds[i * k + c] - targets[i * k + c]).collect();
        let center = median(&residuals);
        let deviations: Vec<f32> = residuals.iter().map(|r| (r - center).abs()).collect();
        // 1.4826·MAD estimates a normal spread; when over half the errors are equal, the
        // mean absolute deviation (·√(π/2)) stands in.
        let mut spread = median(&deviations) / 0.6745;
        if spread <= f32::EPSILON {
            spread = deviations.iter().sum::<f32>() / n.max(1) as f32 * 1.2533;
        }
        if spread <= f32::EPSILON {
            continue;
        }
        for (zi, d) in z.iter_mut().zip(&deviations) {
            *zi = zi.max(d / spread);
        }
    }
    let issues = (0..n).filter(|&i| z[i] > RESIDUAL_FENCE).map(|i| {
        let row = &preds[i * k..(i + 1) * k];
        let suggested = if counts { row.iter().map(|v| v.max(0.0).round()).collect() } else { row.to_vec() };
        TaskIssue { index: i, suggested, score: z[i] / (z[i] + RESIDUAL_FENCE) }
    });
    sorted(issues.collect())
}

fn sorted(mut issues: Vec<TaskIssue>) -> Vec<TaskIssue> {
    issues.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    issues
}

/// The median of `values` (0 for none).
fn median(values: &[f32]) -> f32 {
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A number as `clean.csv` writes it: a whole number plainly, else with four significant
/// digits (at least one decimal).
pub(crate) fn number_text(v: f32) -> String {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(1, 6) as usize;
    format!("{v:.digits$}")
}

/// An image's targets as `clean.csv` writes them: the classes that are 1 joined by `delim`
/// (empty for none), one number, or `name value` pairs joined by `, ` for several targets.
pub(crate) fn targets_text(multi_label: bool, names: &[String], row: &[f32], delim: char) -> String {
    if multi_label {
        let on = row.iter().zip(names).filter(|(v, _)| **v == 1.0).map(|(_, n)| n.as_str());
        return on.collect::<Vec<_>>().join(&delim.to_string());
    }
    match row {
        [v] => number_text(*v),
        _ => row.iter().zip(names).map(|(v, n)| format!("{n} {}", number_text(*v))).collect::<Vec<_>>().join(", "),
    }
}

/// An image's given target as `clean.csv` writes it: its class (single-label, `label`), else
/// its `values` as [`targets_text`] writes them.
pub(crate) fn label_text(task: TaskKind, names: &[String], label: usize, values: &[f32], delim: char) -> String {
    match task {
        TaskKind::SingleLabel => names[label].clone(),
        task => targets_text(task == TaskKind::MultiLabel, names, values, delim),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_the_other_images_contradict_is_flipped_and_the_rest_of_the_image_kept() {
        // Two classes, eight images: class 0 is on for images 0–3, class 1 for 4–7; image 2
        // lacks class 0 in its labels but the model is sure of it; image 5 also has class 0.
        let mut probs = Vec::new();
        let mut targets = Vec::new();
        for i in 0..8 {
            let (p0, p1) = if i < 4 { (0.9, 0.1) } else { (0.1, 0.9) };
            probs.extend([p0, p1]);
            let t0 = if i < 4 && i != 2 { 1.0 } else { 0.0 };
            targets.extend([t0, if i >= 4 { 1.0 } else { 0.0 }]);
        }
        targets[5 * 2] = 1.0;
        let issues = multi_label_issues(&probs, &targets, 2, RankBy::SelfConfidence);
        let found: Vec<(usize, Vec<f32>)> = issues.iter().map(|i| (i.index, i.suggested.clone())).collect();
        assert_eq!(found, vec![(2, vec![1.0, 0.0]), (5, vec![0.0, 1.0])]);
        assert!((issues[0].score - 0.9).abs() < 1e-6, "1 − p(given) = 1 − 0.1");
        let clean: Vec<f32> = probs.iter().map(|p| if *p > 0.5 { 1.0 } else { 0.0 }).collect();
        assert!(multi_label_issues(&probs, &clean, 2, RankBy::SelfConfidence).is_empty());
    }

    #[test]
    fn only_an_error_far_beyond_the_others_is_a_suspect_and_a_count_is_suggested_rounded() {
        let targets: Vec<f32> = (0..20).map(|i| i as f32).collect();
        let mut preds: Vec<f32> = targets.iter().enumerate().map(|(i, t)| t + [0.3, -0.2, 0.1, -0.4][i % 4]).collect();
        preds[7] = 19.2; // 12.2 off, where the others are within 0.4
        let issues = residual_issues(&preds, &targets, 1, true);
        assert_eq!(issues.len(), 1);
        assert_eq!((issues[0].index, issues[0].suggested.clone()), (7, vec![19.0]));
        assert!(issues[0].score > 0.9 && issues[0].score < 1.0, "{}", issues[0].score);
        assert_eq!(residual_issues(&preds, &targets, 1, false)[0].suggested, vec![19.2]);
        assert!(residual_issues(&targets, &targets, 1, false).is_empty(), "no error, no suspect");
    }

    #[test]
    fn several_targets_are_suspect_when_any_one_is_off() {
        // Two targets; image 3's second target is far off, its first is right.
        let targets: Vec<f32> = (0..12).flat_map(|i| [i as f32, 100.0 + i as f32]).collect();
        let mut preds: Vec<f32> = targets.iter().enumerate().map(|(j, t)| t + [0.5, -0.5, 0.2][j % 3]).collect();
        preds[3 * 2 + 1] += 40.0;
        let issues = residual_issues(&preds, &targets, 2, false);
        assert_eq!(issues.iter().map(|i| i.index).collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn targets_are_written_as_apply_reads_them() {
        let names = ["a b".to_string(), "c".into(), "d".into()];
        assert_eq!(targets_text(true, &names, &[1.0, 0.0, 1.0], ';'), "a b;d");
        assert_eq!(targets_text(true, &names, &[0.0, 0.0, 0.0], ';'), "");
        assert_eq!(targets_text(false, &names[..1], &[3.0], ' '), "3");
        assert_eq!(targets_text(false, &names[1..], &[12.345678, 0.0123456], ' '), "c 12.35, d 0.01235");
    }
}
