//! Scoring every image of a source: the answers (class probabilities, label probabilities,
//! numbers) of a model that did not train on it (out of fold) or of a given model, and its
//! distance to the others in that model's feature space.

use burn::prelude::Tensor;

use super::outliers;
use crate::bundle::Bundle;
use crate::config::TrainConfig;
use crate::data::targets::TaskKind;
use crate::data::{DataSplits, ImageData, Source, Split};
use crate::error::{Error, Result};
use crate::infer::map_batches;
use crate::models::Net;
use crate::task::Task;
use crate::train::{Learner, Silent};
use crate::transforms::Preprocess;
use crate::util::rng::Rng;

/// The answers for a source's images, each from a model that did not see it (out of fold) or
/// from one given model, and how far each image lies from the others in that model's feature
/// space.
#[derive(Debug, Clone)]
pub struct Scored {
    /// What the labels ask of a model.
    pub task: TaskKind,
    /// The class names, or (regression, count) the targets' names.
    pub classes: Vec<String>,
    /// Per scored image: its index in the source.
    pub indices: Vec<usize>,
    /// Per scored image: its name (path, or `file#index`).
    pub names: Vec<String>,
    /// Per scored image: its given label (single-label; beyond, only the split's stratum).
    pub labels: Vec<usize>,
    /// Beyond single-label, `indices.len() × classes.len()` given targets, row-major: a 0/1
    /// per class (multi-label) or the numbers; empty for single-label.
    pub targets: Vec<f32>,
    /// `indices.len() × classes.len()` answers, row-major: class probabilities (softmax for
    /// single-label, a sigmoid each for multi-label) or predicted numbers (regression, count).
    pub probs: Vec<f32>,
    /// Multi-label: the probability from which each class is predicted (empty otherwise).
    pub thresholds: Vec<f32>,
    /// Multi-label: what separates an image's labels written in one cell.
    pub delim: char,
    /// Per scored image: the cosine distance from its embedding to its 10th nearest neighbour
    /// among the images the scoring model trained on (see [`outliers`]).
    pub distances: Vec<f32>,
    /// Per scored image: the distance beyond which it is an outlier (the far-out fence of the
    /// distances of the images scored with the same model).
    pub fences: Vec<f32>,
    /// How the probabilities were made, for the report.
    pub method: String,
}

/// One scored image: its index in the source, given targets (beyond single-label), answers,
/// neighbour distance and outlier fence.
struct Row {
    index: usize,
    targets: Vec<f32>,
    probs: Vec<f32>,
    distance: f32,
    fence: f32,
}

/// The fold of each image of `source`: stratified (each class, or beyond single-label each
/// stratum of the split, dealt round-robin over the folds after a seeded shuffle), so every
/// fold has every class in proportion.
pub(crate) fn folds(source: &Source, k: usize, seed: u64) -> Vec<usize> {
    let strata = source.items.iter().map(|i| i.label + 1).max().unwrap_or(0);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); strata];
    for (i, item) in source.items.iter().enumerate() {
        by_class[item.label].push(i);
    }
    let mut fold = vec![0; source.len()];
    let mut rng = Rng::new(seed ^ 0xC1EA_u64);
    let mut next = 0;
    for members in &mut by_class {
        rng.shuffle(members);
        for &i in members.iter() {
            fold[i] = next % k;
            next += 1;
        }
    }
    fold
}

/// Out-of-fold scores: for each of `k` folds, a model trained with `config` on the other
/// folds predicts the fold's images (with its last weights: choosing an epoch on the fold
/// would favour its labels) and measures their distance to the images it trained on.
/// `progress(fold, k)` is called as each fold starts.
pub fn out_of_fold(
    source: &Source,
    config: &TrainConfig,
    k: usize,
    device: &burn::prelude::Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Scored> {
    if k < 2 {
        return Err(Error::config("folds", format!("({k}) must be at least 2 for cross-validation")));
    }
    config.validate()?;
    source.require_trainable()?;
    if k > source.len() {
        let n = source.len();
        let why = "each fold needs an image to score; give at most one fold per image";
        return Err(Error::config("folds", format!("({k}) is more than the {n} images: {why}")));
    }
    let fold = folds(source, k, config.seed);
    let size = config.input_size(source);
    let every: Vec<usize> = (0..source.len()).collect();
    let mut all: Option<ImageData> = None;
    let mut rows: Vec<Row> = Vec::with_capacity(source.len());
    let mut thresholds = Vec::new();
    for f in 0..k {
        progress(f, k);
        let splits: Vec<Split> = fold.iter().map(|&g| if g == f { Split::Valid } else { Split::Train }).collect();
        let pre = config.preprocess(source, size);
        let data = DataSplits::load_assigned(
            source,
            pre,
            config.split_options(),
            &splits,
            config.load_options(size),
            &|_, _| {},
        )?;
        let mut learner = Learner::new(data, config.clone(), device.clone())?;
        learner.fit(&mut Silent)?;
        let pre = learner.data().preprocess();
        let images = all.get_or_insert_with(|| source.load(&every, pre, true, &|_, _| {}).data);
        let seen = Seen::of(&learner.last_model(), images, pre, device, source, learner.task());
        thresholds = learner.task().thresholds().to_vec();
        let held_out: Vec<bool> = seen.index.iter().map(|&i| fold[i] == f).collect();
        let (bank, queries) = (seen.embeddings(|r| !held_out[r]), seen.embeddings(|r| held_out[r]));
        let distances = outliers::kth_neighbour_distance(&bank, &queries, seen.dim, outliers::NEIGHBOURS, None);
        let fence = outliers::outlier_fence(&distances);
        let held = (0..seen.index.len()).filter(|&r| held_out[r]);
        for (r, distance) in held.zip(distances) {
            let (index, probs) = (seen.index[r], seen.probs(r).to_vec());
            rows.push(Row { index, targets: source.items[index].values.clone(), probs, distance, fence });
        }
    }
    rows.sort_by_key(|r| r.index);
    let epochs = config.fit.epochs;
    let how = format!("{k}-fold out-of-fold predictions, {epochs} epoch{} a fold", if epochs == 1 { "" } else { "s" });
    Ok(scored(source, rows, how, thresholds))
}

/// A model's view of decoded images: per readable image, its index in the source, answers
/// and unit-length embedding.
struct Seen {
    /// Per row: the image's index in the source.
    index: Vec<usize>,
    /// Per row: the image's index in the decoded images.
    image: Vec<usize>,
    classes: usize,
    dim: usize,
    /// Per image, `classes` answers then `dim` embedding values.
    values: Vec<f32>,
}

impl Seen {
    /// `net`'s view of `images` (items of `source`), its raw outputs made answers by `task`.
    fn of(
        net: &Net,
        images: &ImageData,
        pre: &Preprocess,
        device: &burn::prelude::Device,
        source: &Source,
        task: &Task,
    ) -> Seen {
        let rows = map_batches(images, pre, device, |x| {
            let e = net.embed(x);
            Tensor::cat(vec![net.classify(e.clone()), e], 1)
        });
        let classes = task.names().len();
        let dim = rows.dim - classes;
        let by_name = source.indices_by_name();
        let index = rows.indices.iter().map(|&i| by_name[&images.names()[i]]).collect();
        let mut values = rows.values;
        for row in values.chunks_exact_mut(rows.dim) {
            let answers = task.answer_row(&row[..classes]);
            row[..classes].copy_from_slice(&answers);
            outliers::normalize(&mut row[classes..], dim);
        }
        Seen { index, image: rows.indices, classes, dim, values }
    }

    fn probs(&self, r: usize) -> &[f32] {
        let w = self.classes + self.dim;
        &self.values[r * w..r * w + self.classes]
    }

    fn embedding(&self, r: usize) -> &[f32] {
        let w = self.classes + self.dim;
        &self.values[r * w + self.classes..(r + 1) * w]
    }

    /// The embeddings of the rows `keep` keeps, one after another.
    fn embeddings(&self, keep: impl Fn(usize) -> bool) -> Vec<f32> {
        (0..self.index.len()).filter(|&r| keep(r)).flat_map(|r| self.embedding(r)).copied().collect()
    }
}

/// Answers from a trained model for every image of `source` (its labels by name), and each
/// image's distance to the others. Its training images get the answers of a model that learnt
/// their labels: label errors among them are harder to see.
pub fn model_scores(bundle: &Bundle, source: &Source) -> Result<Scored> {
    let all: Vec<usize> = (0..source.len()).collect();
    let labelled = bundle.load_labelled(source, &all, true, &|_, _| {})?;
    let images = &labelled.data;
    let task = bundle.meta().task();
    let seen = Seen::of(bundle.net(), images, bundle.meta().preprocess(), bundle.device(), source, &task);
    let embeddings = seen.embeddings(|_| true);
    let itself: Vec<usize> = (0..seen.index.len()).collect();
    let distances =
        outliers::kth_neighbour_distance(&embeddings, &embeddings, seen.dim, outliers::NEIGHBOURS, Some(&itself));
    let fence = outliers::outlier_fence(&distances);
    let rows = (0..seen.index.len())
        .zip(distances)
        .map(|(r, distance)| {
            let targets = if task.is_single_label() { Vec::new() } else { images.targets(seen.image[r]).to_vec() };
            Row { index: seen.index[r], targets, probs: seen.probs(r).to_vec(), distance, fence }
        })
        .collect();
    let method = if bundle.check_not_training_data(source).is_err() {
        "predictions of one model trained on these IDX files (it has learnt their labels)".to_string()
    } else {
        let overlap = labelled.training_overlap;
        format!("predictions of one model ({overlap} of the images were its training or validation images)")
    };
    let mut s = scored(source, rows, method, task.thresholds().to_vec());
    // The model's classes, not the source's: labels and targets were mapped onto them.
    s.classes = bundle.meta().labels().to_vec();
    s.labels = seen.image.iter().map(|&i| images.labels()[i]).collect();
    Ok(s)
}

fn scored(source: &Source, rows: Vec<Row>, method: String, thresholds: Vec<f32>) -> Scored {
    Scored {
        task: source.task(),
        classes: source.classes().to_vec(),
        targets: rows.iter().flat_map(|r| r.targets.iter().copied()).collect(),
        thresholds,
        delim: source.label_delim(),
        names: rows.iter().map(|r| source.name(r.index)).collect(),
        labels: rows.iter().map(|r| source.items[r.index].label).collect(),
        indices: rows.iter().map(|r| r.index).collect(),
        distances: rows.iter().map(|r| r.distance).collect(),
        fences: rows.iter().map(|r| r.fence).collect(),
        probs: rows.into_iter().flat_map(|r| r.probs).collect(),
        method,
    }
}
