//! Seeded, stratified train/valid/test splits.
//!
//! Each class is shuffled on its own with a seeded generator and cut by the percentages, so
//! every split keeps the class balance of the whole (scikit-learn's `stratify=`, fastai's
//! `RandomSplitter` plus stratification). The same seed and items always give the same split.

use serde::{Deserialize, Serialize};

use crate::util::rng::Rng;

/// Which part of the data an item belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Used to fit the weights.
    Train,
    /// Used to choose epochs and checkpoints.
    Valid,
    /// Held out until the end.
    Test,
}

impl Split {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }
}

/// Assigns a split to each item from its label, keeping a fixed `hint` where one is given.
///
/// Items without a hint are split per class: `round(n × test_pct)` to test, `round(n ×
/// valid_pct)` to valid, the rest to train. When every item has a hint the hints are kept,
/// except that a missing valid split is carved out of train with `valid_pct`.
pub(crate) fn assign(
    labels: &[usize],
    hints: &[Option<Split>],
    valid_pct: f64,
    test_pct: f64,
    seed: u64,
) -> Vec<Split> {
    let mut out: Vec<Split> = hints.iter().map(|h| h.unwrap_or(Split::Train)).collect();
    let has_valid_hint = hints.contains(&Some(Split::Valid));
    // Items that may be moved: those with no hint, and train-hinted ones when no valid split exists.
    let movable: Vec<usize> = (0..labels.len())
        .filter(|&i| hints[i].is_none() || (!has_valid_hint && hints[i] == Some(Split::Train)))
        .collect();
    let any_unhinted = hints.iter().any(|h| h.is_none());
    let num_classes = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); num_classes];
    for &i in &movable {
        by_class[labels[i]].push(i);
    }
    let mut rng = Rng::new(seed);
    for members in &mut by_class {
        rng.shuffle(members);
        let n = members.len() as f64;
        // Keep at least one training image in every class that has two or more.
        let keep = usize::from(members.len() >= 2);
        let room = members.len() - keep;
        let n_test = if any_unhinted { ((n * test_pct).round() as usize).min(room) } else { 0 };
        let n_valid = ((n * valid_pct).round() as usize).min(room - n_test);
        for (k, &i) in members.iter().enumerate() {
            out[i] = if k < n_test {
                Split::Test
            } else if k < n_test + n_valid {
                Split::Valid
            } else {
                Split::Train
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<usize> {
        (0..1000).map(|i| if i < 900 { 0 } else { 1 }).collect()
    }

    #[test]
    fn an_eighty_twenty_split_keeps_class_proportions() {
        let l = labels();
        let s = assign(&l, &vec![None; l.len()], 0.2, 0.0, 7);
        let valid_of = |c| (0..l.len()).filter(|&i| l[i] == c && s[i] == Split::Valid).count();
        assert_eq!((valid_of(0), valid_of(1)), (180, 20));
    }

    #[test]
    fn the_same_seed_gives_the_same_split_and_another_seed_does_not() {
        let l = labels();
        let h = vec![None; l.len()];
        assert_eq!(assign(&l, &h, 0.2, 0.1, 1), assign(&l, &h, 0.2, 0.1, 1));
        assert_ne!(assign(&l, &h, 0.2, 0.1, 1), assign(&l, &h, 0.2, 0.1, 2));
    }

    #[test]
    fn seventy_fifteen_fifteen_gives_three_splits() {
        let l = vec![0usize; 100];
        let s = assign(&l, &[None; 100], 0.15, 0.15, 0);
        let count = |x| s.iter().filter(|&&v| v == x).count();
        assert_eq!((count(Split::Train), count(Split::Valid), count(Split::Test)), (70, 15, 15));
    }

    #[test]
    fn every_class_with_two_images_keeps_one_for_training() {
        let s = assign(&[0, 0, 1, 1, 1], &[None; 5], 0.5, 0.4, 0);
        assert_eq!(s.iter().filter(|&&v| v == Split::Train).count(), 2, "{s:?}");
    }

    #[test]
    fn folder_hints_are_kept_and_valid_is_carved_from_train_only_when_missing() {
        let l = vec![0usize; 10];
        let mut h = vec![Some(Split::Train); 8];
        h.extend([Some(Split::Test), Some(Split::Test)]);
        let s = assign(&l, &h, 0.25, 0.5, 0);
        assert_eq!(s.iter().filter(|&&v| v == Split::Test).count(), 2, "test_pct ignored when test is given");
        assert_eq!(s.iter().filter(|&&v| v == Split::Valid).count(), 2);
        h[0] = Some(Split::Valid);
        let s = assign(&l, &h, 0.25, 0.0, 0);
        assert_eq!(s.iter().filter(|&&v| v == Split::Valid).count(), 1, "given valid folder is kept as is");
    }
}
