//! Training from the page: the form's options as a [`TrainConfig`] (the library's defaults for
//! what it leaves out), a run folder under the project's `runs/`, the run on a thread of its
//! own with its progress as job events, Stop as Ctrl-C is for `imgclass train` (the run stops
//! after its step, keeps its best weights and can be resumed), Resume as `--resume`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use imgclass::bundle::Bundle;
use imgclass::config::{TrainConfig, Weights};
use imgclass::models::ArchKind;
use imgclass::train::{Callback, EpochMetrics, Existing, Learner, RunDir, TrainReport};
use imgclass::transforms::{AugPreset, Augment};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::error::{ApiError, ApiResult, chain};
use crate::jobs::{EndGuard, EventKind, Job, JobState};
use crate::names::check_name;
use crate::store::{DATA, RUNS};

/// The page's training form; what it leaves out takes the library's defaults. A pretrained
/// EfficientNet-Lite is fine-tuned from a linear probe (LP-FT), its epochs chosen from the
/// data unless given: the small-data recipe of `imgclass train --arch efficientnet_lite0 --fine-tune`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainRequest {
    /// The run folder's name (default: the first free `expN`).
    pub run: Option<String>,
    /// The architecture.
    pub arch: Option<ArchKind>,
    /// Epochs.
    pub epochs: Option<usize>,
    /// Images per step.
    pub batch_size: Option<usize>,
    /// The peak learning rate.
    pub lr: Option<f64>,
    /// Training augmentation.
    pub aug: Option<AugPreset>,
}

impl TrainRequest {
    /// The training config for the images in `data`, validated (a bad value is a 400 naming its field).
    pub fn config(&self, data: &Path, max_pixels: u64) -> ApiResult<TrainConfig> {
        let mut c = TrainConfig::default();
        if let Some(kind) = self.arch {
            c.model.arch = kind.arch();
        }
        if c.model.arch.lite_variant().is_some() {
            c.model.weights = Weights::Pretrained;
            c = c.probe_then_fine_tune(self.epochs);
        } else if let Some(epochs) = self.epochs {
            c.fit.epochs = epochs;
        }
        if let Some(b) = self.batch_size {
            c.fit.batch_size = b;
        }
        if let Some(lr) = self.lr {
            c.optimizer.lr = lr;
        }
        if let Some(aug) = self.aug {
            c.transforms.augment = Augment::preset(aug);
        }
        c.data.path = Some(data.to_path_buf());
        c.data.max_pixels = max_pixels;
        c.validate()?;
        Ok(c)
    }
}

/// How a job starts its learner.
enum Start {
    Fresh(TrainConfig),
    Resume(TrainConfig),
}

/// Starts training `project` as `request` says: a new run folder, a job, a thread.
pub fn start(state: &AppState, project: &str, request: &TrainRequest) -> ApiResult<Arc<Job>> {
    let dir = state.root().project_dir(project)?;
    let config = request.config(&dir.join(DATA), state.config().limits.max_pixels)?;
    let runs = dir.join(RUNS);
    std::fs::create_dir_all(&runs).map_err(|e| ApiError::internal("creating runs", e))?;
    let path = match &request.run {
        Some(name) => runs.join(check_name("run", name)?),
        None => imgclass::train::next_free_run(&runs)?,
    };
    let run_dir = match RunDir::create(Some(&path), Existing::Refuse) {
        Err(imgclass::Error::RunExists { .. }) => {
            return Err(ApiError::Conflict(format!(
                "run {:?} exists already; resume it or name another",
                file_name(&path)
            )));
        }
        other => other?,
    };
    launch(state, project, run_dir, Start::Fresh(config))
}

/// Resumes the project's run `run` where it stopped.
pub fn resume(state: &AppState, project: &str, run: &str) -> ApiResult<Arc<Job>> {
    let path = state.root().run_dir(project, run)?;
    let run_dir = RunDir::open(&path)?;
    let config = run_dir.read_config()?;
    if config.data.path.as_deref() != Some(&state.root().project_dir(project)?.join(DATA)) {
        return Err(ApiError::Unprocessable(format!(
            "run {run:?} trained on other data than this project's; resume it with imgclass train --resume"
        )));
    }
    launch(state, project, run_dir, Start::Resume(config))
}

/// Registers the job (409 when the project is busy) and starts its thread.
fn launch(state: &AppState, project: &str, run_dir: RunDir, start: Start) -> ApiResult<Arc<Job>> {
    let job = Job::new("train", project, &file_name(run_dir.path()));
    state.jobs().claim(job.clone())?;
    let thread_job = job.clone();
    std::thread::Builder::new()
        .name(format!("train {project}"))
        .spawn(move || run(thread_job, run_dir, start))
        .map_err(|e| ApiError::internal("starting a training thread", e))?;
    Ok(job)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The job's thread: trains, then reports how it ended.
fn run(job: Arc<Job>, run_dir: RunDir, start: Start) {
    let _guard = EndGuard(job.clone());
    let fresh = matches!(start, Start::Fresh(_));
    let (state, message, result) = match train(&job, run_dir.clone(), start) {
        Ok(None) => (JobState::Stopped, "stopped before training began".to_string(), None),
        Ok(Some(report)) => summary(&report, &run_dir),
        Err(e) => (JobState::Failed, chain(&e), None),
    };
    if fresh && state != JobState::Done && !run_dir.model_path().exists() {
        remove_empty_run(run_dir);
    }
    job.emit(EventKind::End { state, message, result });
}

/// Removes a run folder that holds nothing but its lock.
fn remove_empty_run(run_dir: RunDir) {
    let path = run_dir.path().to_path_buf();
    drop(run_dir);
    let only_lock = std::fs::read_dir(&path).is_ok_and(|entries| entries.flatten().all(|e| e.file_name() == ".lock"));
    if only_lock {
        let _ = std::fs::remove_dir_all(&path);
    }
}

/// Loads the data, builds the learner and fits it; `None` when stopped while loading.
fn train(job: &Arc<Job>, run_dir: RunDir, start: Start) -> imgclass::Result<Option<TrainReport>> {
    let config = match &start {
        Start::Fresh(c) | Start::Resume(c) => c.clone(),
    };
    if let (Some(variant), Weights::Pretrained) = (config.model.arch.lite_variant(), &config.model.weights) {
        job.emit(EventKind::State {
            state: JobState::Loading,
            message: "fetching the pretrained weights (once)".into(),
        });
        imgclass::models::pretrained::fetch_efficientnet_lite(variant)?;
    }
    job.emit(EventKind::State { state: JobState::Loading, message: "reading the images".into() });
    let source = config.open_data()?;
    source.require_trainable()?;
    let data = config.load(&source, &|done, total| job.emit(EventKind::Loading { done, total }))?;
    for s in data.skipped().iter().take(20) {
        job.emit(EventKind::Message { text: format!("skipped {}: {}", s.path.display(), s.reason) });
    }
    if job.stop_requested() {
        return Ok(None);
    }
    let device = imgclass::default_device();
    let mut learner = match start {
        Start::Fresh(config) => Learner::new(data, config, device)?.with_run_dir(run_dir.clone()),
        Start::Resume(config) => Learner::resume(data, config, device, run_dir.clone())?,
    };
    job.emit(EventKind::State {
        state: JobState::Running,
        message: format!("training {}", learner.config().model.arch.name()),
    });
    let mut progress = Progress { job: job.clone(), interrupt: learner.interrupt_handle(), last: None };
    let report = learner.fit(&mut progress)?;
    if !report.diverged() {
        let html = Bundle::load(&run_dir.model_path(), &imgclass::default_device())
            .and_then(|bundle| imgclass::interpret::write_report(&run_dir, &bundle));
        if let Err(e) = html {
            job.emit(EventKind::Message { text: format!("no report.html: {}", chain(&e)) });
        }
    }
    Ok(Some(report))
}

/// How the run ended, for the `End` event.
fn summary(report: &TrainReport, run_dir: &RunDir) -> (JobState, String, Option<serde_json::Value>) {
    let v = &report.final_metrics;
    let metrics: serde_json::Map<String, serde_json::Value> =
        v.metrics().into_iter().map(|(k, x)| (k.to_string(), x.into())).collect();
    let named: Vec<String> = v.metrics().iter().map(|(k, x)| format!("{k} {x:.4}")).collect();
    let (state, how) = if report.interrupted() {
        (JobState::Stopped, "stopped; resume to train the rest")
    } else if report.diverged() {
        (JobState::Failed, "diverged (the loss became NaN); lower the learning rate")
    } else {
        (JobState::Done, if report.early_stopped() { "stopped early (no better validation loss)" } else { "done" })
    };
    let message =
        format!("{how}: best epoch {} of {}, valid {}", report.best_epoch, report.history.len(), named.join(", "));
    let result = json!({
        "run": file_name(run_dir.path()),
        "best_epoch": report.best_epoch,
        "epochs": report.history.len(),
        "valid": metrics,
        "valid_loss": v.loss,
        "seconds": report.seconds,
        "ending": report.ending,
        "has_model": run_dir.model_path().exists(),
    });
    (state, message, Some(result))
}

/// Training progress as job events; a stop asked by the page interrupts the learner.
struct Progress {
    job: Arc<Job>,
    interrupt: Arc<AtomicBool>,
    last: Option<Instant>,
}

impl Callback for Progress {
    fn epoch_start(&mut self, epoch: usize, epochs: usize, batches: usize) {
        self.job.emit(EventKind::EpochStart { epoch, epochs, batches });
    }

    fn batch_end(&mut self, step: usize, loss: f32, lr: f64) {
        if self.job.stop_requested() {
            self.interrupt.store(true, Ordering::SeqCst);
        }
        if self.last.is_none_or(|t| t.elapsed() >= Duration::from_millis(250)) {
            self.last = Some(Instant::now());
            self.job.emit(EventKind::Batch { step, loss, lr });
        }
    }

    fn epoch_end(&mut self, metrics: &EpochMetrics, improved: bool) {
        let mut metrics = metrics.clone();
        metrics.batch_losses.clear();
        self.job.emit(EventKind::Epoch { metrics, improved });
    }

    fn message(&mut self, text: &str) {
        self.job.emit(EventKind::Message { text: text.to_string() });
    }
}
