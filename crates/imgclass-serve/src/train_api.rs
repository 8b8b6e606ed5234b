//! The jobs' routes: train and clean (start), follow (server-sent events), stop, resume, look;
//! a cleaning's suspects, the page's decisions applied, undone.

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::AppState;
use crate::api::blocking;
use crate::clean::{self, CleanRequest, Decision, SuspectRow};
use crate::error::{ApiError, ApiResult};
use crate::jobs::{Event, EventKind, JobView};
use crate::train::{self, TrainRequest};

/// `POST /api/projects/{project}/train` with the form's options: starts a run.
pub async fn start(
    State(state): State<AppState>,
    UrlPath(project): UrlPath<String>,
    Json(request): Json<TrainRequest>,
) -> ApiResult<Json<JobView>> {
    blocking(move || Ok(Json(train::start(&state, &project, &request)?.view()))).await
}

/// `POST /api/projects/{project}/runs/{run}/resume`: continues a stopped run.
pub async fn resume(
    State(state): State<AppState>,
    UrlPath((project, run)): UrlPath<(String, String)>,
) -> ApiResult<Json<JobView>> {
    blocking(move || Ok(Json(train::resume(&state, &project, &run)?.view()))).await
}

/// `POST /api/projects/{project}/clean` with the form's options: starts `imgclass clean`.
pub async fn clean(
    State(state): State<AppState>,
    UrlPath(project): UrlPath<String>,
    Json(request): Json<CleanRequest>,
) -> ApiResult<Json<JobView>> {
    blocking(move || Ok(Json(clean::start(&state, &project, &request)?.view()))).await
}

/// `GET /api/projects/{project}/clean`: the last cleaning's suspects.
pub async fn suspects(
    State(state): State<AppState>,
    UrlPath(project): UrlPath<String>,
) -> ApiResult<Json<Vec<SuspectRow>>> {
    blocking(move || Ok(Json(clean::suspects(&state, &project)?))).await
}

/// `POST /api/projects/{project}/clean/apply` with `{"decisions": [{"file", "action"}…]}`:
/// the decisions written into `clean.csv` and carried out as `imgclass clean apply` does.
pub async fn apply(
    State(state): State<AppState>,
    UrlPath(project): UrlPath<String>,
    Json(body): Json<Decisions>,
) -> ApiResult<Json<imgclass::curate::Applied>> {
    blocking(move || Ok(Json(clean::apply(&state, &project, &body.decisions)?))).await
}

/// The page's decisions.
#[derive(Debug, serde::Deserialize)]
pub struct Decisions {
    decisions: Vec<Decision>,
}

/// `POST /api/projects/{project}/clean/undo`: reverts what apply did, as `imgclass clean undo` does.
pub async fn undo(
    State(state): State<AppState>,
    UrlPath(project): UrlPath<String>,
) -> ApiResult<Json<imgclass::curate::Undone>> {
    blocking(move || Ok(Json(clean::undo(&state, &project)?))).await
}

/// `POST /api/projects/{project}/job/stop`: the running job stops after its step, keeping
/// what it trained.
pub async fn stop(State(state): State<AppState>, UrlPath(project): UrlPath<String>) -> ApiResult<Json<Value>> {
    let job = state.jobs().get(&project).filter(|j| !j.state().is_over());
    let job = job.ok_or_else(|| ApiError::NotFound(format!("project {project:?} has no running job")))?;
    job.stop();
    Ok(Json(json!({ "stopping": job.run })))
}

/// `GET /api/projects/{project}/job`: the running or last job, with its events.
pub async fn view(State(state): State<AppState>, UrlPath(project): UrlPath<String>) -> ApiResult<Json<JobView>> {
    let job =
        state.jobs().get(&project).ok_or_else(|| ApiError::NotFound(format!("project {project:?} has no job yet")))?;
    Ok(Json(job.view()))
}

/// `GET /api/projects/{project}/job/events`: the job's events as server-sent events, the
/// past ones first, then live, ending with its `end` event.
pub async fn events(
    State(state): State<AppState>,
    UrlPath(project): UrlPath<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let job =
        state.jobs().get(&project).ok_or_else(|| ApiError::NotFound(format!("project {project:?} has no job yet")))?;
    let (past, rx) = job.subscribe();
    let last = past.last().map_or(0, |e| e.seq);
    let ended = past.iter().any(|e| matches!(e.kind, EventKind::End { .. }));
    let live = stream::unfold((rx, last, ended), |(mut rx, last, ended)| async move {
        if ended {
            return None;
        }
        loop {
            match rx.recv().await {
                Ok(e) if e.seq <= last => continue,
                Ok(e) => {
                    let end = matches!(e.kind, EventKind::End { .. });
                    return Some((e.clone(), (rx, e.seq, end)));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let all = stream::iter(past).chain(live).map(|e: Event| Ok(sse(&e)));
    Ok(Sse::new(all).keep_alive(KeepAlive::default()))
}

/// One job event as an SSE event: its type as the event name, its JSON as the data.
fn sse(e: &Event) -> SseEvent {
    let value = serde_json::to_value(e).unwrap_or_default();
    let name = value["type"].as_str().unwrap_or_default().to_string();
    SseEvent::default().event(name).id(e.seq.to_string()).data(value.to_string())
}
