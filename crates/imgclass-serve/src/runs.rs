//! A project's training runs as the page shows them: the list with each run's outcome, one
//! run's config, epochs and evaluation (what its `report.html` shows), and its model to
//! download as the `.imgclass` bundle or as ONNX.

use std::path::{Path, PathBuf};

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use imgclass::bundle::Bundle;
use imgclass::export::OnnxOptions;
use imgclass::train::RunDir;
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::api::blocking;
use crate::error::{ApiError, ApiResult};
use crate::models::MODEL_FILE;

/// A run in the list.
#[derive(Debug, Serialize)]
pub struct RunSummary {
    /// The run folder's name.
    pub name: String,
    /// The architecture trained.
    pub arch: Option<String>,
    /// Whether it holds a model to predict with.
    pub has_model: bool,
    /// Whether a job of this server is training it now.
    pub training: bool,
    /// Epochs ended so far.
    pub epochs: usize,
    /// How it ended (`completed`, `interrupted`, `early_stopped`, `diverged`); none while training or after a kill.
    pub ending: Option<Value>,
    /// The kept weights' validation metrics, once it ended.
    pub valid: Option<Value>,
}

/// The run in `path`, summarized (`None` for a folder that is not a run).
fn summary(state: &AppState, project: &str, name: &str, path: &Path) -> Option<RunSummary> {
    let run = RunDir::open(path).ok()?;
    let report = run.read_report().ok().flatten();
    let training = state.jobs().get(project).is_some_and(|j| j.run == name && !j.state().is_over());
    Some(RunSummary {
        name: name.to_string(),
        arch: run.read_config().ok().map(|c| c.model.arch.name().to_string()),
        has_model: path.join(MODEL_FILE).is_file(),
        training,
        epochs: run.read_history().map(|h| h.len()).unwrap_or(0),
        ending: report.as_ref().map(|r| r["ending"].clone()),
        valid: report.map(|r| r["final_metrics"].clone()),
    })
}

/// `GET /api/projects/{project}/runs`: every run, newest name last.
pub async fn list(
    State(state): State<AppState>,
    UrlPath(project): UrlPath<String>,
) -> ApiResult<Json<Vec<RunSummary>>> {
    blocking(move || {
        let view = state.root().project(&project)?;
        let runs = view.runs.iter().filter_map(|name| {
            let path = state.root().run_dir(&project, name).ok()?;
            summary(&state, &project, name, &path)
        });
        Ok(Json(runs.collect()))
    })
    .await
}

/// `GET /api/projects/{project}/runs/{run}`: its config, epochs and final report.
pub async fn detail(
    State(state): State<AppState>,
    UrlPath((project, run)): UrlPath<(String, String)>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        let path = state.root().run_dir(&project, &run)?;
        let dir = RunDir::open(&path)?;
        let history = if dir.has_history() { dir.read_history()? } else { Vec::new() };
        let summary = summary(&state, &project, &run, &path);
        Ok(Json(serde_json::json!({
            "summary": summary,
            "config": dir.read_config()?,
            "history": history,
            "report": dir.read_report()?,
        })))
    })
    .await
}

/// A file to download as `name`.
fn attachment(bytes: Vec<u8>, name: &str) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", name.replace(['"', '\\'], "_"));
    (
        [(header::CONTENT_TYPE, "application/octet-stream".to_string()), (header::CONTENT_DISPOSITION, disposition)],
        bytes,
    )
        .into_response()
}

/// `GET /api/projects/{project}/runs/{run}/model.imgclass`: the bundle, to download.
pub async fn bundle(
    State(state): State<AppState>,
    UrlPath((project, run)): UrlPath<(String, String)>,
) -> ApiResult<Response> {
    blocking(move || {
        let file = run_model(&state, &project, &run)?;
        let bytes = std::fs::read(file).map_err(|e| ApiError::internal("reading a model", e))?;
        Ok(attachment(bytes, &format!("{project}-{run}.imgclass")))
    })
    .await
}

/// `GET /api/projects/{project}/runs/{run}/model.onnx`: the model as ONNX (`imgclass export`'s defaults).
pub async fn onnx(
    State(state): State<AppState>,
    UrlPath((project, run)): UrlPath<(String, String)>,
) -> ApiResult<Response> {
    blocking(move || {
        let file = run_model(&state, &project, &run)?;
        let bytes = Bundle::load(&file, &imgclass::default_device())?.to_onnx(&OnnxOptions::default())?;
        Ok(attachment(bytes, &format!("{project}-{run}.onnx")))
    })
    .await
}

/// The pictures a run writes that the page shows.
const PICTURES: &[&str] = &["loss.png", "confusion.png", "top_losses.png"];

/// `GET /api/projects/{project}/runs/{run}/files/{name}`: one of the run's pictures.
pub async fn picture(
    State(state): State<AppState>,
    UrlPath((project, run, name)): UrlPath<(String, String, String)>,
) -> ApiResult<Response> {
    if !PICTURES.contains(&name.as_str()) {
        return Err(ApiError::NotFound(format!("runs show only {}", PICTURES.join(", "))));
    }
    blocking(move || {
        let path = state.root().run_dir(&project, &run)?;
        let file = state.root().existing_file(&path, &name)?;
        let bytes = std::fs::read(file).map_err(|e| ApiError::internal("reading a picture", e))?;
        Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "no-cache")], bytes).into_response())
    })
    .await
}

/// The model file of a project's run (404 while it has none).
fn run_model(state: &AppState, project: &str, run: &str) -> ApiResult<PathBuf> {
    let path = state.root().run_dir(project, run)?;
    state
        .root()
        .existing_file(&path, MODEL_FILE)
        .map_err(|_| ApiError::NotFound(format!("run {run:?} has no model yet")))
}
