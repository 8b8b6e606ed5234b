//! Running a network over decoded images in batches: class log-probabilities, the evaluation
//! report built from them, and — for a [`crate::bundle::Bundle`] — evaluation on a labelled
//! source and prediction for image files.

mod evaluate;
mod imagenet;
mod predict;

pub use evaluate::EvalOutput;
pub use imagenet::efficientnet_lite_imagenet;
pub use predict::{FilePrediction, PredictOutput, Prediction, expand_inputs};

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;

use crate::data::{ImageData, Loader, Skipped, chunks};
use crate::metrics::EvalReport;
use crate::models::Net;
use crate::transforms::Preprocess;

/// Batch size for inference on small images (28 px).
pub const EVAL_BATCH: usize = 256;

/// Batch size for inference at `pre`'s input size: [`EVAL_BATCH`] up to 64×64 pixels, fewer
/// for larger inputs (down to 16) so activations stay within a few hundred MB.
pub(crate) fn eval_batch(pre: &Preprocess) -> usize {
    (EVAL_BATCH * 64 * 64 / (pre.height() * pre.width()).max(1)).clamp(16, EVAL_BATCH)
}

/// Rows a function gave for the images of a split that could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// `indices.len() × dim` row-major.
    pub values: Vec<f32>,
    /// Values per image.
    pub dim: usize,
    /// Which images of the split the rows are for, in order.
    pub indices: Vec<usize>,
    /// Images that could not be read (streamed files gone or damaged), and why.
    pub skipped: Vec<Skipped>,
}

impl Rows {
    /// The labels of the images the rows are for.
    pub fn labels(&self, data: &ImageData) -> Vec<usize> {
        self.indices.iter().map(|&i| data.labels()[i]).collect()
    }
}

/// Calls `f` with every readable image of `data` in batches of [`eval_batch`] (prepared
/// ahead by worker threads), each with the images' indices in `data`; returns the images that
/// could not be read.
pub(crate) fn each_batch(
    data: &ImageData,
    pre: &Preprocess,
    device: &Device,
    mut f: impl FnMut(Tensor<4>, Vec<usize>),
) -> Vec<Skipped> {
    let mut skipped = Vec::new();
    let all: Vec<usize> = (0..data.len()).collect();
    Loader::new(data, pre).for_each(&chunks(&all, eval_batch(pre)), |b| {
        skipped.extend(b.skipped);
        if !b.indices.is_empty() {
            f(Tensor::from_data(TensorData::new(b.x, b.shape), device), b.indices);
        }
        true
    });
    skipped
}

/// Runs `f` over every image of `data` in batches ([`each_batch`]) and returns its output rows.
pub(crate) fn map_batches(
    data: &ImageData,
    pre: &Preprocess,
    device: &Device,
    f: impl Fn(Tensor<4>) -> Tensor<2>,
) -> Rows {
    let (mut values, mut dim, mut indices) = (Vec::new(), 0, Vec::new());
    let skipped = each_batch(data, pre, device, |x, batch| {
        let y = f(x);
        dim = y.dims()[1];
        values.extend(y.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 values after convert"));
        indices.extend(batch);
    });
    Rows { values, dim, indices, skipped }
}

/// Test-time augmentation: which views of each image a prediction averages (fastai's `tta`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Tta {
    /// The image alone.
    #[default]
    None,
    /// The mean of the probabilities of the image and of its mirror image (left–right): for
    /// data whose training augmentation flips.
    Flip,
}

/// Class log-probabilities of the readable images of `data`.
pub fn log_probs(net: &Net, data: &ImageData, pre: &Preprocess, device: &Device) -> Rows {
    log_probs_tta(net, data, pre, device, Tta::None)
}

/// Class log-probabilities of the readable images of `data`, averaged over the views of `tta`.
pub fn log_probs_tta(net: &Net, data: &ImageData, pre: &Preprocess, device: &Device, tta: Tta) -> Rows {
    map_batches(data, pre, device, |x| match tta {
        Tta::None => log_softmax(net.forward(x), 1),
        Tta::Flip => {
            let mirrored = log_softmax(net.forward(x.clone().flip([3])), 1);
            log_mean_exp(log_softmax(net.forward(x), 1), mirrored)
        }
    })
}

/// `log((eᵃ + eᵇ) / 2)` elementwise, without overflow: the log of the mean of two probabilities.
fn log_mean_exp(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    let m = a.clone().max_pair(b.clone());
    ((a - m.clone()).exp() + (b - m.clone()).exp()).log() + m - std::f32::consts::LN_2
}

/// Evaluates `net` (in inference mode) on `data` (its readable images).
pub fn evaluate(net: &Net, data: &ImageData, classes: &[String], pre: &Preprocess, device: &Device) -> EvalReport {
    evaluate_tta(net, data, classes, pre, device, Tta::None)
}

/// [`evaluate`] with test-time augmentation.
pub fn evaluate_tta(
    net: &Net,
    data: &ImageData,
    classes: &[String],
    pre: &Preprocess,
    device: &Device,
    tta: Tta,
) -> EvalReport {
    let lp = log_probs_tta(net, data, pre, device, tta);
    EvalReport::from_log_probs(&lp.values, &lp.labels(data), classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_mean_exp_of_two_log_probabilities_is_the_log_of_their_mean() {
        let device = Device::default();
        let t = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [1, 3]), &device);
        let (p, q) = ([0.7f32, 0.2, 0.1], [0.1f32, 0.1, 0.8]);
        let out = log_mean_exp(t(p.iter().map(|v| v.ln()).collect()), t(q.iter().map(|v| v.ln()).collect()));
        let out: Vec<f32> = out.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
        for i in 0..3 {
            assert!((out[i].exp() - (p[i] + q[i]) / 2.0).abs() < 1e-6, "{out:?}");
        }
        let huge = log_mean_exp(t(vec![-1000.0; 3]), t(vec![-1000.0; 3]));
        assert!(
            huge.into_data().convert::<f32>().try_into_vec::<f32>().unwrap().iter().all(|v| (v + 1000.0).abs() < 1e-3)
        );
    }
}
