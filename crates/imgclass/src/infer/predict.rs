//! Prediction with a bundle: files and folders in, top-k classes with probabilities out,
//! preprocessed exactly as at training time (the bundle's [`crate::transforms::Preprocess`]).

use std::path::PathBuf;

use serde::Serialize;

use super::log_probs;
use crate::bundle::Bundle;
use crate::data::folder::images_below;
use crate::data::{ImageData, Skipped, Source};
use crate::error::{Error, Result};

/// One class and its probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// Class name.
    pub label: String,
    /// Softmax probability.
    pub probability: f32,
}

/// The top-k predictions for one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilePrediction {
    /// The image file.
    pub file: String,
    /// Most probable classes first.
    pub top: Vec<Prediction>,
}

/// Predictions for many files, with the files that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct PredictOutput {
    /// One entry per readable image, in input order.
    pub predictions: Vec<FilePrediction>,
    /// Unreadable files.
    pub skipped: Vec<Skipped>,
}

/// Expands folders (recursively, image files only, sorted) and keeps files as given.
pub(crate) fn expand_inputs(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<Skipped>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for input in inputs {
        if input.is_dir() {
            files.extend(images_below(input, &mut problems));
        } else if input.exists() {
            files.push(input.clone());
        } else {
            problems.push((input.clone(), "no such file".into()));
        }
    }
    (files, problems.into_iter().map(|(path, reason)| Skipped { path, reason }).collect())
}

impl Bundle {
    /// Top-`k` predictions for each image file or folder in `inputs`. Errors when the inputs
    /// hold no image file at all.
    pub fn predict_paths(&self, inputs: &[PathBuf], k: usize) -> Result<PredictOutput> {
        let (data, skipped) = self.load_inputs(inputs)?;
        Ok(PredictOutput { predictions: self.top_k(&data, k), skipped })
    }

    /// The readable images of `inputs` (files, and folders searched recursively), prepared as
    /// the model expects; and the inputs that could not be read. Errors when the inputs hold
    /// no image file at all.
    pub(crate) fn load_inputs(&self, inputs: &[PathBuf]) -> Result<(ImageData, Vec<Skipped>)> {
        let (files, mut skipped) = expand_inputs(inputs);
        if files.is_empty() {
            let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
            return Err(Error::BadDataset {
                path: names.join(", ").into(),
                message: "no image file to predict".into(),
            });
        }
        let source = Source::from_files(files).with_max_pixels(self.max_pixels());
        let all: Vec<usize> = (0..source.len()).collect();
        let loaded = source.load(&all, self.meta().preprocess(), true, &|_, _| {});
        skipped.extend(loaded.skipped);
        Ok((loaded.data, skipped))
    }

    /// The top-`k` classes of each image of `data`.
    pub(crate) fn top_k(&self, data: &ImageData, k: usize) -> Vec<FilePrediction> {
        let meta = self.meta();
        let classes = meta.labels().len();
        let lp = log_probs(self.net(), data, meta.preprocess(), self.device());
        lp.values
            .chunks_exact(classes)
            .zip(lp.indices.iter().map(|&i| &data.names()[i]))
            .map(|(row, name)| {
                let mut order: Vec<usize> = (0..classes).collect();
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
                let top = order
                    .into_iter()
                    .take(k.max(1))
                    .map(|c| Prediction { label: meta.labels()[c].clone(), probability: row[c].exp() })
                    .collect();
                FilePrediction { file: name.clone(), top }
            })
            .collect()
    }

    /// Top-`k` predictions for the given image files or folders (unreadable files are left out).
    pub fn predict_files(&self, files: &[PathBuf], k: usize) -> Result<Vec<FilePrediction>> {
        Ok(self.predict_paths(files, k)?.predictions)
    }
}
