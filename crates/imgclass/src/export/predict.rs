//! Prediction with a bundle: files and folders in, top-k classes with probabilities out,
//! preprocessed exactly as at training time (the bundle's [`crate::transforms::Preprocess`]).

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::Bundle;
use crate::data::folder::is_image_path;
use crate::data::{ImageData, Skipped, decode_file};
use crate::error::Result;
use crate::train::log_probs;

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
pub fn expand_inputs(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<Skipped>) {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for input in inputs {
        if input.is_dir() {
            for entry in walkdir::WalkDir::new(input).follow_links(true).sort_by_file_name() {
                match entry {
                    Ok(e) if e.file_type().is_file() && is_image_path(e.path()) => files.push(e.into_path()),
                    Ok(_) => {}
                    Err(err) => skipped.push(Skipped {
                        path: err.path().map(Path::to_path_buf).unwrap_or_else(|| input.clone()),
                        reason: err.to_string(),
                    }),
                }
            }
        } else if input.exists() {
            files.push(input.clone());
        } else {
            skipped.push(Skipped { path: input.clone(), reason: "no such file".into() });
        }
    }
    (files, skipped)
}

impl Bundle {
    /// Top-`k` predictions for each image file or folder in `inputs`.
    pub fn predict_paths(&self, inputs: &[PathBuf], k: usize) -> Result<PredictOutput> {
        let (files, mut skipped) = expand_inputs(inputs);
        let pre = &self.meta.preprocess;
        let decoded: Vec<_> = files.par_iter().map(|f| decode_file(f).map(|img| pre.apply(&img))).collect();
        let mut data = ImageData { image_len: pre.image_len(), ..Default::default() };
        for (f, r) in files.iter().zip(decoded) {
            match r {
                Ok(bytes) => {
                    data.pixels.extend_from_slice(&bytes);
                    data.labels.push(0);
                    data.names.push(f.display().to_string());
                }
                Err(e) => skipped.push(Skipped { path: f.clone(), reason: e.to_string() }),
            }
        }
        let classes = self.meta.labels.len();
        let lp = log_probs(&self.net, &data, pre, &self.device);
        let predictions = lp
            .chunks_exact(classes)
            .zip(&data.names)
            .map(|(row, name)| {
                let mut order: Vec<usize> = (0..classes).collect();
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
                let top = order
                    .into_iter()
                    .take(k.max(1))
                    .map(|c| Prediction { label: self.meta.labels[c].clone(), probability: row[c].exp() })
                    .collect();
                FilePrediction { file: name.clone(), top }
            })
            .collect();
        Ok(PredictOutput { predictions, skipped })
    }

    /// Top-`k` predictions for the given image files (unreadable ones are left out).
    pub fn predict_files(&self, files: &[PathBuf], k: usize) -> Result<Vec<FilePrediction>> {
        Ok(self.predict_paths(files, k)?.predictions)
    }
}
