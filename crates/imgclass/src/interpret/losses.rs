//! Interpreting a model on labelled images (`imgclass interpret`): every image's loss, ranked
//! worst first (fastai's `top_losses`), drawn as a grid with predicted / actual class, loss and
//! the probability of the actual class (fastai's `plot_top_losses`), optionally with the
//! Grad-CAM map of the predicted class over each; beside the metrics and confusion matrix.
//! Every task: several labels per image rank by binary cross-entropy (predicted and actual
//! labels), numbers by their loss (predicted and actual value, and the error).

use std::collections::HashSet;
use std::path::Path;

use burn::prelude::*;
use serde::Serialize;

use super::cam::{cam_layer, grad_cam, output_index};
use super::explain::CamOptions;
use crate::bundle::Bundle;
use crate::data::targets::{TaskKind, target_text};
use crate::data::{ImageData, Skipped, Source};
use crate::error::{Error, Result};
use crate::infer::{Views, log_probs, outputs_tta};
use crate::metrics::{EvalReport, argmax};
use crate::plot::{Canvas, Heat, Tile, captioned_grid, jet};
use crate::task::Task;
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
    /// What it is: its class; its labels, space-separated; its number(s).
    pub label: String,
    /// What the model answers, written as `label` is.
    pub predicted: String,
    /// One class per image: the probability the model gives the image's class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f32>,
    /// Numbers: the absolute error, |predicted − actual| (the mean over several targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<f32>,
    /// The task's loss: cross-entropy `−ln(probability)`, binary cross-entropy (the mean over
    /// the labels), the regression loss on standardized targets, or the Poisson deviance.
    pub loss: f32,
}

/// A row's image and what its picture shows.
#[derive(Debug, Clone, Copy)]
struct Shown {
    /// The image's index in the interpreted data.
    index: usize,
    /// The output Grad-CAM explains by default: the predicted class, the most probable label,
    /// the first target.
    output: usize,
    /// Whether the answer is right (numbers: not a yes or no).
    right: Option<bool>,
}

/// A model's losses on labelled images, worst first, with its metrics on them.
#[derive(Debug, Clone)]
pub struct Interpretation {
    /// Every readable image's loss, worst first.
    pub rows: Vec<LossRow>,
    /// The metrics: accuracy, per-class metrics and confusion matrix; or the task's metrics
    /// (with each label's 2×2 confusion matrix, or each image's prediction for the charts).
    pub report: EvalReport,
    /// Images that could not be read.
    pub skipped: Vec<Skipped>,
    /// What the model answers.
    task: Task,
    /// The images, prepared as the model expects (for pictures).
    data: ImageData,
    /// For each row, its image and what its picture shows.
    shown: Vec<Shown>,
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
    let all: Vec<usize> = (0..source.len()).collect();
    let labelled = bundle.load_labelled(source, indices.unwrap_or(&all), allow_training_data, progress)?;
    let (data, task) = (labelled.data, bundle.meta().task());
    let (mut rows, report) =
        if task.is_single_label() { class_rows(bundle, &data) } else { task_rows(bundle, &task, &data) };
    rows.sort_by(|a, b| b.0.loss.total_cmp(&a.0.loss).then(a.1.index.cmp(&b.1.index)));
    let (mut rows, shown): (Vec<LossRow>, Vec<Shown>) = rows.into_iter().unzip();
    rows.iter_mut().enumerate().for_each(|(r, row)| row.rank = r + 1);
    Ok(Interpretation { rows, report, skipped: labelled.skipped, task, data, shown })
}

/// One class per image: each image's cross-entropy, its class and the predicted one.
fn class_rows(bundle: &Bundle, data: &ImageData) -> (Vec<(LossRow, Shown)>, EvalReport) {
    let labels = bundle.meta().labels();
    let lp = log_probs(bundle.net(), data, bundle.meta().preprocess(), bundle.device());
    let actual = lp.labels(data);
    let report = EvalReport::from_log_probs(&lp.values, &actual, labels);
    let rows = lp
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
                probability: Some(row[label].exp()),
                error: None,
                loss: -row[label],
            };
            (loss, Shown { index: i, output: predicted, right: Some(predicted == label) })
        })
        .collect();
    (rows, report)
}

/// Beyond one class per image: each image's loss for `task`, its labels or numbers and the
/// model's.
fn task_rows(bundle: &Bundle, task: &Task, data: &ImageData) -> (Vec<(LossRow, Shown)>, EvalReport) {
    let raw = outputs_tta(bundle.net(), data, bundle.meta().preprocess(), bundle.device(), &Views::Plain);
    let report = task.report(&raw.values, &raw.targets(data), &raw.labels(data));
    let (kind, names) = (task.kind(), task.names());
    let rows = raw
        .values
        .chunks_exact(raw.dim)
        .zip(&raw.indices)
        .map(|(z, &i)| {
            let (t, a) = (data.targets(i), task.answer_row(z));
            let (predicted, right, error, output) = if kind == TaskKind::MultiLabel {
                let on: Vec<f32> =
                    a.iter().zip(task.thresholds()).map(|(p, th)| f32::from(u8::from(p >= th))).collect();
                (target_text(kind, names, 0, &on), Some(on == t), None, argmax(&a))
            } else {
                let error = a.iter().zip(t).map(|(p, y)| (p - y).abs()).sum::<f32>() / a.len().max(1) as f32;
                (number_text(names, &a), None, Some(error), 0)
            };
            let row = LossRow {
                rank: 0,
                file: data.names()[i].clone(),
                label: target_text(kind, names, 0, t),
                predicted,
                probability: None,
                error,
                loss: task.row_loss(z, t),
            };
            (row, Shown { index: i, output, right })
        })
        .collect();
    (rows, report)
}

/// Predicted numbers, two decimals: `12.35`, or `angle 12.35, size 0.50`.
fn number_text(names: &[String], v: &[f32]) -> String {
    if v.len() == 1 {
        return format!("{:.2}", v[0]);
    }
    names.iter().zip(v).map(|(n, x)| format!("{n} {x:.2}")).collect::<Vec<_>>().join(", ")
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
    /// The rows as CSV: `rank,file,label,predicted,probability,loss` (one class per image),
    /// `rank,file,labels,predicted,loss` (several), `rank,file,actual,predicted,error,loss`
    /// (numbers).
    pub fn to_csv(&self) -> String {
        let (label, extra) = match self.task.kind() {
            TaskKind::SingleLabel => ("label", Some("probability")),
            TaskKind::MultiLabel => ("labels", None),
            _ => ("actual", Some("error")),
        };
        let header: Vec<&str> = ["rank", "file", label, "predicted"].into_iter().chain(extra).chain(["loss"]).collect();
        let rows = self.rows.iter().map(|r| {
            let extra = r.probability.or(r.error).map(|v| format!("{v:.6}"));
            [r.rank.to_string(), r.file.clone(), r.label.clone(), r.predicted.clone()]
                .into_iter()
                .chain(extra)
                .chain([format!("{:.6}", r.loss)])
                .collect::<Vec<_>>()
        });
        csv_table(&header, rows)
    }

    /// Writes [`Interpretation::to_csv`] to `path`, atomically.
    pub fn save_csv(&self, path: &Path) -> Result<()> {
        atomic_write(path, self.to_csv().as_bytes())
    }

    /// Writes the `n` highest-loss images as a PNG grid at `path`, each captioned with
    /// the answer and the truth, and the loss and probability of the actual class (one class
    /// per image), the loss (several labels) or the error (numbers); with `cam`, the Grad-CAM
    /// map over each: of the output `cam.class` names, or else of the predicted class, the most
    /// probable label, the first number, at stage `cam.layer` (the last when `None`).
    pub fn save_top_losses(&self, bundle: &Bundle, n: usize, cam: Option<&CamOptions>, path: &Path) -> Result<()> {
        self.top_losses_picture(bundle, n, cam)?.save_png(path)
    }

    fn top_losses_picture(&self, bundle: &Bundle, n: usize, cam: Option<&CamOptions>) -> Result<Canvas> {
        let shown = &self.shown[..n.min(self.shown.len())];
        let pre = bundle.meta().preprocess();
        let maps = match cam {
            None => None,
            Some(options) => {
                let layer = cam_layer(bundle.net(), options.layer.as_deref())?;
                let named = options.class.as_deref().map(|name| output_index(&self.task, name)).transpose()?;
                let mut x = Vec::new();
                for s in shown {
                    pre.normalize_into(&self.data.image(s.index)?, &mut x);
                }
                let shape = [shown.len(), pre.input_channels(), pre.height(), pre.width()];
                let x = Tensor::<4>::from_data(TensorData::new(x, shape), bundle.device());
                let outputs: Vec<usize> = shown.iter().map(|s| named.unwrap_or(s.output)).collect();
                Some(grad_cam(bundle.net(), x, layer, Some(&outputs)))
            }
        };
        let (h, w) = (pre.height(), pre.width());
        let mut tiles = Vec::new();
        for (k, (s, row)) in shown.iter().zip(&self.rows).enumerate() {
            let colour = match s.right {
                Some(true) => [0, 100, 0],
                Some(false) => [180, 0, 0],
                None => [0, 0, 140],
            };
            let last = match (row.probability, row.error) {
                (Some(p), _) => format!("{:.2} / {p:.2}", row.loss),
                (None, Some(e)) => format!("{e:.2}"),
                _ => format!("{:.3}", row.loss),
            };
            let captions = vec![(row.predicted.clone(), colour), (row.label.clone(), [0, 0, 0]), (last, [80, 80, 80])];
            let heat = maps.as_ref().map(|m| {
                let m = &m[k];
                Box::new(move |x, y| jet(m.sample(x, y, w, h))) as Heat
            });
            tiles.push(Tile { bytes: self.data.image(s.index)?.into_owned(), captions, heat });
        }
        let mut title = match self.task.kind() {
            TaskKind::SingleLabel => "predicted / actual / loss / probability of actual",
            TaskKind::MultiLabel => "predicted labels / actual labels / loss",
            _ => "predicted / actual / absolute error",
        }
        .to_string();
        if let Some(name) = cam.and_then(|c| c.class.as_deref()) {
            title += &format!("; Grad-CAM of {name}");
        }
        Ok(captioned_grid(&title, (h, w), 144, &tiles))
    }
}
