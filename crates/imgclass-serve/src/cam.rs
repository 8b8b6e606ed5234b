//! Grad-CAM from the page: the uploaded image's prediction with the map of the class it
//! predicts (or one named), drawn over the image, as `imgclass predict --cam` draws it. The
//! upload is written to a scratch folder inside the root (`.scratch/`, hidden from listings)
//! for the library to read, and removed when the answer is made.

use std::path::PathBuf;

use axum::Json;
use axum::extract::{Multipart, Query, State};
use base64::Engine;
use imgclass::interpret::{CamOptions, predict_with_cam};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::blocking;
use crate::error::{ApiError, ApiResult};
use crate::names::upload_name;
use crate::upload::form_files;

/// Which model, which class.
#[derive(Debug, Deserialize)]
pub struct CamQuery {
    project: Option<String>,
    run: Option<String>,
    /// The class to explain; default the predicted one.
    class: Option<String>,
    #[serde(default = "default_k")]
    k: usize,
}

fn default_k() -> usize {
    3
}

/// `POST /api/cam`: the image in the form's `file` field → its answer, the Grad-CAM map's
/// class, layer, peak and grid, and the map over the image as a PNG data URL (`overlay`).
pub async fn cam(State(state): State<AppState>, Query(q): Query<CamQuery>, form: Multipart) -> ApiResult<Json<Value>> {
    let mut files = form_files(form).await?;
    if files.len() != 1 {
        return Err(ApiError::BadRequest(format!("{} files sent; send one", files.len())));
    }
    let file = files.remove(0);
    crate::api::check_k(q.k)?;
    blocking(move || {
        let model = state.models().get(state.root(), q.project.as_deref(), q.run.as_deref())?;
        imgclass::data::decode_image(&file.bytes, file.name.as_ref(), state.config().limits.max_pixels)
            .map_err(|e| ApiError::Unprocessable(crate::error::chain(&e)))?;
        let scratch = state.root().path().join(".scratch");
        std::fs::create_dir_all(&scratch).map_err(|e| ApiError::internal("creating .scratch", e))?;
        let dir = tempfile::tempdir_in(&scratch).map_err(|e| ApiError::internal("creating a scratch folder", e))?;
        let path: PathBuf = dir.path().join(upload_name(&file.name)?);
        std::fs::write(&path, &file.bytes).map_err(|e| ApiError::internal("writing a scratch file", e))?;
        let options = CamOptions { class: q.class.clone(), out: Some(dir.path().join("cam")), ..CamOptions::default() };
        let out = predict_with_cam(&model, &[path], q.k, &options)?;
        let explained =
            out.predictions.into_iter().next().ok_or_else(|| ApiError::Unprocessable("no answer".into()))?;
        let png = explained
            .cam
            .png
            .as_ref()
            .map(std::fs::read)
            .transpose()
            .map_err(|e| ApiError::internal("reading the overlay", e))?;
        let mut answer =
            serde_json::to_value(&explained.prediction).map_err(|e| ApiError::internal("writing JSON", e))?;
        answer["file"] = json!(file.name);
        answer["cam"] = json!({
            "class": explained.cam.class,
            "layer": explained.cam.layer,
            "peak": explained.cam.peak,
            "grid": explained.cam.grid,
        });
        answer["overlay"] = json!(
            png.map(|b| format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(b)))
        );
        Ok(Json(answer))
    })
    .await
}
