//! Cleaning from the page: `imgclass clean` as a job (each image scored by a model that did
//! not train on it, confident learning, outliers, near-duplicates), its suspects read back
//! from the `clean.csv` it writes, and the page's decisions carried out by the very code of
//! `imgclass clean apply` and `clean undo` (journalled, undoable, safe against `kill -9`), so
//! the page and the CLI never disagree. The files live in `PROJECT/clean/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use imgclass::config::TrainConfig;
use imgclass::curate::LabelStore;
use imgclass::interpret::clean::{CleanReport, RankBy, out_of_fold};
use imgclass::train::{Existing, RunDir};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::error::{ApiError, ApiResult, chain};
use crate::jobs::{EndGuard, EventKind, Job, JobState};
use crate::store::DATA;

/// The folder of a project's cleaning files.
pub const CLEAN: &str = "clean";

/// How many suspects the picture shows.
const SHOWN: usize = 25;

/// The page's cleaning form: `imgclass clean`'s quick recipe unless it says otherwise.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CleanRequest {
    /// Folds of the cross-validation.
    pub folds: usize,
    /// Epochs each fold's model trains.
    pub epochs: usize,
}

impl Default for CleanRequest {
    fn default() -> Self {
        CleanRequest {
            folds: imgclass::interpret::clean::DEFAULT_FOLDS,
            epochs: imgclass::interpret::clean::QUICK_EPOCHS,
        }
    }
}

/// One suspect as the page shows it.
#[derive(Debug, Serialize)]
pub struct SuspectRow {
    /// `class/name` inside the project's data (the image's URL under the class).
    pub file: String,
    /// The given label.
    pub label: String,
    /// The suggested one.
    pub suggested: String,
    /// How suspicious, 0–1.
    pub score: f32,
    /// `label_error`, `outlier` or `duplicate`.
    pub issue: String,
    /// For a duplicate, the image it repeats (`class/name`).
    pub other: String,
    /// `keep`, `delete` or `relabel:CLASS`, as `clean.csv` says.
    pub action: String,
}

/// One decision of the page.
#[derive(Debug, Deserialize)]
pub struct Decision {
    /// `class/name`, as the suspects list gives it.
    pub file: String,
    /// `keep`, `delete` or `relabel:CLASS`.
    pub action: String,
}

/// Starts `imgclass clean` on the project's images as a job.
pub fn start(state: &AppState, project: &str, request: &CleanRequest) -> ApiResult<Arc<Job>> {
    let dir = state.root().project_dir(project)?;
    let mut config = TrainConfig::default();
    config.fit.epochs = request.epochs;
    config.data.path = Some(dir.join(DATA));
    config.data.max_pixels = state.config().limits.max_pixels;
    config.validate()?;
    if request.folds < 2 || request.folds > 20 {
        return Err(ApiError::BadRequest("folds must be 2 to 20".into()));
    }
    let run_dir = RunDir::create(Some(&dir.join(CLEAN)), Existing::Keep)?;
    let job = Job::new("clean", project, CLEAN);
    state.jobs().claim(job.clone())?;
    let (thread_job, folds) = (job.clone(), request.folds);
    std::thread::Builder::new()
        .name(format!("clean {project}"))
        .spawn(move || {
            let _guard = EndGuard(thread_job.clone());
            let end = match find(&thread_job, &config, folds, &run_dir) {
                Ok(n) => (JobState::Done, format!("{n} suspects"), Some(json!({ "suspects": n }))),
                Err(e) => (JobState::Failed, chain(&e), None),
            };
            thread_job.emit(EventKind::End { state: end.0, message: end.1, result: end.2 });
        })
        .map_err(|e| ApiError::internal("starting a cleaning thread", e))?;
    Ok(job)
}

/// Scores, finds and writes the suspects; how many.
fn find(job: &Job, config: &TrainConfig, folds: usize, run_dir: &RunDir) -> imgclass::Result<usize> {
    job.emit(EventKind::State { state: JobState::Running, message: "reading the images".into() });
    let source = config.open_data()?;
    let device = imgclass::default_device();
    let scored = out_of_fold(&source, config, folds, &device, &mut |f, k| {
        job.emit(EventKind::Message { text: format!("fold {} of {k}: training on the other {} folds", f + 1, k - 1) });
    })?;
    let pre = config.preprocess(&source, config.input_size(&source));
    let report =
        CleanReport::find(&source, scored, RankBy::SelfConfidence, imgclass::interpret::clean::DEFAULT_DUPLICATE_BITS)?;
    let root = config.data.root();
    let store = root.and_then(|r| LabelStore::of(&config.data.labels, &config.task.columns, &r, source.is_idx()));
    report.save_csv(store, &run_dir.path().join("clean.csv"))?;
    report.save_picture(&source, &pre, SHOWN, &run_dir.path().join("suspects.png"))?;
    Ok(report.suspects().count())
}

/// The project's `clean.csv` and data folder.
fn paths(state: &AppState, project: &str) -> ApiResult<(PathBuf, PathBuf)> {
    let dir = state.root().project_dir(project)?;
    let csv = dir.join(CLEAN).join("clean.csv");
    if !csv.is_file() {
        return Err(ApiError::NotFound(format!("project {project:?} has not been cleaned yet")));
    }
    Ok((csv, dir.join(DATA)))
}

/// `path` relative to `data` with `/` separators (as it is if outside).
fn inside(path: &str, data: &Path) -> String {
    Path::new(path).strip_prefix(data).map_or(path.to_string(), |p| p.to_string_lossy().replace('\\', "/"))
}

/// The suspects of the last cleaning, with the actions `clean.csv` holds.
pub fn suspects(state: &AppState, project: &str) -> ApiResult<Vec<SuspectRow>> {
    let (csv, data) = paths(state, project)?;
    let mut reader = csv::Reader::from_path(&csv).map_err(|e| ApiError::internal("reading clean.csv", e))?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let r = record.map_err(|e| ApiError::Unprocessable(format!("clean.csv: {e}")))?;
        let field = |i: usize| r.get(i).unwrap_or("").to_string();
        rows.push(SuspectRow {
            file: inside(&field(0), &data),
            label: field(1),
            suggested: field(2),
            score: field(3).parse().unwrap_or(0.0),
            issue: field(4),
            other: inside(&field(5), &data),
            action: field(6),
        });
    }
    Ok(rows)
}

/// Writes the page's decisions into `clean.csv` (rows it does not name keep their action),
/// then applies the file as `imgclass clean apply` does.
pub fn apply(state: &AppState, project: &str, decisions: &[Decision]) -> ApiResult<imgclass::curate::Applied> {
    let (csv_path, data) = paths(state, project)?;
    if let Some(job) = state.jobs().get(project).filter(|j| !j.state().is_over()) {
        return Err(ApiError::Conflict(format!("project {project:?} is busy with its {} job", job.kind)));
    }
    let mut reader = csv::Reader::from_path(&csv_path).map_err(|e| ApiError::internal("reading clean.csv", e))?;
    let headers = reader.headers().map_err(|e| ApiError::internal("reading clean.csv", e))?.clone();
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&headers).map_err(|e| ApiError::internal("writing clean.csv", e))?;
    let mut named = 0;
    for record in reader.records() {
        let r = record.map_err(|e| ApiError::Unprocessable(format!("clean.csv: {e}")))?;
        let mut fields: Vec<String> = r.iter().map(str::to_string).collect();
        let file = inside(fields.first().map_or("", String::as_str), &data);
        if let Some(d) = decisions.iter().find(|d| d.file == file)
            && let Some(action) = fields.get_mut(6)
        {
            *action = d.action.clone();
            named += 1;
        }
        out.write_record(&fields).map_err(|e| ApiError::internal("writing clean.csv", e))?;
    }
    if named < decisions.len() {
        return Err(ApiError::BadRequest(format!(
            "{} decisions name no suspect of clean.csv",
            decisions.len() - named
        )));
    }
    let bytes = out.into_inner().map_err(|e| ApiError::internal("writing clean.csv", e.into_error()))?;
    let dir = csv_path.parent().unwrap_or(Path::new("."));
    let tmp = crate::store::written_temp(dir, &bytes).map_err(|e| ApiError::internal("writing clean.csv", e))?;
    tmp.persist(&csv_path).map_err(|e| ApiError::internal("writing clean.csv", e.error))?;
    Ok(imgclass::curate::apply(&csv_path)?.0)
}

/// Reverts the project's applied decisions, as `imgclass clean undo` does.
pub fn undo(state: &AppState, project: &str) -> ApiResult<imgclass::curate::Undone> {
    let (_, data) = paths(state, project)?;
    let data = data.canonicalize().map_err(|e| ApiError::internal("finding the data folder", e))?;
    Ok(imgclass::curate::undo(&data)?)
}
