//! Running a network over decoded images in batches: class log-probabilities, the evaluation
//! report built from them, and — for a [`crate::bundle::Bundle`] — evaluation on a labelled
//! source and prediction for image files.

mod evaluate;
mod imagenet;
mod predict;
mod stream;
mod tta;

pub use crate::task::{Answer, Prediction};
pub use evaluate::EvalOutput;
pub use imagenet::efficientnet_lite_imagenet;
pub use predict::{FilePrediction, PredictOutput};
pub use stream::{InputFiles, Listed, Shard, StreamOptions, Streamed};
pub(crate) use tta::Views;
pub use tta::{MAX_TTA_VIEWS, Tta, TtaOptions};
use tta::{log_weighted_mean_exp, weighted_mean};

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;

use crate::data::{ImageData, Loader, Skipped, chunks};
use crate::metrics::EvalReport;
use crate::models::Net;
use crate::task::Task;
use crate::transforms::{Augment, Preprocess};

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
    f: impl FnMut(Tensor<4>, Vec<usize>),
) -> Vec<Skipped> {
    each_view_batch(data, pre, device, None, f)
}

/// [`each_batch`], with `views` (an augmentation and a count) making that many augmented
/// copies of each batch after it in the same tensor (see [`Loader::with_views`]).
fn each_view_batch(
    data: &ImageData,
    pre: &Preprocess,
    device: &Device,
    views: Option<(&Augment, usize)>,
    mut f: impl FnMut(Tensor<4>, Vec<usize>),
) -> Vec<Skipped> {
    let mut skipped = Vec::new();
    let all: Vec<usize> = (0..data.len()).collect();
    let mut loader = Loader::new(data, pre);
    let mut batch = eval_batch(pre);
    if let Some((augment, n)) = views {
        loader = loader.with_views(augment, n);
        // A batch's floats stay within those of fastai's default 4 views (5 copies).
        batch = (batch * 5 / (n + 1)).clamp(1, batch);
    }
    loader.for_each(&chunks(&all, batch), |b| {
        skipped.extend(b.skipped);
        if !b.indices.is_empty() {
            let [n, c, h, w] = b.shape;
            f(Tensor::from_data(TensorData::new(b.x, [n * b.views, c, h, w]), device), b.indices);
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
    f: impl Fn(Tensor<4>) -> Tensor<2> + Sync,
) -> Rows {
    map_view_batches(data, pre, device, &Views::Plain, |x, _| f(x))
}

/// Runs `f` over every batch of `data` with the loader's views of `views` (`f` gets the batch
/// and its number of images) and returns its output rows.
fn map_view_batches(
    data: &ImageData,
    pre: &Preprocess,
    device: &Device,
    views: &Views,
    f: impl Fn(Tensor<4>, usize) -> Tensor<2> + Sync,
) -> Rows {
    let (mut values, mut dim, mut indices) = (Vec::new(), 0, Vec::new());
    let skipped = each_view_batch(data, pre, device, views.loader_views(), |x, batch| {
        let y = on_pool_if_small(batch.len(), || f(x, batch.len()));
        dim = y.dims()[1];
        values.extend(y.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 values after convert"));
        indices.extend(batch);
    });
    Rows { values, dim, indices, skipped }
}

/// Runs `f` (a network's forward pass over `images` images) on a thread of the pool when the
/// batch has fewer images than the pool has threads (batch 1 at prediction time). The
/// kernels' parallel loops then start from inside the pool instead of each one waking the
/// pool from outside and waiting: EfficientNet-Lite0 at batch 1 measured about 15% faster on
/// 2 cores (`bench/onnx_speed.sh`). Larger batches run from the caller, as training does
/// (there the pool measured slower).
pub(crate) fn on_pool_if_small<R: Send>(images: usize, f: impl FnOnce() -> R + Send) -> R {
    if images < rayon::current_num_threads() { rayon::scope(|_| f()) } else { f() }
}

/// Class log-probabilities of the readable images of `data`.
pub fn log_probs(net: &Net, data: &ImageData, pre: &Preprocess, device: &Device) -> Rows {
    log_probs_tta(net, data, pre, device, &Views::Plain)
}

/// Class log-probabilities of the readable images of `data`: the log of the (weighted) mean
/// of the probabilities of the views of `views`.
pub(crate) fn log_probs_tta(net: &Net, data: &ImageData, pre: &Preprocess, device: &Device, views: &Views) -> Rows {
    map_view_batches(data, pre, device, views, |x, images| match views {
        Views::Plain => log_softmax(net.forward(x), 1),
        _ => log_weighted_mean_exp(
            views.split(x, images, pre).into_iter().map(|(v, w)| (log_softmax(net.forward(v), 1), w)).collect(),
        ),
    })
}

/// The network's raw outputs for the readable images of `data`, the (weighted) mean over the
/// views of `views` (the tasks beyond single-label read their answers from these).
pub(crate) fn outputs_tta(net: &Net, data: &ImageData, pre: &Preprocess, device: &Device, views: &Views) -> Rows {
    map_view_batches(data, pre, device, views, |x, images| match views {
        Views::Plain => net.forward(x),
        _ => weighted_mean(views.split(x, images, pre).into_iter().map(|(v, w)| (net.forward(v), w)).collect()),
    })
}

/// Evaluates `net` (in inference mode) on `data` (its readable images) for `task`.
pub fn evaluate(net: &Net, data: &ImageData, task: &Task, pre: &Preprocess, device: &Device) -> EvalReport {
    evaluate_tta(net, data, task, pre, device, &Views::Plain).0
}

/// [`evaluate`] with test-time augmentation, and the images that could not be read.
pub(crate) fn evaluate_tta(
    net: &Net,
    data: &ImageData,
    task: &Task,
    pre: &Preprocess,
    device: &Device,
    views: &Views,
) -> (EvalReport, Vec<Skipped>) {
    let out = task_outputs(net, data, task, pre, device, views);
    (task.report(&out.values, &out.targets(data), &out.labels(data)), out.skipped)
}

/// What `task` reads of `net`'s answers for the readable images of `data` (see
/// [`Task::report`], [`Task::answer`]), averaged over the views of `views`: class
/// log-probabilities for single-label (the views averaged as probabilities), raw outputs for
/// the other tasks.
pub(crate) fn task_outputs(
    net: &Net,
    data: &ImageData,
    task: &Task,
    pre: &Preprocess,
    device: &Device,
    views: &Views,
) -> Rows {
    if task.is_single_label() {
        log_probs_tta(net, data, pre, device, views)
    } else {
        outputs_tta(net, data, pre, device, views)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_batch_smaller_than_the_pool_runs_on_a_pool_thread_and_a_larger_one_on_the_caller() {
        let threads = rayon::current_num_threads();
        assert!(super::on_pool_if_small(threads - 1, rayon::current_thread_index).is_some(), "{threads} threads");
        assert_eq!(super::on_pool_if_small(threads, rayon::current_thread_index), None);
    }
}
