//! Prediction with a bundle: files and folders in, the model's answer for each out — top-k
//! classes with probabilities, the labels at their thresholds, or numbers, as its task says —
//! preprocessed exactly as at training time (the bundle's [`crate::transforms::Preprocess`]).

use std::path::PathBuf;

use serde::Serialize;

use super::{InputFiles, StreamOptions, Views, task_outputs};
use crate::bundle::Bundle;
use crate::data::{ImageData, Skipped, Source, load_bytes};
use crate::error::{Error, Result};
use crate::task::{Answer, Prediction};

/// The model's answer for one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilePrediction {
    /// The image file.
    pub file: String,
    /// What the model answers (its fields are the JSON object's, beside `file`).
    #[serde(flatten)]
    pub answer: Answer,
}

impl FilePrediction {
    /// The classes or labels predicted, most probable first (empty for numbers).
    pub fn top(&self) -> &[Prediction] {
        self.answer.classes()
    }
}

/// Predictions for many files, with the files that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct PredictOutput {
    /// One entry per readable image, in input order.
    pub predictions: Vec<FilePrediction>,
    /// Unreadable files.
    pub skipped: Vec<Skipped>,
}

/// Expands folders (recursively, image files only, sorted) and keeps files as given: the
/// listing of [`InputFiles`], all at once.
pub(crate) fn expand_inputs(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<Skipped>) {
    let (mut files, mut skipped) = (Vec::new(), Vec::new());
    for item in InputFiles::new(inputs, None) {
        match item {
            Ok(path) => files.push(path),
            Err(s) => skipped.push(s),
        }
    }
    (files, skipped)
}

impl Bundle {
    /// The answer for each image file or folder in `inputs`: the top `k` classes of a
    /// single-label model, the labels at their thresholds of a multi-label one, the numbers of
    /// a regression or count. Errors when the inputs hold no image file at all.
    pub fn predict_paths(&self, inputs: &[PathBuf], k: usize) -> Result<PredictOutput> {
        self.predict_paths_all(inputs, k, false)
    }

    /// [`Bundle::predict_paths`]; with `all`, a multi-label answer also lists every label's
    /// probability.
    pub fn predict_paths_all(&self, inputs: &[PathBuf], k: usize, all: bool) -> Result<PredictOutput> {
        let (data, skipped) = self.load_inputs(inputs)?;
        Ok(PredictOutput { predictions: self.answers(&data, k, all), skipped })
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

    /// The answer for each readable image of `data` (see [`Bundle::predict_paths_all`]).
    pub(crate) fn answers(&self, data: &ImageData, k: usize, all: bool) -> Vec<FilePrediction> {
        self.answers_tta(data, k, all, &Views::Plain)
    }

    /// [`Bundle::answers`] averaged over `views`.
    pub(crate) fn answers_tta(&self, data: &ImageData, k: usize, all: bool, views: &Views) -> Vec<FilePrediction> {
        if data.is_empty() {
            return Vec::new();
        }
        let meta = self.meta();
        let task = meta.task();
        let classes = meta.labels().len();
        let out = task_outputs(self.net(), data, &task, meta.preprocess(), self.device(), views);
        let names = out.indices.iter().map(|&i| data.names()[i].clone());
        let rows = out.values.chunks_exact(classes.max(1));
        names.zip(rows).map(|(file, z)| FilePrediction { file, answer: task.answer(z, k, all) }).collect()
    }

    /// The answer for each image given as its file's bytes, with a name each (the answers'
    /// `file`): the web app's uploads. Images that cannot be decoded, or declare more pixels
    /// than the bundle's limit, are skipped and reported; a `tta` the model cannot use is an
    /// error.
    pub fn predict_bytes(&self, images: &[(String, Vec<u8>)], options: StreamOptions) -> Result<PredictOutput> {
        let views = self.views(options.tta)?;
        let (data, skipped) = load_bytes(images, self.meta().preprocess(), self.max_pixels());
        Ok(PredictOutput { predictions: self.answers_tta(&data, options.k, options.all, &views), skipped })
    }

    /// Top-`k` predictions for the given image files or folders (unreadable files are left out).
    pub fn predict_files(&self, files: &[PathBuf], k: usize) -> Result<Vec<FilePrediction>> {
        Ok(self.predict_paths(files, k)?.predictions)
    }
}
