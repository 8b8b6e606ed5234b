//! What trains during a phase, and how one optimizer step and one validation go for it: the
//! whole network on image batches, or — while a frozen body's features are cached — the head
//! alone on the stored features (the body, in inference mode, waits beside it).

use burn::nn::Linear;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::TensorData;

use super::loss::Objective;
use super::probe::{self, Probe, Problem};
use crate::data::{Batch, DataSplits, ImageData, Skipped};
use crate::infer::{Views, evaluate_tta, map_batches};
use crate::kernels::DropoutKey;
use crate::metrics::EvalReport;
use crate::models::Net;
use crate::task::Task;
use crate::transforms::Preprocess;
use crate::util::rng::Rng;

/// The network being trained, whole or as a body with its head apart.
pub(super) enum Trainee {
    /// The whole network trains on image batches.
    Network(Net),
    /// The head trains on the cached features of the frozen `body` (which keeps its old head).
    Head { body: Net, head: Linear, cache: Box<FeatureCache> },
}

/// The frozen body's features of the training and validation images.
pub(super) struct FeatureCache {
    train: Features,
    valid: Features,
}

/// One step's input: an image batch, or the indices of training images whose features are cached.
pub(super) enum StepInput<'a> {
    /// Images (for the whole network).
    Images(Batch),
    /// Indices into the training images (for the head on cached features).
    Cached(&'a [usize]),
}

/// The learning rates of one step: per parameter group, and the head's.
pub(super) struct Rates {
    pub(crate) groups: ModuleLearningRate,
    pub(crate) head: f64,
}

impl Trainee {
    /// The head on `net`'s cached body features (computed now, body in inference mode), or
    /// the network itself when it has no body / head split. Images that cannot be read are
    /// returned to be reported.
    pub fn cached(net: Net, data: &DataSplits, base: &Device) -> (Trainee, Vec<Skipped>) {
        let Some(head) = net.head().cloned() else { return (Trainee::Network(net), Vec::new()) };
        let body = net.valid();
        let (train, mut skipped) = Features::compute(&body, &data.train, &data.preprocess, base);
        let (valid, more) = Features::compute(&body, &data.valid, &data.preprocess, base);
        skipped.extend(more);
        (Trainee::Head { body: net, head, cache: Box::new(FeatureCache { train, valid }) }, skipped)
    }

    /// Whether steps take image batches (else indices of cached features).
    pub(crate) fn needs_images(&self) -> bool {
        matches!(self, Trainee::Network(_))
    }

    /// The whole network, with the trained head put back.
    pub(crate) fn into_net(self) -> Net {
        match self {
            Trainee::Network(net) => net,
            Trainee::Head { body, head, .. } => body.with_head(head),
        }
    }

    /// The whole network as it stands, in inference mode: what a checkpoint saves. Making it
    /// commits the batch-norm running statistics' pending update (saving the training network
    /// itself would store them one step behind; burn's `RunningState` syncs lazily).
    pub(crate) fn snapshot(&self) -> Net {
        match self {
            Trainee::Network(net) => net.valid(),
            Trainee::Head { body, head, .. } => body.valid().with_head(head.valid()),
        }
    }

    /// One optimizer step; returns the trainee after it and the batch loss (`None` when the
    /// batch held no readable image). `rng` draws the batch's mixing, if any, and dropout key.
    pub fn step(
        self,
        optim: &mut ModuleOptimizer,
        device: &Device,
        input: StepInput<'_>,
        rates: Rates,
        objective: &Objective,
        rng: &mut Rng,
    ) -> (Trainee, Option<f32>) {
        match (self, input) {
            (Trainee::Network(net), StepInput::Images(batch)) if !batch.indices.is_empty() => {
                let (net, loss) = step_network(optim, device, net, batch, rates.groups, objective, rng);
                (Trainee::Network(net), Some(loss))
            }
            (Trainee::Head { body, head, cache }, StepInput::Cached(idx)) => {
                let Some((x, y, targets)) = cache.train.batch(idx, device) else {
                    return (Trainee::Head { body, head, cache }, None);
                };
                let loss = objective.loss(head.forward(x), &y, &targets, None);
                let grads = GradientsParams::from_grads(loss.backward(), &head);
                let head = optim.step(rates.head, head, grads);
                (Trainee::Head { body, head, cache }, Some(loss.into_scalar::<f32>()))
            }
            (trainee, _) => (trainee, None),
        }
    }

    /// Replaces the head by the linear probe fitted on the cached features (see [`probe`]);
    /// `None` (nothing changed) for a trainee without cached features.
    pub fn probe(&mut self, task: &Task, base: &Device) -> Option<Probe> {
        let Trainee::Head { head, cache, .. } = self else { return None };
        let (d, k) = (cache.train.dim, task.names().len());
        let problem = |f: &Features| {
            let (x, labels, targets) = f.matrix();
            Problem::new(x, labels, targets, d, task, base)
        };
        let fitted = probe::fit(&problem(&cache.train), &problem(&cache.valid), vec![0.0; d * k + k]);
        let weight = head.weight.clone().map(|w| {
            let values = TensorData::new(fitted.weight.clone(), [d, k]);
            Tensor::from_data(values, &w.device()).set_require_grad(w.is_require_grad())
        });
        let bias = head.bias.clone().map(|param| {
            param.map(|b| {
                let values = TensorData::new(fitted.bias.clone(), [k]);
                Tensor::from_data(values, &b.device()).set_require_grad(b.is_require_grad())
            })
        });
        *head = Linear { weight, bias };
        Some(fitted)
    }

    /// Validates on `data`'s validation images for `task`; returns the report, the network in
    /// inference mode (what is kept when the epoch is the best) and the images that could not
    /// be read.
    pub fn validate(&self, data: &DataSplits, task: &Task, base: &Device) -> (EvalReport, Net, Vec<Skipped>) {
        match self {
            Trainee::Network(net) => {
                let valid = net.valid();
                let (report, skipped) = evaluate_tta(&valid, &data.valid, task, &data.preprocess, base, &Views::Plain);
                (report, valid, skipped)
            }
            Trainee::Head { body, head, cache } => {
                let head = head.valid();
                let report = cache.valid.report(&head, task, base);
                (report, body.valid().with_head(head), Vec::new())
            }
        }
    }
}

/// One optimizer step of the whole network on a prepared batch at rates `lr`, the batch
/// mixed as `objective` says and the dropout key drawn from `rng` (the step's generator);
/// returns the updated network and the batch loss.
pub(super) fn step_network(
    optim: &mut ModuleOptimizer,
    device: &Device,
    net: Net,
    mut batch: Batch,
    lr: impl Into<ModuleLearningRate>,
    objective: &Objective,
    rng: &mut Rng,
) -> (Net, f32) {
    let blend = objective.blend(&mut batch, rng);
    let net = net.with_dropout_key(DropoutKey::new(rng.next_u64()));
    let x = Tensor::from_data(TensorData::new(batch.x, batch.shape), device);
    let loss = objective.loss(net.forward(x), &batch.y, &batch.targets, blend.as_ref());
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    let net = optim.step(lr, net, grads);
    (net, loss.into_scalar::<f32>())
}

/// Body features of a split, computed once with the body in inference mode.
struct Features {
    /// `rows × dim` row-major.
    values: Vec<f32>,
    /// Features per image.
    dim: usize,
    /// The label of each image of the split.
    labels: Vec<usize>,
    /// Beyond single-label, the targets of each image of the split (`width` each).
    targets: Vec<f32>,
    /// Targets per image.
    width: usize,
    /// The row of each image of the split (`None`: it could not be read).
    row: Vec<Option<usize>>,
}

impl Features {
    /// Runs the body of `net` (inference mode) over every image of `data`.
    fn compute(net: &Net, data: &ImageData, pre: &Preprocess, device: &Device) -> (Features, Vec<Skipped>) {
        let rows =
            map_batches(data, pre, device, |x| net.pooled_features(x).expect("a network with a head has a body"));
        let mut row = vec![None; data.len()];
        for (r, &i) in rows.indices.iter().enumerate() {
            row[i] = Some(r);
        }
        let (labels, targets, width) = (data.labels().to_vec(), data.targets.clone(), data.target_width());
        (Features { values: rows.values, dim: rows.dim, labels, targets, width, row }, rows.skipped)
    }

    /// Every readable image's features (`rows × dim`), label and targets (`rows × width`), in
    /// row order.
    fn matrix(&self) -> (Vec<f32>, Vec<usize>, Vec<f32>) {
        let rows = self.values.len() / self.dim.max(1);
        let (mut labels, mut targets) = (vec![0; rows], vec![0.0; rows * self.width]);
        for (i, r) in self.row.iter().enumerate() {
            if let Some(r) = *r {
                labels[r] = self.labels[i];
                let w = self.width;
                targets[r * w..(r + 1) * w].copy_from_slice(&self.targets[i * w..(i + 1) * w]);
            }
        }
        (self.values.clone(), labels, targets)
    }

    /// The features (a tensor on `device`), labels and targets of the readable images among `idx`.
    ///
    /// # Shapes
    /// `[n, dim]`, `n` labels and `n × width` targets, `n` ≤ `idx.len()`
    fn batch(&self, idx: &[usize], device: &Device) -> Option<(Tensor<2>, Vec<i64>, Vec<f32>)> {
        let present: Vec<(usize, usize)> = idx.iter().filter_map(|&i| self.row[i].map(|r| (i, r))).collect();
        if present.is_empty() {
            return None;
        }
        let mut x = Vec::with_capacity(present.len() * self.dim);
        for &(_, r) in &present {
            x.extend_from_slice(&self.values[r * self.dim..(r + 1) * self.dim]);
        }
        let y: Vec<i64> = present.iter().map(|&(i, _)| self.labels[i] as i64).collect();
        let w = self.width;
        let targets = present.iter().flat_map(|&(i, _)| self.targets[i * w..(i + 1) * w].iter().copied()).collect();
        let n = present.len();
        Some((Tensor::from_data(TensorData::new(x, [n, self.dim]), device), y, targets))
    }

    /// The evaluation report of `head` on these (validation) features for `task`.
    fn report(&self, head: &Linear, task: &Task, device: &Device) -> EvalReport {
        let all: Vec<usize> = (0..self.row.len()).collect();
        let Some((x, labels, targets)) = self.batch(&all, device) else {
            return task.report(&[], &[], &[]);
        };
        let values = head.forward(x).into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 values");
        let labels: Vec<usize> = labels.iter().map(|&y| y as usize).collect();
        task.report(&values, &targets, &labels)
    }
}
