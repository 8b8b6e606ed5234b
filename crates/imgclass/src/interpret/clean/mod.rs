//! Finding label errors in a dataset (`imgclass clean`): every image is scored by a model that
//! did not train on it — out-of-fold predictions of a K-fold cross-validation with the same
//! recipe as `train` — and confident learning ([`confident`]) picks the images whose label the
//! predictions contradict. With a trained model instead (`--model`) it is faster, but the
//! model's own training images look cleaner than they are (it has learnt their labels).

mod apply;
pub mod confident;
mod duplicates;

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

pub use apply::{Applied, LabelStore, apply, undo};
pub use confident::RankBy;

use crate::bundle::Bundle;
use crate::config::TrainConfig;
use crate::data::{DataSplits, Source, Split};
use crate::error::{Error, Result};
use crate::infer::log_probs;
use crate::metrics::{argmax, csv_field};
use crate::plot::{Tile, captioned_grid};
use crate::train::{Learner, Silent};
use crate::util::fs::{atomic_write, write_json};
use crate::util::rng::Rng;

/// Predicted class probabilities of a source's images, each from a model that did not see it
/// (out of fold) or from one given model.
#[derive(Debug, Clone)]
pub struct Scored {
    /// The source's class names.
    pub classes: Vec<String>,
    /// Per scored image: its index in the source.
    pub indices: Vec<usize>,
    /// Per scored image: its name (path, or `file#index`).
    pub names: Vec<String>,
    /// Per scored image: its given label.
    pub labels: Vec<usize>,
    /// `indices.len() × classes.len()` probabilities, row-major.
    pub probs: Vec<f32>,
    /// How the probabilities were made, for the report.
    pub method: String,
}

/// The fold of each image of `source`: stratified (each class dealt round-robin over the
/// folds after a seeded shuffle), so every fold has every class in proportion.
pub(crate) fn folds(source: &Source, k: usize, seed: u64) -> Vec<usize> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); source.classes().len()];
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

/// Out-of-fold probabilities: for each of `k` folds, a model trained with `config` on the
/// other folds predicts the fold's images (with its last weights: choosing an epoch on the
/// fold would favour its labels). `progress(fold, k)` is called as each fold starts.
pub fn out_of_fold(
    source: &Source,
    config: &TrainConfig,
    k: usize,
    device: &burn::prelude::Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Scored> {
    if k < 2 {
        return Err(Error::config("folds", "cross-validation needs at least 2 folds"));
    }
    config.validate()?;
    source.require_two_classes()?;
    let fold = folds(source, k, config.seed);
    let size = config.input_size(source);
    let by_name = source.indices_by_name();
    let mut rows: Vec<(usize, Vec<f32>)> = Vec::with_capacity(source.len());
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
        let valid = learner.data().valid();
        let lp = log_probs(&learner.last_model(), valid, learner.data().preprocess(), device);
        for (row, &i) in lp.values.chunks_exact(lp.dim).zip(&lp.indices) {
            rows.push((by_name[&valid.names()[i]], row.iter().map(|v| v.exp()).collect()));
        }
    }
    rows.sort_by_key(|r| r.0);
    Ok(scored(source, rows, format!("{k}-fold out-of-fold predictions, {} epochs a fold", config.fit.epochs)))
}

/// Probabilities from a trained model for every image of `source` (its labels by name). Its
/// training images get the probabilities of a model that learnt their labels: label errors
/// among them are harder to see.
pub fn model_scores(bundle: &Bundle, source: &Source) -> Result<Scored> {
    let all: Vec<usize> = (0..source.len()).collect();
    let labelled = bundle.load_labelled(source, &all, true, &|_, _| {})?;
    let lp = log_probs(bundle.net(), &labelled.data, bundle.meta().preprocess(), bundle.device());
    let by_name = source.indices_by_name();
    let rows = lp
        .values
        .chunks_exact(lp.dim)
        .zip(&lp.indices)
        .map(|(row, &i)| (by_name[&labelled.data.names()[i]], row.iter().map(|v| v.exp()).collect()))
        .collect();
    let method = if bundle.check_not_training_data(source).is_err() {
        "predictions of one model trained on these IDX files (it has learnt their labels)".to_string()
    } else {
        let overlap = labelled.training_overlap;
        format!("predictions of one model ({overlap} of the images were its training or validation images)")
    };
    let mut s = scored(source, rows, method);
    // The model's classes, not the source's: labels were mapped onto them.
    s.classes = bundle.meta().labels().to_vec();
    s.labels = lp.indices.iter().map(|&i| labelled.data.labels()[i]).collect();
    Ok(s)
}

fn scored(source: &Source, rows: Vec<(usize, Vec<f32>)>, method: String) -> Scored {
    Scored {
        classes: source.classes().to_vec(),
        names: rows.iter().map(|r| source.name(r.0)).collect(),
        labels: rows.iter().map(|r| source.items[r.0].label).collect(),
        indices: rows.iter().map(|r| r.0).collect(),
        probs: rows.into_iter().flat_map(|r| r.1).collect(),
        method,
    }
}

/// What is suspected of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Issue {
    /// Its label is probably wrong.
    LabelError,
    /// It is (nearly) the same picture as another image of the dataset.
    Duplicate,
}

/// One suspect image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suspect {
    /// The image.
    pub file: String,
    /// Its given label.
    pub label: String,
    /// The label the predictions suggest.
    pub suggested: String,
    /// How suspicious, in [0, 1], higher first.
    pub score: f32,
    /// What is suspected.
    pub issue: Issue,
    /// For a duplicate, the image it repeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<String>,
    /// Its index in the source.
    #[serde(skip)]
    pub index: usize,
}

impl Scored {
    /// The suspected label errors, most suspicious first.
    pub fn label_errors(&self, rank: RankBy) -> Vec<Suspect> {
        confident::label_issues(&self.probs, &self.labels, self.classes.len(), rank)
            .into_iter()
            .map(|issue| Suspect {
                file: self.names[issue.index].clone(),
                label: self.classes[self.labels[issue.index]].clone(),
                suggested: self.classes[issue.suggested].clone(),
                score: issue.score,
                issue: Issue::LabelError,
                other: None,
                index: self.indices[issue.index],
            })
            .collect()
    }

    /// The confident joint: image counts by (given label, class it confidently belongs to);
    /// its off-diagonal cells estimate how many images of each class carry another's label.
    pub fn confident_joint(&self) -> Vec<Vec<usize>> {
        let k = self.classes.len();
        let t = confident::thresholds(&self.probs, &self.labels, k);
        confident::confident_joint(&self.labels, &confident::confident_classes(&self.probs, &t), k)
    }

    /// The fraction of images whose most probable class is their label.
    pub fn accuracy(&self) -> f64 {
        let k = self.classes.len();
        let right = self.probs.chunks_exact(k).zip(&self.labels).filter(|(row, l)| argmax(row) == **l);
        right.count() as f64 / self.labels.len().max(1) as f64
    }
}

/// Near-duplicate pairs of `source` by perceptual hash (at most `max_bits` of 256 apart, and
/// their shrunk pixels within a mean difference of 4 of 255):
/// one suspect per pair, the later image, its "suggested" label the earlier one's (a pair
/// whose labels differ contradicts itself), most alike first.
pub fn near_duplicates(source: &Source, max_bits: u32) -> Result<Vec<Suspect>> {
    let duplicates::Hashed { indices, hashes, pixels } = duplicates::hashes(source)?;
    let classes = source.classes();
    let label = |i: usize| classes[source.items[i].label].clone();
    let pairs = duplicates::close_pairs(&hashes, max_bits);
    Ok(pairs
        .into_iter()
        .filter(|&(a, b, _)| duplicates::same_pixels(&pixels[a], &pixels[b]))
        .map(|(a, b, d)| {
            let (a, b) = (indices[a], indices[b]);
            Suspect {
                file: source.name(b),
                label: label(b),
                suggested: label(a),
                score: 1.0 - d as f32 / 256.0,
                issue: Issue::Duplicate,
                other: Some(source.name(a)),
                index: b,
            }
        })
        .collect())
}

/// Writes `clean.csv`: `file,label,suggested,score,issue,other,action`, every action `keep` for the
/// user to change to `relabel:CLASS` or `delete` before [`apply`]; and beside it `clean.json`,
/// where the labels live (`store`, `None` when apply cannot edit them) and the `classes`.
pub fn save_clean_csv(suspects: &[Suspect], store: Option<LabelStore>, classes: &[String], path: &Path) -> Result<()> {
    let mut out = String::from("file,label,suggested,score,issue,other,action\n");
    for s in suspects {
        let issue = serde_json::to_value(s.issue).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let (file, label, suggested) = (csv_field(&s.file), csv_field(&s.label), csv_field(&s.suggested));
        let other = csv_field(s.other.as_deref().unwrap_or(""));
        out += &format!("{file},{label},{suggested},{:.4},{issue},{other},keep\n", s.score);
    }
    atomic_write(path, out.as_bytes())?;
    write_json(&apply::sidecar_path(path), &apply::Sidecar { store, classes: classes.to_vec() })
}

/// Draws the first `n` suspects of `source` (prepared with `pre`) in a grid, each captioned
/// with its given label, the suggested one and its score, and writes it as PNG to `path`.
pub fn save_suspects_picture(
    source: &Source,
    suspects: &[Suspect],
    pre: &crate::transforms::Preprocess,
    n: usize,
    path: &Path,
) -> Result<()> {
    let shown = &suspects[..n.min(suspects.len())];
    let indices: Vec<usize> = shown.iter().map(|s| s.index).collect();
    let loaded = source.load(&indices, pre, true, &|_, _| {});
    let by_name: HashMap<&str, usize> = loaded.data.names().iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let mut tiles = Vec::new();
    for s in shown {
        let Some(&i) = by_name.get(s.file.as_str()) else { continue };
        let captions = vec![
            (s.label.clone(), [180, 0, 0]),
            (s.suggested.clone(), [0, 100, 0]),
            (format!("{:.3}", s.score), [80, 80, 80]),
        ];
        tiles.push(Tile { bytes: loaded.data.image(i)?.into_owned(), captions, heat: None });
    }
    let title = "given (red) / suggested (green) / score";
    captioned_grid(title, (pre.height(), pre.width()), 112, &tiles).save_png(path)
}
