//! Running a network over decoded images in batches: class log-probabilities, the evaluation
//! report built from them, and — for a [`crate::bundle::Bundle`] — evaluation on a labelled
//! source and prediction for image files.

mod evaluate;
mod imagenet;
mod predict;
mod stream;

pub use crate::task::{Answer, Prediction};
pub use evaluate::EvalOutput;
pub use imagenet::efficientnet_lite_imagenet;
pub use predict::{FilePrediction, PredictOutput};
pub use stream::{InputFiles, Listed, Shard, StreamOptions, Streamed};

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;
use burn::tensor::ops::PadMode;

use crate::data::{ImageData, Loader, Skipped, chunks};
use crate::metrics::EvalReport;
use crate::models::Net;
use crate::task::Task;
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

    /// The targets (beyond single-label) of the images the rows are for, row-major.
    pub fn targets(&self, data: &ImageData) -> Vec<f32> {
        self.indices.iter().flat_map(|&i| data.targets(i).iter().copied()).collect()
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
    /// The mean of the probabilities of the image and of its four one-pixel shifts (up, down,
    /// left, right; black comes in at the edge): for data whose training augmentation shifts
    /// (`--aug crop`; on `--preset fashion` models it measured between -0.07 and +0.22 points).
    Shift,
}

/// Class log-probabilities of the readable images of `data`.
pub fn log_probs(net: &Net, data: &ImageData, pre: &Preprocess, device: &Device) -> Rows {
    log_probs_tta(net, data, pre, device, Tta::None)
}

/// Class log-probabilities of the readable images of `data`, averaged over the views of `tta`.
pub(crate) fn log_probs_tta(net: &Net, data: &ImageData, pre: &Preprocess, device: &Device, tta: Tta) -> Rows {
    let black = normalized_black(pre, device);
    map_batches(data, pre, device, |x| {
        let views = match tta {
            Tta::None => return log_softmax(net.forward(x), 1),
            Tta::Flip => vec![x.clone().flip([3]), x],
            Tta::Shift => shifts(x, black.clone()),
        };
        log_mean_exp(views.into_iter().map(|v| log_softmax(net.forward(v), 1)).collect())
    })
}

/// The network's raw outputs for the readable images of `data`, averaged over the views of
/// `tta` (the tasks beyond single-label read their answers from these).
pub(crate) fn outputs_tta(net: &Net, data: &ImageData, pre: &Preprocess, device: &Device, tta: Tta) -> Rows {
    let black = normalized_black(pre, device);
    map_batches(data, pre, device, |x| {
        let views = match tta {
            Tta::None => return net.forward(x),
            Tta::Flip => vec![x.clone().flip([3]), x],
            Tta::Shift => shifts(x, black.clone()),
        };
        let n = views.len() as f32;
        Tensor::stack::<3>(views.into_iter().map(|v| net.forward(v)).collect(), 0).sum_dim(0).squeeze_dim(0) / n
    })
}

/// A black pixel after normalization, one value per channel, shape `[1, C, 1, 1]`.
fn normalized_black(pre: &Preprocess, device: &Device) -> Tensor<4> {
    let (mean, std) = pre.mean_std();
    let black: Vec<f32> = mean.iter().zip(std).map(|(m, s)| -m / s).collect();
    Tensor::<1>::from_data(TensorData::new(black.clone(), [black.len()]), device).reshape([1, -1, 1, 1])
}

/// `x` and its four one-pixel shifts, `black` (the normalized 0, one value per channel, shape
/// `[1, C, 1, 1]`) coming in at the edge.
fn shifts(x: Tensor<4>, black: Tensor<4>) -> Vec<Tensor<4>> {
    let [_, _, h, w] = x.dims();
    let padded = (x.clone() - black.clone()).pad((1, 1, 1, 1), PadMode::Constant(0.0)) + black;
    let mut views = vec![x];
    for (top, left) in [(0, 1), (2, 1), (1, 0), (1, 2)] {
        views.push(padded.clone().narrow(2, top, h).narrow(3, left, w));
    }
    views
}

/// `log(mean(eˣ))` over the parts, elementwise and without overflow: the log of the mean of
/// their probabilities.
fn log_mean_exp(parts: Vec<Tensor<2>>) -> Tensor<2> {
    let n = parts.len() as f32;
    let stacked = Tensor::stack::<3>(parts, 0);
    let m = stacked.clone().max_dim(0);
    ((stacked - m.clone()).exp().sum_dim(0).log() + m - n.ln()).squeeze_dim(0)
}

/// Evaluates `net` (in inference mode) on `data` (its readable images) for `task`.
pub fn evaluate(net: &Net, data: &ImageData, task: &Task, pre: &Preprocess, device: &Device) -> EvalReport {
    evaluate_tta(net, data, task, pre, device, Tta::None).0
}

/// [`evaluate`] with test-time augmentation, and the images that could not be read.
pub(crate) fn evaluate_tta(
    net: &Net,
    data: &ImageData,
    task: &Task,
    pre: &Preprocess,
    device: &Device,
    tta: Tta,
) -> (EvalReport, Vec<Skipped>) {
    let out = task_outputs(net, data, task, pre, device, tta);
    (task.report(&out.values, &out.targets(data), &out.labels(data)), out.skipped)
}

/// What `task` reads of `net`'s answers for the readable images of `data` (see
/// [`Task::report`], [`Task::answer`]), averaged over the views of `tta`: class
/// log-probabilities for single-label (the views averaged as probabilities), raw outputs for
/// the other tasks.
pub(crate) fn task_outputs(
    net: &Net,
    data: &ImageData,
    task: &Task,
    pre: &Preprocess,
    device: &Device,
    tta: Tta,
) -> Rows {
    if task.is_single_label() {
        log_probs_tta(net, data, pre, device, tta)
    } else {
        outputs_tta(net, data, pre, device, tta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_mean_exp_of_log_probabilities_is_the_log_of_their_mean() {
        let device = Device::default();
        let t = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [1, 3]), &device);
        let (p, q) = ([0.7f32, 0.2, 0.1], [0.1f32, 0.1, 0.8]);
        let out = log_mean_exp(vec![t(p.iter().map(|v| v.ln()).collect()), t(q.iter().map(|v| v.ln()).collect())]);
        let out: Vec<f32> = out.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
        for i in 0..3 {
            assert!((out[i].exp() - (p[i] + q[i]) / 2.0).abs() < 1e-6, "{out:?}");
        }
        let huge = log_mean_exp(vec![t(vec![-1000.0; 3]), t(vec![-1000.0; 3]), t(vec![-1000.0; 3])]);
        assert!(
            huge.into_data().convert::<f32>().try_into_vec::<f32>().unwrap().iter().all(|v| (v + 1000.0).abs() < 1e-3)
        );
    }

    #[test]
    fn shifted_views_move_the_image_by_one_pixel_and_bring_in_black() {
        let device = Device::default();
        let x = Tensor::<4>::from_data(
            TensorData::new((1..=9).map(|v| v as f32).collect::<Vec<_>>(), [1, 1, 3, 3]),
            &device,
        );
        let black = Tensor::<4>::from_data(TensorData::new(vec![-2.0f32], [1, 1, 1, 1]), &device);
        let views: Vec<Vec<f32>> =
            shifts(x, black).into_iter().map(|v| v.into_data().convert::<f32>().try_into_vec().unwrap()).collect();
        let b = -2.0;
        assert_eq!(views[0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        assert_eq!(views[1], [b, b, b, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "down");
        assert_eq!(views[2], [4.0, 5.0, 6.0, 7.0, 8.0, 9.0, b, b, b], "up");
        assert_eq!(views[3], [b, 1.0, 2.0, b, 4.0, 5.0, b, 7.0, 8.0], "right");
        assert_eq!(views[4], [2.0, 3.0, b, 5.0, 6.0, b, 8.0, 9.0, b], "left");
    }
}
