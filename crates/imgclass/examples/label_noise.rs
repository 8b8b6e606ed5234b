//! How well `imgclass clean` finds wrong labels, for `bench/label_noise.sh`: flips a known
//! fraction of the bundled Fashion-MNIST sample's labels (each to another class, seeded), then
//! ranks the images two ways and reports precision and recall among the top N (N = the number
//! flipped; the two are then equal):
//! - confident learning on 5-fold out-of-fold predictions (what `imgclass clean` does);
//! - the loss of one model trained on all the images (fastai's top losses on the training set).
//!
//! It also adds 20 foreign images (shapes such as a ring or a cross, colour-inverted garments,
//! noise), each with a random label, and reports how many of them `clean` calls outliers and
//! how many other images it calls outliers too.
//!
//! usage: `label_noise [percent flipped] [epochs] [folds]`; prints one JSON line.

#[path = "support/alloc.rs"]
mod alloc;

use std::collections::HashSet;
use std::time::Instant;

use imgclass::config::TrainConfig;
use imgclass::data::{DataSplits, Source, SplitOptions, bundled};
use imgclass::infer::log_probs;
use imgclass::interpret::clean::{RankBy, out_of_fold};
use imgclass::train::{Learner, Silent};

/// SplitMix64, seeded: which labels flip and to what.
fn draw(state: &mut u64, n: usize) -> usize {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) % n as u64) as usize
}

/// Appends 20 images unlike any garment to `part` (28×28), each with a random label: 8 white
/// shapes on black (ring, disc, cross, bars, a diagonal, a frame, a dot grid), 6 garments with
/// inverted colours, 6 of uniform noise. Returns their indices.
fn add_foreign(pixels: &mut Vec<u8>, labels: &mut Vec<u8>, state: &mut u64) -> Vec<usize> {
    let n = labels.len();
    let shapes: [fn(i32, i32) -> bool; 8] = [
        |x, y| ((x - 14).pow(2) + (y - 14).pow(2) - 81).abs() < 20,
        |x, y| (x - 14).pow(2) + (y - 14).pow(2) < 40,
        |x, y| (x - 14).abs() < 2 || (y - 14).abs() < 2,
        |x, _| x % 7 < 2,
        |x, y| (x - y).abs() < 2,
        |x, y| x < 3 || y < 3 || x > 24 || y > 24,
        |x, y| x % 6 == 3 && y % 6 == 3,
        |_, y| y % 9 < 3,
    ];
    for shape in shapes {
        pixels.extend((0..28 * 28).map(|p| if shape(p % 28, p / 28) { 255 } else { 0 }));
    }
    for k in 0..6 {
        let garment = pixels[k * 997 * 784..(k * 997 + 1) * 784].to_vec();
        pixels.extend(garment.iter().map(|v| 255 - v));
    }
    for _ in 0..6 {
        pixels.extend((0..28 * 28).map(|_| draw(state, 256) as u8));
    }
    labels.extend((0..20).map(|_| draw(state, 10) as u8));
    (n..n + 20).collect()
}

fn main() -> Result<(), imgclass::Error> {
    let arg = |i: usize, default: f64| std::env::args().nth(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    let (percent, epochs, folds) = (arg(1, 5.0), arg(2, 3.0) as usize, arg(3, 5.0) as usize);
    alloc::keep_freed_memory();
    let device = imgclass::default_device();
    let (mut pixels, mut labels) = bundled::fashion_mnist_t10k()?.into_parts();
    let n = labels.len();
    let mut state = 7u64;
    let mut flipped = HashSet::new();
    while flipped.len() < (n as f64 * percent / 100.0).round() as usize {
        flipped.insert(draw(&mut state, n));
    }
    for &i in &flipped {
        labels[i] = ((labels[i] as usize + 1 + draw(&mut state, 9)) % 10) as u8;
    }
    let foreign = add_foreign(&mut pixels, &mut labels, &mut state);
    let part = imgclass::data::idx::IdxSplit::new("t10k", pixels, labels, 28, 28)?;
    let source = Source::from_idx("noisy".into(), vec![part], bundled::classes());
    let mut config = TrainConfig::default();
    config.fit.epochs = epochs;
    let top_n = flipped.len();
    // The foreign images are left out of the label-error rankings.
    let hits = |ranked: &[usize]| ranked.iter().filter(|&&i| i < n).take(top_n).filter(|i| flipped.contains(i)).count();

    let start = Instant::now();
    let scored = out_of_fold(&source, &config, folds, &device, &mut |_, _| {})?;
    let suspects = scored.label_errors(RankBy::SelfConfidence);
    let cl: Vec<usize> = suspects.iter().map(|s| s.index).collect();
    let cl_seconds = start.elapsed().as_secs_f64();
    let outliers: Vec<usize> = scored.outliers().iter().map(|s| s.index).collect();
    let foreign_found = outliers.iter().filter(|i| foreign.contains(i)).count();
    let margin: Vec<usize> = scored.label_errors(RankBy::NormalizedMargin).iter().map(|s| s.index).collect();

    // fastai's top losses: one model on (nearly) all images — a 2% validation split for the
    // learner — then every image ranked by its loss.
    let start = Instant::now();
    let pre = config.preprocess(&source, config.input_size(&source));
    let options = SplitOptions { valid_pct: 0.02, test_pct: 0.0, seed: config.seed };
    let data = DataSplits::load(&source, pre, options, &|_, _| {})?;
    let mut learner = Learner::new(data, config.clone(), device.clone())?;
    learner.fit(&mut Silent)?;
    let all: Vec<usize> = (0..n).collect();
    let images = source.load(&all, learner.data().preprocess(), true, &|_, _| {}).data;
    let lp = log_probs(&learner.model(), &images, learner.data().preprocess(), &device);
    let labels = lp.labels(&images);
    let mut by_loss: Vec<(f32, usize)> =
        lp.values.chunks_exact(lp.dim).zip(&labels).zip(&lp.indices).map(|((row, &l), &i)| (-row[l], i)).collect();
    by_loss.sort_by(|a, b| b.0.total_cmp(&a.0));
    let losses: Vec<usize> = by_loss.iter().map(|x| x.1).collect();
    let loss_seconds = start.elapsed().as_secs_f64();

    let (cl_hits, margin_hits, loss_hits) = (hits(&cl), hits(&margin), hits(&losses));
    let flagged_hits = cl.iter().filter(|i| flipped.contains(i)).count();
    let report = serde_json::json!({
        "images": n, "flipped": top_n, "epochs": epochs, "folds": folds,
        "confident_learning": {"suspects": cl.len(), "hits_in_top_n": cl_hits,
            "precision_at_n": cl_hits as f64 / top_n as f64, "seconds": cl_seconds,
            "suspects_precision": flagged_hits as f64 / cl.len().max(1) as f64,
            "suspects_recall": flagged_hits as f64 / top_n as f64,
            "out_of_fold_accuracy": scored.accuracy()},
        "outliers": {"foreign": foreign.len(), "foreign_flagged": foreign_found,
            "others_flagged": outliers.len() - foreign_found},
        "confident_learning_margin": {"hits_in_top_n": margin_hits, "precision_at_n": margin_hits as f64 / top_n as f64},
        "top_losses": {"hits_in_top_n": loss_hits, "precision_at_n": loss_hits as f64 / top_n as f64,
            "seconds": loss_seconds},
    });
    println!("{report}");
    Ok(())
}
