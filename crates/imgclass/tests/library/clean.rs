//! Finding label errors: on data with a known set of flipped labels, the out-of-fold
//! predictions and confident learning must flag the flipped images and few others.

use imgclass::data::Source;
use imgclass::data::idx::IdxSplit;
use imgclass::interpret::clean::{Issue, RankBy, out_of_fold};
use imgclass::models::{Arch, MlpConfig};

use super::config;

/// `n` 4×4 images, top half bright (class 0) or bottom half (1), with every 20th label flipped.
fn noisy(n: usize) -> (Source, Vec<usize>) {
    let (pixels, labels, flipped) = noisy_part(n);
    let part = IdxSplit::new("t10k", pixels, labels, 4, 4).unwrap();
    (Source::from_idx("noisy".into(), vec![part], Some(vec!["top".into(), "bottom".into()])), flipped)
}

fn noisy_part(n: usize) -> (Vec<u8>, Vec<u8>, Vec<usize>) {
    let (mut pixels, mut labels, mut flipped) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let class = i % 2;
        for p in 0..16 {
            let bright = (p < 8) == (class == 0);
            pixels.push(if bright { 180 + (i * 7 % 70) as u8 } else { (i * 13 % 60) as u8 });
        }
        let flip = i % 20 == 7;
        labels.push((class ^ usize::from(flip)) as u8);
        if flip {
            flipped.push(i);
        }
    }
    (pixels, labels, flipped)
}

#[test]
fn out_of_fold_confident_learning_flags_the_flipped_labels() {
    let (source, flipped) = noisy(400);
    let config = config(|c| {
        c.model.arch = Arch::Mlp(MlpConfig::new().with_hidden(vec![16]));
        (c.fit.epochs, c.fit.batch_size, c.optimizer.lr) = (4, 16, 1e-2);
    });
    let mut folds_seen = Vec::new();
    let scored =
        out_of_fold(&source, &config, 4, &imgclass::default_device(), &mut |f, k| folds_seen.push((f, k))).unwrap();
    assert_eq!(folds_seen, [(0, 4), (1, 4), (2, 4), (3, 4)]);
    assert_eq!(scored.indices, (0..400).collect::<Vec<_>>(), "every image scored once, in order");
    let suspects = scored.label_errors(RankBy::SelfConfidence);
    let top: Vec<usize> = suspects.iter().take(flipped.len()).map(|s| s.index).collect();
    let found = top.iter().filter(|i| flipped.contains(i)).count();
    eprintln!(
        "{} suspects; {found} of the {} flipped labels among the top {}",
        suspects.len(),
        flipped.len(),
        top.len()
    );
    assert!(found * 10 >= flipped.len() * 8, "recall at N below 80%: {found} of {}", flipped.len());
    assert!(
        suspects.len() <= flipped.len() * 3 / 2,
        "{} suspects for {} flipped labels",
        suspects.len(),
        flipped.len()
    );
    assert!(suspects.windows(2).all(|w| w[0].score >= w[1].score), "most suspicious first");
    let s = suspects.iter().find(|s| s.index == flipped[0]).unwrap();
    assert_eq!((s.label.as_str(), s.suggested.as_str()), ("top", "bottom"), "image 7 is bottom-bright");
}

#[test]
fn images_unlike_every_class_are_the_outliers() {
    // Four foreign images: checkerboards, unlike both half-bright classes.
    let (mut pixels, mut labels, _) = noisy_part(400);
    for k in 0..4 {
        pixels.extend((0..16).map(|p| if (p / 4 + p % 4 + k) % 2 == 0 { 250 } else { 0 }));
        labels.push((k % 2) as u8);
    }
    let part = IdxSplit::new("t10k", pixels, labels, 4, 4).unwrap();
    let source = Source::from_idx("noisy".into(), vec![part], Some(vec!["top".into(), "bottom".into()]));
    let config = config(|c| {
        c.model.arch = Arch::Mlp(MlpConfig::new().with_hidden(vec![16]));
        (c.fit.epochs, c.fit.batch_size, c.optimizer.lr) = (4, 16, 1e-2);
    });
    let scored = out_of_fold(&source, &config, 4, &imgclass::default_device(), &mut |_, _| {}).unwrap();
    let outliers = scored.outliers();
    let found: Vec<usize> = outliers.iter().map(|s| s.index).collect();
    eprintln!("outliers {found:?}, distances {:?}", outliers.iter().map(|s| s.score).collect::<Vec<_>>());
    assert!((400..404).all(|i| found.contains(&i)), "every checkerboard is an outlier: {found:?}");
    assert!(found.len() <= 8, "few others: {found:?}");
    assert!(outliers.iter().all(|s| s.issue == Issue::Outlier));
}
