//! Class imbalance (`--balance`): weight each class's loss by the inverse of its frequency
//! (Keras' `class_weight="balanced"`, scikit-learn's formula n / (k · n_c)), or draw each
//! epoch's training images with probabilities that make every class equally likely
//! (fastai's `WeightedDL`, PyTorch's `WeightedRandomSampler` with replacement).

use crate::util::rng::Rng;

/// Images per class among `labels`.
fn counts(labels: &[usize], classes: usize) -> Vec<usize> {
    let mut c = vec![0; classes.max(labels.iter().max().map_or(0, |m| m + 1))];
    for &l in labels {
        c[l] += 1;
    }
    c
}

/// The loss weight of each class: n / (classes · n_c) (a class with no image gets 0).
pub(crate) fn class_weights(labels: &[usize], classes: usize) -> Vec<f32> {
    let c = counts(labels, classes);
    c.iter()
        .take(classes)
        .map(|&n_c| if n_c == 0 { 0.0 } else { labels.len() as f32 / (classes as f32 * n_c as f32) })
        .collect()
}

/// Multi-label: each class's loss weight from its positives, n / (classes · n_c) as for
/// single-label, with n the positives of every class (`targets`: 0/1 rows of `classes`).
pub(crate) fn label_weights(targets: &[f32], classes: usize) -> Vec<f32> {
    let mut c = vec![0usize; classes];
    for row in targets.chunks_exact(classes.max(1)) {
        row.iter().enumerate().filter(|(_, t)| **t == 1.0).for_each(|(k, _)| c[k] += 1);
    }
    let n: usize = c.iter().sum();
    c.iter().map(|&n_c| if n_c == 0 { 0.0 } else { n as f32 / (classes as f32 * n_c as f32) }).collect()
}

/// An epoch's order of `labels.len()` draws with replacement, each class equally likely and
/// each image equally likely within its class.
pub(crate) fn oversampled_order(labels: &[usize], classes: usize, rng: &mut Rng) -> Vec<usize> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes.max(labels.iter().max().map_or(0, |m| m + 1))];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l].push(i);
    }
    let present: Vec<&Vec<usize>> = by_class.iter().filter(|v| !v.is_empty()).collect();
    (0..labels.len())
        .map(|_| {
            let class = present[rng.below(present.len())];
            class[rng.below(class.len())]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_classes_get_larger_weights_and_balanced_data_weights_of_one() {
        assert_eq!(class_weights(&[0, 0, 0, 1], 2), vec![4.0 / 6.0, 2.0]);
        assert_eq!(class_weights(&[0, 1, 2], 3), vec![1.0, 1.0, 1.0]);
    }

    #[test]
    fn oversampling_draws_a_rare_class_about_as_often_as_a_common_one() {
        let labels: Vec<usize> = (0..1000).map(|i| usize::from(i % 10 == 0)).collect();
        let order = oversampled_order(&labels, 2, &mut Rng::new(3));
        let rare = order.iter().filter(|&&i| labels[i] == 1).count();
        assert_eq!(order.len(), 1000);
        assert!((400..600).contains(&rare), "rare class drawn {rare} times of 1000");
    }
}
