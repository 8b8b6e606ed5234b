//! What a learner holds: what a fit reads and leaves alone ([`Env`]), what it changes
//! ([`State`]), and what both the learner and the trainer build from them: a bundle's metadata.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use burn::module::ParamGroup;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;

use super::checkpoint::Progress;
use super::report::TrainReport;
use super::run_dir::RunDir;
use crate::bundle::{BundleMeta, BundleMetrics, DataInfo, Score};
use crate::config::TrainConfig;
use crate::data::DataSplits;
use crate::metrics::EvalReport;
use crate::models::Net;
use crate::task::Task;

/// What a fit reads and leaves alone. The learner changes it between fits: `fastai_fine_tune`
/// replaces the config, `resume` the layer groups, `with_run_dir` the run folder.
pub(crate) struct Env {
    pub(crate) config: TrainConfig,
    pub(crate) data: DataSplits,
    /// What the model answers, and the training targets' statistics.
    pub(crate) task: Task,
    /// The training device (with autodiff).
    pub(crate) device: Device,
    /// The same device without autodiff, for inference.
    pub(crate) base: Device,
    pub(crate) pool: rayon::ThreadPool,
    /// Layer groups for discriminative rates (networks with a body / head split).
    pub(crate) groups: Option<Vec<ParamGroup>>,
    pub(crate) interrupt: Arc<AtomicBool>,
    pub(crate) run_dir: Option<RunDir>,
}

/// What training changes.
pub(crate) struct State {
    /// The network; `None` only while a [`Trainer`] holds it (it puts it back when dropped).
    pub(crate) net: Option<Net>,
    pub(crate) optim: ModuleOptimizer,
    pub(crate) progress: Progress,
    /// The best weights so far (inference mode), their validation report and epoch.
    pub(crate) kept: Option<Kept>,
    pub(crate) report: Option<TrainReport>,
}

/// Weights kept as the best so far.
#[derive(Clone)]
pub(crate) struct Kept {
    pub(crate) net: Net,
    pub(crate) report: EvalReport,
    pub(crate) epoch: usize,
}

/// The bundle metadata of a run: its data, preprocessing, config and (once known) metrics.
pub(crate) fn bundle_meta(env: &Env, report: Option<&TrainReport>) -> BundleMeta {
    let data = &env.data;
    let mut meta = BundleMeta::new(data.classes.clone(), env.config.model.arch.clone(), data.preprocess.clone());
    meta.train_config = Some(env.config.clone());
    meta.task = Some(env.task.clone());
    let score = |r: &EvalReport| Score { accuracy: r.accuracy, loss: r.loss, n_images: r.n_images };
    meta.metrics = report.map(|r| BundleMetrics {
        best_epoch: r.best_epoch,
        valid: Some(score(&r.final_metrics)),
        test: r.test_metrics.as_ref().map(score),
    });
    meta.data = Some(DataInfo {
        source: data.record.source.clone(),
        kind: Some(data.kind),
        fingerprints: data.fingerprints.clone(),
        image_hashes: data.image_hashes.clone(),
        train_images: data.train.len(),
        valid_images: data.valid.len(),
    });
    meta
}
