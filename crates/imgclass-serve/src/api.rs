//! The JSON API the page uses (and scripts can): health, predictions, projects, classes and
//! their images. Handlers parse, check and hand CPU work (decoding, inflating zips, inference,
//! file writes) to tokio's blocking pool, so the executor stays free for other requests.

use axum::Json;
use axum::extract::{Multipart, Path as UrlPath, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use imgclass::infer::{StreamOptions, Tta, TtaOptions};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::store::{AddReport, ClassView, ProjectSummary, ProjectView, Upload};
use crate::upload::{expand_zips, form_files};

/// Runs `f` on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> ApiResult<T> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal("a worker thread", e))?
}

/// `GET /api/health`: the server runs; its version and default model.
pub async fn health(State(state): State<AppState>) -> Json<Value> {
    let model = state.models().default_model().map(|b| {
        let meta = b.meta();
        json!({ "labels": meta.labels(), "task": meta.task().kind().name(), "input": meta.input() })
    });
    let limits = state.config().limits;
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "model": model,
        "limits": { "body_bytes": limits.body_bytes, "predict_images": limits.predict_images, "max_pixels": limits.max_pixels },
    }))
}

/// Which model answers, and how.
#[derive(Debug, Deserialize)]
pub struct PredictQuery {
    /// A project whose run's model answers (the newest run's when `run` is absent); the
    /// server's `--model` when absent.
    project: Option<String>,
    /// A run of `project`.
    run: Option<String>,
    /// Classes per answer.
    #[serde(default = "default_k")]
    k: usize,
    /// Multi-label: every label's probability too.
    #[serde(default)]
    all: bool,
    /// Test-time augmentation (`none`, `flip`, `shift`, `aug`).
    #[serde(default)]
    tta: Tta,
}

fn default_k() -> usize {
    5
}

impl PredictQuery {
    fn options(&self) -> ApiResult<StreamOptions> {
        check_k(self.k)?;
        Ok(StreamOptions::new(self.k, self.all, TtaOptions::new(self.tta)))
    }
}

/// Errors unless `k`, the classes per answer, is 1 to 1000.
pub(crate) fn check_k(k: usize) -> ApiResult<()> {
    if k == 0 || k > 1000 {
        return Err(ApiError::BadRequest("k must be 1 to 1000".into()));
    }
    Ok(())
}

/// `POST /api/predict`: the answer for the image in the form's `file` field.
pub async fn predict(
    State(state): State<AppState>,
    Query(q): Query<PredictQuery>,
    form: Multipart,
) -> ApiResult<Json<Value>> {
    let files = form_files(form).await?;
    if files.len() != 1 {
        return Err(ApiError::BadRequest(format!("{} files sent; send one (or use /api/predict/batch)", files.len())));
    }
    let out = predict_files(state, q, files).await?;
    if let Some(s) = out.skipped.first() {
        return Err(ApiError::Unprocessable(format!("{} cannot be read as an image: {}", s.path.display(), s.reason)));
    }
    let answer = out.predictions.into_iter().next().ok_or_else(|| ApiError::Unprocessable("no answer".into()))?;
    Ok(Json(serde_json::to_value(answer).map_err(|e| ApiError::internal("writing JSON", e))?))
}

/// `POST /api/predict/batch`: answers for every image of the form (zips opened), with the files that could not be read.
pub async fn predict_batch(
    State(state): State<AppState>,
    Query(q): Query<PredictQuery>,
    form: Multipart,
) -> ApiResult<Json<imgclass::infer::PredictOutput>> {
    let files = form_files(form).await?;
    Ok(Json(predict_files(state, q, files).await?))
}

async fn predict_files(
    state: AppState,
    q: PredictQuery,
    files: Vec<Upload>,
) -> ApiResult<imgclass::infer::PredictOutput> {
    let options = q.options()?;
    blocking(move || {
        let limits = state.config().limits;
        let files = expand_zips(files, &limits)?;
        if files.len() > limits.predict_images {
            return Err(ApiError::TooLarge(format!(
                "{} images in one request; send at most {}",
                files.len(),
                limits.predict_images
            )));
        }
        let model = state.models().get(state.root(), q.project.as_deref(), q.run.as_deref())?;
        let images: Vec<(String, Vec<u8>)> = files.into_iter().map(|f| (f.name, f.bytes)).collect();
        Ok(model.predict_bytes(&images, options)?)
    })
    .await
}

/// `GET /api/projects`.
pub async fn projects(State(state): State<AppState>) -> ApiResult<Json<Vec<ProjectSummary>>> {
    blocking(move || Ok(Json(state.root().projects()))).await
}

/// A name in a JSON body.
#[derive(Debug, Deserialize)]
pub struct NameBody {
    name: String,
}

/// `POST /api/projects` with `{"name": …}`: a new, empty project.
pub async fn create_project(State(state): State<AppState>, Json(body): Json<NameBody>) -> ApiResult<Json<ProjectView>> {
    blocking(move || Ok(Json(state.root().create_project(&body.name)?))).await
}

/// `GET /api/projects/{project}`: its classes (counts, a few file names) and runs.
pub async fn project(State(state): State<AppState>, UrlPath(project): UrlPath<String>) -> ApiResult<Json<ProjectView>> {
    blocking(move || Ok(Json(state.root().project(&project)?))).await
}

/// `POST /api/projects/{project}/classes` with `{"name": …}`: a new, empty class.
pub async fn create_class(
    State(state): State<AppState>,
    UrlPath(project): UrlPath<String>,
    Json(body): Json<NameBody>,
) -> ApiResult<Json<ClassView>> {
    blocking(move || Ok(Json(state.root().create_class(&project, &body.name)?))).await
}

/// `POST /api/projects/{project}/classes/{class}/images`: the form's images (and those inside
/// its zips) added to the class, created when missing.
pub async fn add_images(
    State(state): State<AppState>,
    UrlPath((project, class)): UrlPath<(String, String)>,
    form: Multipart,
) -> ApiResult<Json<AddReport>> {
    keep_uploads(state, form, move |root, files, max_pixels| root.add_images(&project, &class, files, max_pixels)).await
}

/// `POST /api/projects/{project}/import`: a folder of class folders (or zips of one) added,
/// each image to the class its folder names.
pub async fn import(
    State(state): State<AppState>,
    UrlPath(project): UrlPath<String>,
    form: Multipart,
) -> ApiResult<Json<AddReport>> {
    keep_uploads(state, form, move |root, files, max_pixels| root.import(&project, files, max_pixels)).await
}

/// The form's files, zips opened, handed to `keep` on the blocking pool; a 422 when no image was kept.
async fn keep_uploads(
    state: AppState,
    form: Multipart,
    keep: impl FnOnce(&crate::names::Root, Vec<Upload>, u64) -> ApiResult<AddReport> + Send + 'static,
) -> ApiResult<Json<AddReport>> {
    let files = form_files(form).await?;
    blocking(move || {
        let limits = state.config().limits;
        let files = expand_zips(files, &limits)?;
        kept_any(keep(state.root(), files, limits.max_pixels)?)
    })
    .await
}

/// The report of an upload that kept or found at least one image; else a 422 with the reasons.
fn kept_any(report: AddReport) -> ApiResult<Json<AddReport>> {
    if report.added.is_empty() && report.unchanged.is_empty() {
        let reasons: Vec<String> = report.rejected.iter().take(5).map(|r| r.reason.clone()).collect();
        return Err(ApiError::Unprocessable(format!("no image was kept: {}", reasons.join("; "))));
    }
    Ok(Json(report))
}

/// `GET /api/projects/{project}/classes/{class}/images/{file}`: the image's bytes.
pub async fn image(
    State(state): State<AppState>,
    UrlPath((project, class, file)): UrlPath<(String, String, String)>,
) -> ApiResult<Response> {
    blocking(move || {
        let root = state.root();
        let dir = root.class_dir(&project, &class)?;
        if crate::names::upload_name(&file)? != file {
            return Err(ApiError::BadRequest(format!("{file:?} is not a stored file's name")));
        }
        let path = root.existing_file(&dir, &file)?;
        let bytes = std::fs::read(&path).map_err(|e| ApiError::internal("reading an image", e))?;
        let mime = image::guess_format(&bytes).map(|f| f.to_mime_type()).unwrap_or("application/octet-stream");
        Ok(([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "private, max-age=3600")], bytes).into_response())
    })
    .await
}
