//! Running a network over decoded images: class log-probabilities in batches, and the
//! evaluation report (loss, accuracy, confusion matrix, per-class metrics) built from them.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, TensorData};
use serde::{Deserialize, Serialize};

use crate::data::{ImageData, Loader, chunks};
use crate::interpret::{ClassMetrics, Confusion};
use crate::models::Net;
use crate::transforms::Preprocess;

/// Batch size for inference on small images (28 px).
pub const EVAL_BATCH: usize = 256;

/// Batch size for inference at `pre`'s input size: [`EVAL_BATCH`] up to 64×64 pixels, fewer
/// for larger inputs (down to 16) so activations stay within a few hundred MB.
pub fn eval_batch(pre: &Preprocess) -> usize {
    (EVAL_BATCH * 64 * 64 / (pre.height * pre.width).max(1)).clamp(16, EVAL_BATCH)
}

/// Builds the normalized input tensor for images `indices` of `data`.
///
/// # Shapes
/// output: `[indices.len(), channels, height, width]`
pub fn batch_tensor(data: &ImageData, indices: &[usize], pre: &Preprocess, device: &Device) -> Tensor<4> {
    let b = Loader::new(data, pre).batch(indices);
    Tensor::from_data(TensorData::new(b.x, b.shape), device)
}

/// Builds the label tensor for images `indices` of `data`.
pub fn label_tensor(data: &ImageData, indices: &[usize], device: &Device) -> Tensor<1, Int> {
    let labels: Vec<i64> = indices.iter().map(|&i| data.labels[i] as i64).collect();
    Tensor::from_data(TensorData::new(labels, [indices.len()]), device)
}

/// Runs `f` over every image of `data` in batches of [`eval_batch`] (prepared ahead by
/// worker threads) and returns its output rows (`n × dim` row-major) and `dim`.
pub(crate) fn map_batches(data: &ImageData, pre: &Preprocess, device: &Device, f: impl Fn(Tensor<4>) -> Tensor<2>) -> (Vec<f32>, usize) {
    let (mut out, mut dim) = (Vec::new(), 0);
    let all: Vec<usize> = (0..data.len()).collect();
    Loader::new(data, pre).for_each(&chunks(&all, eval_batch(pre)), |b| {
        let y = f(Tensor::from_data(TensorData::new(b.x, b.shape), device));
        dim = y.dims()[1];
        out.extend(y.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 outputs"));
        true
    });
    (out, dim)
}

/// Class log-probabilities of every image of `data`, `n × classes` row-major.
pub fn log_probs(net: &Net, data: &ImageData, pre: &Preprocess, device: &Device) -> Vec<f32> {
    map_batches(data, pre, device, |x| log_softmax(net.forward(x), 1)).0
}

/// The result of evaluating a model on labelled images.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalReport {
    /// Number of images.
    pub n_images: usize,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction correct.
    pub accuracy: f64,
    /// 1 − accuracy.
    pub error_rate: f64,
    /// Per-class precision, recall, F1.
    pub per_class: Vec<ClassMetrics>,
    /// Confusion matrix.
    pub confusion: Confusion,
    /// Per-image loss (for top-losses views); not serialized.
    #[serde(skip)]
    pub losses: Vec<f32>,
    /// Per-image predicted label; not serialized.
    #[serde(skip)]
    pub predicted: Vec<usize>,
}

/// Evaluates `net` (in inference mode) on `data`.
pub fn evaluate(net: &Net, data: &ImageData, classes: &[String], pre: &Preprocess, device: &Device) -> EvalReport {
    report_from_log_probs(&log_probs(net, data, pre, device), &data.labels, classes)
}

/// The evaluation report of class log-probabilities `lp` (`labels.len() × classes` row-major).
pub fn report_from_log_probs(lp: &[f32], labels: &[usize], classes: &[String]) -> EvalReport {
    let k = classes.len();
    let mut predicted = Vec::with_capacity(labels.len());
    let mut losses = Vec::with_capacity(labels.len());
    for (row, &label) in lp.chunks_exact(k).zip(labels) {
        let arg = row.iter().enumerate().fold(0, |best, (i, v)| if *v > row[best] { i } else { best });
        predicted.push(arg);
        losses.push(-row[label]);
    }
    let confusion = Confusion::new(classes, labels, &predicted);
    let accuracy = confusion.accuracy();
    let loss = if losses.is_empty() { 0.0 } else { losses.iter().map(|&l| l as f64).sum::<f64>() / losses.len() as f64 };
    EvalReport {
        n_images: labels.len(),
        loss,
        accuracy,
        error_rate: 1.0 - accuracy,
        per_class: confusion.per_class(),
        confusion,
        losses,
        predicted,
    }
}
