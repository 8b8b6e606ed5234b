//! The decoded train/valid/test sets of one run (fastai's `DataLoaders`): the source is split,
//! every image decoded once with the chosen [`Preprocess`], and the normalization fitted on
//! the training images only.

use serde::{Deserialize, Serialize};

use super::{ImageData, Loaded, Skipped, Source, Split};
use crate::error::{Error, Result};
use crate::transforms::Preprocess;

/// How to split a source.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitOptions {
    /// Fraction of each class for validation.
    pub valid_pct: f64,
    /// Fraction of each class for the test split (when the layout does not give one).
    pub test_pct: f64,
    /// Seed of the shuffle.
    pub seed: u64,
}

impl SplitOptions {
    /// Checks that the fractions are in `[0, 1)` and leave some data to train on.
    pub fn validate(&self) -> Result<()> {
        let in_range = |v: f64| (0.0..1.0).contains(&v);
        if !in_range(self.valid_pct) || !in_range(self.test_pct) || self.valid_pct + self.test_pct >= 1.0 {
            return Err(Error::config(
                "data.split.valid_pct",
                format!(
                    "({}) and the test share ({}) must each be in [0, 1) and leave some data to train on",
                    self.valid_pct, self.test_pct
                ),
            ));
        }
        Ok(())
    }
}

/// Where decoded images are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Residency {
    /// In memory when they fit the memory budget, else streamed from disk.
    #[default]
    Auto,
    /// Decoded once and kept in memory.
    Memory,
    /// Decoded from their files every time they are used (memory stays flat).
    Disk,
}

/// How the splits' images are stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadOptions {
    /// Training images are stored at this square size (fastai's presizing: augmentation then
    /// samples the final size from it); `None` stores them at the model's size.
    pub presize: Option<usize>,
    /// Memory or disk.
    pub residency: Residency,
    /// With `Residency::Auto`, the most bytes of decoded images kept in memory.
    pub memory_budget: usize,
}

impl LoadOptions {
    /// The preprocessing training images are stored with: `pre` at the presize, if any.
    pub fn stored(&self, pre: &Preprocess) -> Preprocess {
        match self.presize {
            Some(p) => pre.at_size(p),
            None => pre.clone(),
        }
    }
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { presize: None, residency: Residency::Auto, memory_budget: 512 << 20 }
    }
}

/// The split of a run, saved as `split.json` so it can be reproduced and audited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitRecord {
    /// Where the data came from.
    pub source: String,
    /// The options used.
    pub options: SplitOptions,
    /// Item names per split.
    pub train: Vec<String>,
    /// Validation items.
    pub valid: Vec<String>,
    /// Test items.
    pub test: Vec<String>,
}

/// The decoded splits of a data source: the images of each split, decoded with one
/// preprocessing whose normalization was fitted on the training images.
#[derive(Debug, Clone)]
pub struct DataSplits {
    /// Class names, or the targets' names.
    pub(crate) classes: Vec<String>,
    /// What the labels ask of a model.
    pub(crate) task: super::targets::TaskKind,
    pub(crate) kind: super::SourceKind,
    pub(crate) preprocess: Preprocess,
    pub(crate) train: ImageData,
    pub(crate) valid: ImageData,
    pub(crate) test: Option<ImageData>,
    pub(crate) skipped: Vec<Skipped>,
    /// Fingerprints of the IDX parts that gave training or validation images
    /// ([`Source::part_fingerprints`]): evaluation refuses data with one of these.
    pub(crate) fingerprints: Vec<u64>,
    /// Sorted content hashes of the training and validation image files (folder sources):
    /// evaluation refuses data that shares too many of them.
    pub(crate) image_hashes: Vec<u64>,
    pub(crate) record: SplitRecord,
}

impl DataSplits {
    /// Class names; labels index into this.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// What the labels ask of a model.
    pub fn task(&self) -> super::targets::TaskKind {
        self.task
    }

    /// The preprocessing, with normalization fitted on the training images.
    pub fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }

    /// Training images.
    pub fn train(&self) -> &ImageData {
        &self.train
    }

    /// Validation images.
    pub fn valid(&self) -> &ImageData {
        &self.valid
    }

    /// Test images, when the layout or the split options give some.
    pub fn test(&self) -> Option<&ImageData> {
        self.test.as_ref()
    }

    /// Files that could not be listed or read, whatever split they were meant for.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Which item went to which split, by name (saved as `split.json`).
    pub fn record(&self) -> &SplitRecord {
        &self.record
    }

    /// Splits `source`, decodes each split with `preprocess` (RGB narrowed to grey when every
    /// image is grey) and fits the normalization on the training images.
    pub fn load(
        source: &Source,
        preprocess: Preprocess,
        options: SplitOptions,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<DataSplits> {
        Self::load_with(source, preprocess, options, LoadOptions::default(), progress)
    }

    /// [`DataSplits::load`] with presizing and a choice of where the images are kept.
    pub fn load_with(
        source: &Source,
        preprocess: Preprocess,
        options: SplitOptions,
        load: LoadOptions,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<DataSplits> {
        options.validate()?;
        source.require_trainable()?;
        Self::load_assigned(source, preprocess, options, &source.split(options), load, progress)
    }

    /// [`DataSplits::load_with`] with each item's split given (`splits[i]` for item `i`; the
    /// folds of a cross-validation), `options` only recorded.
    pub(crate) fn load_assigned(
        source: &Source,
        mut preprocess: Preprocess,
        options: SplitOptions,
        splits: &[Split],
        load: LoadOptions,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<DataSplits> {
        let pick = |s: Split| -> Vec<usize> { (0..splits.len()).filter(|&i| splits[i] == s).collect() };
        let parts = [pick(Split::Train), pick(Split::Valid), pick(Split::Test)];
        let stored = load.stored(&preprocess);
        let [tr, v, t] = decode_splits(source, &parts, [&stored, &preprocess, &preprocess], &load, progress);
        let (mut train, mut valid, mut test) = (tr.data, v.data, t.data);
        let mut skipped = source.problems.clone();
        skipped.extend(tr.skipped.into_iter().chain(v.skipped).chain(t.skipped));
        let empty = |message: &str| Error::BadDataset { path: source.root.clone(), message: message.into() };
        if train.is_empty() {
            return Err(empty("no readable training image"));
        }
        if valid.is_empty() {
            return Err(empty("the validation split is empty; raise the validation share or add a valid/ folder"));
        }
        if preprocess.channels == 3 && tr.all_grey && v.all_grey && t.all_grey {
            preprocess.narrow_to_grey();
            for d in [&mut train, &mut valid, &mut test] {
                d.narrow_to_grey();
            }
        }
        if !preprocess.fixed_stats {
            preprocess.set_normalization(&tr.stats);
        }
        let (fingerprints, image_hashes) = training_fingerprints(source, &parts, &train, &valid);
        let record = SplitRecord {
            source: source.root.display().to_string(),
            options,
            train: train.names.clone(),
            valid: valid.names.clone(),
            test: test.names.clone(),
        };
        Ok(DataSplits {
            classes: source.classes.clone(),
            task: source.task,
            kind: source.kind,
            preprocess,
            train,
            valid,
            test: (!test.is_empty()).then_some(test),
            skipped,
            fingerprints,
            image_hashes,
            record,
        })
    }
}

/// Decodes the train, valid and test items (`parts`) with their preprocessings, kept in memory
/// or streamed as `load` says; `progress` counts over all three.
fn decode_splits(
    source: &Source,
    parts: &[Vec<usize>; 3],
    pre: [&Preprocess; 3],
    load: &LoadOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> [Loaded; 3] {
    let bytes: usize = parts.iter().zip(pre).map(|(p, pre)| p.len() * pre.image_len()).sum();
    let keep = match load.residency {
        _ if source.is_idx() => true,
        Residency::Memory => true,
        Residency::Disk => false,
        Residency::Auto => bytes <= load.memory_budget,
    };
    let total: usize = parts.iter().map(Vec::len).sum();
    let mut base = 0;
    [0, 1, 2].map(|k| {
        let offset = base;
        base += parts[k].len();
        source.load(&parts[k], pre[k], keep, &|d, _| progress(offset + d, total))
    })
}

/// What `evaluate` checks against to refuse training data: the fingerprints of the IDX parts
/// that gave training or validation images, or (folders) the sorted content hashes of those
/// image files.
fn training_fingerprints(
    source: &Source,
    parts: &[Vec<usize>; 3],
    train: &ImageData,
    valid: &ImageData,
) -> (Vec<u64>, Vec<u64>) {
    let sorted_set = |mut v: Vec<u64>| {
        v.sort_unstable();
        v.dedup();
        v
    };
    if source.is_idx() {
        let all = source.part_fingerprints();
        (sorted_set(parts[0].iter().chain(&parts[1]).map(|&i| all[source.part_of(i)]).collect()), Vec::new())
    } else {
        (Vec::new(), sorted_set(train.hashes.iter().chain(&valid.hashes).copied().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::IdxSplit;
    use crate::transforms::ResizeMode;

    fn tiny_source(n: usize) -> Source {
        let part = IdxSplit {
            prefix: "t10k".into(),
            pixels: (0..n * 4).map(|i| (i % 251) as u8).collect(),
            labels: (0..n).map(|i| (i % 2) as u8).collect(),
            height: 2,
            width: 2,
        };
        Source::from_idx("mem".into(), vec![part], None)
    }

    #[test]
    fn a_lone_idx_split_is_cut_eighty_twenty_and_normalized_on_train() {
        let s = tiny_source(100);
        let opts = SplitOptions { valid_pct: 0.2, test_pct: 0.0, seed: 1 };
        let d = DataSplits::load(&s, Preprocess::new(2, 2, 1, ResizeMode::Squish), opts, &|_, _| {}).unwrap();
        assert_eq!((d.train.len(), d.valid.len()), (80, 20));
        assert!(d.test.is_none());
        assert!(d.preprocess.mean[0] > 0.0 && d.preprocess.std[0] > 0.0);
        assert_eq!(d.record.valid.len(), 20);
    }

    #[test]
    fn fractions_that_leave_nothing_to_train_on_are_rejected() {
        let s = tiny_source(10);
        let opts = SplitOptions { valid_pct: 0.6, test_pct: 0.5, seed: 1 };
        assert!(DataSplits::load(&s, Preprocess::new(2, 2, 1, ResizeMode::Squish), opts, &|_, _| {}).is_err());
    }
}
