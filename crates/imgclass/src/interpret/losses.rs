//! Interpreting a model on labelled images (`imgclass interpret`): every image's loss, ranked
//! worst first (fastai's `top_losses`), drawn as a grid with predicted / actual class, loss and
//! the probability of the actual class (fastai's `plot_top_losses`), optionally with the
//! Grad-CAM map of the predicted class over each; beside the metrics and confusion matrix.

use std::collections::HashSet;
use std::path::Path;

use burn::prelude::*;
use serde::Serialize;

use super::cam::{cam_layer, grad_cam};
use crate::bundle::Bundle;
use crate::data::{ImageData, Skipped, Source};
use crate::error::{Error, Result};
use crate::infer::log_probs;
use crate::metrics::{EvalReport, argmax};
use crate::plot::{Canvas, Heat, Tile, captioned_grid, jet};
use crate::train::RunDir;
use crate::util::csv::csv_table;
use crate::util::fs::atomic_write;

/// One image's loss.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LossRow {
    /// 1 for the highest loss.
    pub rank: usize,
    /// The image (its path, or `file#index` in an IDX file).
    pub file: String,
    /// Its class.
    pub label: String,
    /// The model's most probable class.
    pub predicted: String,
    /// The probability the model gives the image's class.
    pub probability: f32,
    /// Cross-entropy: `−ln(probability)`.
    pub loss: f32,
}

/// A model's losses on labelled images, worst first, with its metrics on them.
#[derive(Debug, Clone)]
pub struct Interpretation {
    /// Every readable image's loss, worst first.
    pub rows: Vec<LossRow>,
    /// Accuracy, per-class metrics, confusion matrix.
    pub report: EvalReport,
    /// Images that could not be read.
    pub skipped: Vec<Skipped>,
    /// The images, prepared as the model expects (for pictures).
    data: ImageData,
    /// For each row, the image's index in `data` and its predicted class.
    order: Vec<(usize, usize)>,
}

/// The losses of `bundle` on images `indices` of `source` (all when `None`), with the checks
/// of [`Bundle::evaluate_source`] unless `allow_training_data`.
pub fn interpret(
    bundle: &Bundle,
    source: &Source,
    indices: Option<&[usize]>,
    allow_training_data: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Interpretation> {
    let task = bundle.meta().task();
    if !task.is_single_label() {
        return Err(Error::BadDataset {
            path: source.root().to_path_buf(),
            message: format!(
                "the losses of a {} model are not ranked yet: its per-class or per-target metrics are in its run's \
                 report.html and in `imgclass evaluate --labels CSV`",
                task.kind().name()
            ),
        });
    }
    let all: Vec<usize> = (0..source.len()).collect();
    let labelled = bundle.load_labelled(source, indices.unwrap_or(&all), allow_training_data, progress)?;
    let (data, labels) = (labelled.data, bundle.meta().labels());
    let lp = log_probs(bundle.net(), &data, bundle.meta().preprocess(), bundle.device());
    let actual = lp.labels(&data);
    let report = EvalReport::from_log_probs(&lp.values, &actual, labels);
    let mut rows: Vec<(LossRow, (usize, usize))> = lp
        .values
        .chunks_exact(lp.dim)
        .zip(&lp.indices)
        .zip(&actual)
        .map(|((row, &i), &label)| {
            let predicted = argmax(row);
            let loss = LossRow {
                rank: 0,
                file: data.names()[i].clone(),
                label: labels[label].clone(),
                predicted: labels[predicted].clone(),
                probability: row[label].exp(),
                loss: -row[label],
            };
            (loss, (i, predicted))
        })
        .collect();
    rows.sort_by(|a, b| b.0.loss.total_cmp(&a.0.loss).then(a.1.cmp(&b.1)));
    let (mut rows, order): (Vec<LossRow>, Vec<(usize, usize)>) = rows.into_iter().unzip();
    rows.iter_mut().enumerate().for_each(|(r, row)| row.rank = r + 1);
    Ok(Interpretation { rows, report, skipped: labelled.skipped, data, order })
}

/// The validation split of the training run in `run`: its data source, and the indices of
/// the images `split.json` lists as validation images. Errors when some of them are gone.
pub fn validation_split(run: &RunDir) -> Result<(Source, Vec<usize>)> {
    let source = run.read_config()?.open_data()?;
    let record = run.read_split()?;
    let wanted: HashSet<&str> = record.valid.iter().map(String::as_str).collect();
    let indices: Vec<usize> = (0..source.len()).filter(|&i| wanted.contains(source.name(i).as_str())).collect();
    if indices.len() < wanted.len() {
        return Err(Error::BadDataset {
            path: source.root().to_path_buf(),
            message: format!(
                "{} of the run's {} validation images are no longer there; give the data to interpret on",
                wanted.len() - indices.len(),
                wanted.len()
            ),
        });
    }
    Ok((source, indices))
}

impl Interpretation {
    /// The rows as CSV: `rank,file,label,predicted,probability,loss`.
    pub fn to_csv(&self) -> String {
        let header = ["rank", "file", "label", "predicted", "probability", "loss"];
        let rows = self.rows.iter().map(|r| {
            let (rank, probability, loss) =
                (r.rank.to_string(), format!("{:.6}", r.probability), format!("{:.6}", r.loss));
            [rank, r.file.clone(), r.label.clone(), r.predicted.clone(), probability, loss]
        });
        csv_table(&header, rows)
    }

    /// Writes [`Interpretation::to_csv`] to `path`, atomically.
    pub fn save_csv(&self, path: &Path) -> Result<()> {
        atomic_write(path, self.to_csv().as_bytes())
    }

    /// Writes the `n` highest-loss images as a PNG grid at `path`, each captioned with
    /// predicted and actual class, loss and probability of the actual class; with `cam`, the
    /// Grad-CAM map of the predicted class (at stage `cam`, by name, or the last when empty)
    /// over each.
    pub fn save_top_losses(&self, bundle: &Bundle, n: usize, cam: Option<&str>, path: &Path) -> Result<()> {
        self.top_losses_picture(bundle, n, cam)?.save_png(path)
    }

    fn top_losses_picture(&self, bundle: &Bundle, n: usize, cam: Option<&str>) -> Result<Canvas> {
        let shown = &self.order[..n.min(self.order.len())];
        let pre = bundle.meta().preprocess();
        let maps = match cam {
            None => None,
            Some(layer) => {
                let layer = cam_layer(bundle.net(), (!layer.is_empty()).then_some(layer))?;
                let mut x = Vec::new();
                for &(i, _) in shown {
                    pre.normalize_into(&self.data.image(i)?, &mut x);
                }
                let shape = [shown.len(), pre.input_channels(), pre.height(), pre.width()];
                let x = Tensor::<4>::from_data(TensorData::new(x, shape), bundle.device());
                let predicted: Vec<usize> = shown.iter().map(|&(_, p)| p).collect();
                Some(grad_cam(bundle.net(), x, layer, Some(&predicted)))
            }
        };
        let (h, w) = (pre.height(), pre.width());
        let mut tiles = Vec::new();
        for (k, (&(i, _), row)) in shown.iter().zip(&self.rows).enumerate() {
            let wrong = if row.predicted == row.label { [0, 100, 0] } else { [180, 0, 0] };
            let captions = vec![
                (row.predicted.clone(), wrong),
                (row.label.clone(), [0, 0, 0]),
                (format!("{:.2} / {:.2}", row.loss, row.probability), [80, 80, 80]),
            ];
            let heat = maps.as_ref().map(|m| {
                let m = &m[k];
                Box::new(move |x, y| jet(m.sample(x, y, w, h))) as Heat
            });
            tiles.push(Tile { bytes: self.data.image(i)?.into_owned(), captions, heat });
        }
        let title = "predicted / actual / loss / probability of actual";
        Ok(captioned_grid(title, (h, w), 144, &tiles))
    }
}
