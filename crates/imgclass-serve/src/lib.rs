//! # imgclass-serve
//!
//! `imgclass serve`: a local web app over the imgclass library — make a project, add classes
//! and images (files, folders, zips, webcam shots), test a model on dropped images — with a
//! JSON API that scripts can use too. One binary, no Python, no internet: the page is
//! embedded.
//!
//! ## The modules, bottom to top
//!
//! Each module uses only those above it in this list.
//!
//! - [`error`] — the handlers' error: a 4xx with a message for the client's mistakes, a logged 500 for the server's
//! - [`config`] — where the server listens, its projects' folder, its default model, its limits
//! - [`names`] — project, class and file names checked; paths kept inside the root
//! - [`store`] — projects on disk (`PROJECT/data/CLASS/IMAGE`): list, create, add images atomically
//! - [`upload`] — a multipart form's files, and zips opened within limits
//! - [`models`] — the default model and each run's, loaded once and shared
//! - [`jobs`] — background jobs: one thread each, one per project, their events kept and broadcast
//! - [`train`] — training from the page: the form as a config, a run folder, progress as events, stop and resume
//! - [`clean`] — `imgclass clean` from the page: the job, its suspects, the page's decisions applied and undone
//! - [`guard`] — host, origin and token checks on every request
//! - [`api`] — the JSON API's handlers: health, predictions, projects, classes, images
//! - [`cam`] — Grad-CAM of an uploaded image, drawn over it
//! - [`train_api`] — the jobs' handlers (train, clean, follow, stop, resume), events as server-sent events
//! - [`runs`] — a project's runs: their outcome, one run's epochs and report, its model to download
//! - [`page`] — the embedded page
//!
//! ```no_run
//! # async fn run() -> Result<(), imgclass_serve::StartError> {
//! let config = imgclass_serve::config::ServeConfig::default(); // 127.0.0.1:8080, ./imgclass-projects
//! let state = imgclass_serve::AppState::new(config)?;
//! let listener = imgclass_serve::bind(&state).await?;
//! println!("open {}", imgclass_serve::url(&listener));
//! imgclass_serve::run(listener, state).await?;
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

pub mod api;
pub mod cam;
pub mod clean;
pub mod config;
pub mod error;
pub mod guard;
pub mod jobs;
pub mod models;
pub mod names;
pub mod page;
pub mod runs;
pub mod store;
pub mod train;
pub mod train_api;
pub mod upload;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;

use config::ServeConfig;
use models::Models;
use names::Root;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The projects' folder cannot be made or read.
    #[error("the projects' folder {path} cannot be used")]
    Root {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The `--model` bundle cannot be loaded.
    #[error("the model cannot be loaded")]
    Model(#[source] imgclass::Error),
    /// The OS gave no random bytes for the token.
    #[error("no random bytes for the page's token: {0}")]
    Token(getrandom::Error),
    /// The address is taken or not this machine's.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server stopped on an error.
    #[error("the server stopped")]
    Serve(#[source] std::io::Error),
}

/// What every handler shares: the config, the root, the token and the loaded models.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: ServeConfig,
    root: Root,
    token: String,
    models: Models,
    jobs: jobs::Jobs,
}

impl AppState {
    /// Opens the root (creating it) and loads the default model.
    pub fn new(config: ServeConfig) -> Result<AppState, StartError> {
        let root = Root::open(&config.root).map_err(|source| StartError::Root { path: config.root.clone(), source })?;
        let model = match &config.model {
            Some(path) => {
                Some(imgclass::bundle::Bundle::load(path, &imgclass::default_device()).map_err(StartError::Model)?)
            }
            None => None,
        };
        let token = guard::new_token().map_err(StartError::Token)?;
        let models = Models::new(model, config.limits.max_pixels);
        Ok(AppState(Arc::new(Inner { config, root, token, models, jobs: jobs::Jobs::default() })))
    }

    /// The config it was started with.
    pub fn config(&self) -> &ServeConfig {
        &self.0.config
    }

    /// The projects' folder.
    pub fn root(&self) -> &Root {
        &self.0.root
    }

    /// The token changing requests must carry.
    pub fn token(&self) -> &str {
        &self.0.token
    }

    /// The loaded models.
    pub fn models(&self) -> &Models {
        &self.0.models
    }

    /// The projects' jobs.
    pub fn jobs(&self) -> &jobs::Jobs {
        &self.0.jobs
    }
}

/// The app: every route, behind the guard and the body limits.
pub fn app(state: AppState) -> Router {
    let limit = state.config().limits.body_bytes;
    let api = Router::new()
        .route("/api/health", get(api::health))
        .route("/api/predict", post(api::predict))
        .route("/api/predict/batch", post(api::predict_batch))
        .route("/api/cam", post(cam::cam))
        .route("/api/projects", get(api::projects).post(api::create_project))
        .route("/api/projects/{project}", get(api::project))
        .route("/api/projects/{project}/classes", post(api::create_class))
        .route("/api/projects/{project}/import", post(api::import))
        .route("/api/projects/{project}/classes/{class}/images", post(api::add_images))
        .route("/api/projects/{project}/classes/{class}/images/{file}", get(api::image))
        .route("/api/projects/{project}/train", post(train_api::start))
        .route("/api/projects/{project}/job", get(train_api::view))
        .route("/api/projects/{project}/job/events", get(train_api::events))
        .route("/api/projects/{project}/job/stop", post(train_api::stop))
        .route("/api/projects/{project}/clean", get(train_api::suspects).post(train_api::clean))
        .route("/api/projects/{project}/clean/apply", post(train_api::apply))
        .route("/api/projects/{project}/clean/undo", post(train_api::undo))
        .route("/api/projects/{project}/runs/{run}/resume", post(train_api::resume))
        .route("/api/projects/{project}/runs", get(runs::list))
        .route("/api/projects/{project}/runs/{run}", get(runs::detail))
        .route("/api/projects/{project}/runs/{run}/model.imgclass", get(runs::bundle))
        .route("/api/projects/{project}/runs/{run}/model.onnx", get(runs::onnx))
        .route("/api/projects/{project}/runs/{run}/files/{name}", get(runs::picture));
    Router::new()
        .route("/", get(page::index))
        .route("/js/{name}", get(page::script))
        .route("/style.css", get(page::style))
        .merge(api)
        .fallback(|| async { error::ApiError::NotFound("no such page or API route".into()) })
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::guard))
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(axum::middleware::from_fn(error::json_errors))
        .with_state(state)
}

/// A handler's panic (a bug) as a logged 500, like any internal error: the server goes on.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let what = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".into());
    axum::response::IntoResponse::into_response(error::ApiError::internal("a handler", std::io::Error::other(what)))
}

/// Binds the config's address.
pub async fn bind(state: &AppState) -> Result<tokio::net::TcpListener, StartError> {
    let addr = state.config().addr();
    tokio::net::TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })
}

/// The page's address for a bound listener (`localhost` for loopback).
pub fn url(listener: &tokio::net::TcpListener) -> String {
    match listener.local_addr() {
        Ok(a) if a.ip().is_loopback() => format!("http://localhost:{}/", a.port()),
        Ok(a) => format!("http://{a}/"),
        Err(_) => "http://localhost/".into(),
    }
}

/// Starts the server as `config` says and serves until Ctrl-C, on a runtime of its own:
/// `ready(state, url)` is called once the address is bound (the CLI prints the URL then).
pub fn serve(config: ServeConfig, ready: impl FnOnce(&AppState, &str)) -> Result<(), StartError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(StartError::Serve)?;
    runtime.block_on(async {
        let state = AppState::new(config)?;
        let listener = bind(&state).await?;
        ready(&state, &url(&listener));
        run(listener, state).await
    })
}

/// Serves the app on `listener` until Ctrl-C.
pub async fn run(listener: tokio::net::TcpListener, state: AppState) -> Result<(), StartError> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(StartError::Serve)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_handler_that_panics_answers_500_with_a_json_error_and_the_router_goes_on() {
        let app = Router::new()
            .route("/boom", get(|| async { std::panic::panic_any::<&str>("a bug") as &str }))
            .route("/fine", get(|| async { "ok" }))
            .layer(CatchPanicLayer::custom(panicked));
        let get = |uri: &str| axum::http::Request::get(uri).body(axum::body::Body::empty()).unwrap();
        let r = app.clone().oneshot(get("/boom")).await.unwrap();
        assert_eq!(r.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = http_body_util::BodyExt::collect(r.into_body()).await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&body).contains("\"error\""), "{body:?}");
        assert_eq!(app.oneshot(get("/fine")).await.unwrap().status(), axum::http::StatusCode::OK);
    }
}
