//! Evaluating a bundle on labelled data: the data's classes mapped onto the model's labels
//! (by name, or by index for IDX labels), and a guard against scoring a model on the data it
//! was trained from.

use super::{TtaOptions, evaluate_tta};
use crate::bundle::Bundle;
use std::path::Path;

use crate::data::targets::TaskKind;
use crate::data::{ImageData, Labels, Skipped, Source};
use crate::error::{Error, Result};
use crate::metrics::EvalReport;

/// Class names match ignoring case and punctuation, so a folder `T-shirt_top` is the class
/// `T-shirt/top` (a folder name cannot hold `/`).
fn same_name(a: &str, b: &str) -> bool {
    let key = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    key(a) == key(b)
}

/// What [`Bundle::evaluate_source`] found.
#[derive(Debug, Clone)]
pub struct EvalOutput {
    /// The metrics.
    pub report: EvalReport,
    /// Files that could not be read.
    pub skipped: Vec<Skipped>,
    /// How many evaluated images were among the model's training or validation images
    /// (by content; folder sources only).
    pub training_overlap: usize,
}

impl Bundle {
    fn leakage(&self, source: &Source, what: String) -> Error {
        let from = self.meta().data().map_or(String::new(), |d| d.source.clone());
        Error::Leakage(format!(
            "{}: {what} (the model was trained from {from}); a score on them measures memory, not accuracy. \
             Evaluate on held-out data (a model trained on the bundled Fashion-MNIST sample: evaluate on \
             data/fashion-samples, or train on /usr/share/datasets/fashion-mnist), or pass --allow-training-data",
            source.root().display()
        ))
    }

    /// Errors when `source` holds an IDX file pair the model was trained or validated on.
    pub(crate) fn check_not_training_data(&self, source: &Source) -> Result<()> {
        let Some(info) = self.meta().data() else { return Ok(()) };
        if source.part_fingerprints().iter().any(|f| info.fingerprints.contains(f)) {
            return Err(self.leakage(source, "these IDX files are the data this model was trained on".into()));
        }
        Ok(())
    }

    /// The model's label for each of `source`'s classes. IDX labels without names are class
    /// indices, and so are any IDX labels when the model was trained on IDX files: label `i`
    /// is the model's `i`-th class, whatever the folder is called. Other classes match the
    /// model's labels by name.
    fn class_map(&self, source: &Source) -> Result<Vec<usize>> {
        let labels = self.meta().labels();
        let task = self.meta().task();
        if source.task() != task.kind() {
            return Err(Error::BadDataset {
                path: source.root().to_path_buf(),
                message: format!(
                    "the labels are for {}, the model answers {}; evaluate on data labelled for its task{}",
                    source.task().name(),
                    task.kind().name(),
                    if task.is_single_label() { "" } else { " (give its labels CSV with --labels)" }
                ),
            });
        }
        if matches!(task.kind(), TaskKind::Regression | TaskKind::Count) && source.classes() != labels {
            return Err(Error::BadDataset {
                path: source.root().to_path_buf(),
                message: format!(
                    "the targets read are {}, the model predicts {}",
                    source.classes().join(", "),
                    labels.join(", ")
                ),
            });
        }
        let from_idx = self.meta().data().is_some_and(|d| d.from_idx());
        let by_index = source.is_idx() && (source.numbered_classes() || from_idx);
        let unknown = |class: &str| Error::BadDataset {
            path: source.root().to_path_buf(),
            message: format!(
                "class {class:?} is not one the model knows ({}); evaluate on data with the model's classes{}",
                labels.join(", "),
                if source.is_idx() {
                    " (IDX folders: name the classes in a classes.txt beside the files, one a line)"
                } else {
                    ""
                }
            ),
        };
        source
            .classes()
            .iter()
            .enumerate()
            .map(|(i, class)| {
                let found = if by_index {
                    (i < labels.len()).then_some(i)
                } else {
                    labels.iter().position(|l| l == class).or_else(|| labels.iter().position(|l| same_name(l, class)))
                };
                found.ok_or_else(|| unknown(class))
            })
            .collect()
    }

    /// Opens labelled data for this model's task: `data`'s class folders (or IDX files), or —
    /// with `labels` — the labels CSV, its targets read in the columns the model was trained
    /// from.
    pub fn open_data(&self, data: &Path, labels: Option<&Path>) -> Result<Source> {
        let task = self.meta().task();
        let Some(csv) = labels else {
            if !task.is_single_label() {
                return Err(Error::config(
                    "data.labels",
                    format!("is needed: a {} model is evaluated on a labels CSV", task.kind().name()),
                ));
            }
            return Source::open(data);
        };
        let columns = self.meta().train_config().map(|c| c.task.columns.clone()).unwrap_or_default();
        Source::open_labelled(data, &Labels::Csv(csv.to_path_buf()), &columns, Some(task.kind()))
    }

    /// Evaluates every image of `source` (with test-time augmentation `tta`); its classes must
    /// be among the model's labels. `tta` is checked before any image is read.
    ///
    /// Unless `allow_training_data`, refuses an IDX file pair the model was trained on, and a
    /// folder in which 1% or more of the images (by content) were training or validation images.
    pub fn evaluate_source(
        &self,
        source: &Source,
        allow_training_data: bool,
        tta: TtaOptions,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<EvalOutput> {
        let views = self.views(tta)?;
        let all: Vec<usize> = (0..source.len()).collect();
        let labelled = self.load_labelled(source, &all, allow_training_data, progress)?;
        let pre = self.meta().preprocess();
        let (report, _) = evaluate_tta(self.net(), &labelled.data, &self.meta().task(), pre, self.device(), &views);
        Ok(EvalOutput { report, skipped: labelled.skipped, training_overlap: labelled.training_overlap })
    }

    /// Images `indices` of `source`, prepared as the model expects, their labels mapped onto
    /// the model's classes; with the checks of [`Bundle::evaluate_source`].
    pub(crate) fn load_labelled(
        &self,
        source: &Source,
        indices: &[usize],
        allow_training_data: bool,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Labelled> {
        if !allow_training_data {
            self.check_not_training_data(source)?;
        }
        let map = self.class_map(source)?;
        let loaded = source.load(indices, self.meta().preprocess(), true, progress);
        let (mut data, mut skipped) = (loaded.data, loaded.skipped);
        skipped.splice(0..0, source.problems().iter().cloned());
        if data.is_empty() {
            return Err(Error::BadDataset {
                path: source.root().to_path_buf(),
                message: "no readable image to evaluate".into(),
            });
        }
        let known = self.meta().data().map_or(&[][..], |d| &d.image_hashes[..]);
        let training_overlap = data.hashes.iter().filter(|h| known.binary_search(h).is_ok()).count();
        if !allow_training_data && training_overlap > 0 && training_overlap * 100 >= data.len() {
            let what =
                format!("{training_overlap} of its {} images were used to train or validate this model", data.len());
            return Err(self.leakage(source, what));
        }
        if source.task() == TaskKind::SingleLabel {
            for l in &mut data.labels {
                *l = map[*l];
            }
        } else {
            data.targets = model_targets(&data, &map, self.meta().labels().len());
        }
        Ok(Labelled { data, skipped, training_overlap })
    }
}

/// Each image's targets in the model's class order: column `c` of the source goes to column
/// `map[c]`; the model's classes the source does not name are absent (0).
fn model_targets(data: &ImageData, map: &[usize], classes: usize) -> Vec<f32> {
    let mut out = vec![0.0; data.len() * classes];
    for i in 0..data.len() {
        for (c, &v) in data.targets(i).iter().enumerate() {
            out[i * classes + map[c]] = v;
        }
    }
    out
}

/// Labelled images prepared for a model ([`Bundle::load_labelled`]).
pub(crate) struct Labelled {
    /// The readable images, labels in the model's classes.
    pub(crate) data: ImageData,
    /// What could not be read.
    pub(crate) skipped: Vec<Skipped>,
    /// How many were among the model's training or validation images.
    pub(crate) training_overlap: usize,
}

#[cfg(test)]
mod tests {
    #[test]
    fn folder_safe_spellings_match_their_class_names() {
        assert!(super::same_name("T-shirt/top", "T-shirt_top"));
        assert!(super::same_name("Ankle boot", "ankle_boot"));
        assert!(!super::same_name("Shirt", "T-shirt_top"));
    }
}
