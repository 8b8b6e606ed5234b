//! Background jobs (training now; cleaning next): one thread each, off the async executor,
//! one job at a time per project. A job's events are kept in order, numbered, and broadcast,
//! so a page that connects late (or reconnects) replays what it missed and then follows live.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tokio::sync::broadcast;

use crate::error::{ApiError, ApiResult};

/// Events a job keeps for replay; past this, batch events are broadcast but not kept.
const KEPT_EVENTS: usize = 20_000;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Reading the data (and fetching pretrained weights).
    Loading,
    /// Running.
    Running,
    /// Finished.
    Done,
    /// Stopped when asked; a training run can be resumed.
    Stopped,
    /// Failed; the message says why.
    Failed,
}

impl JobState {
    /// Whether the job has ended.
    pub fn is_over(self) -> bool {
        matches!(self, JobState::Done | JobState::Stopped | JobState::Failed)
    }
}

/// One event of a job, numbered from 1.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Its number in the job.
    pub seq: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// The job's state changed.
    State {
        /// The new state.
        state: JobState,
        /// Why, or what it is doing.
        message: String,
    },
    /// Images read so far.
    Loading {
        /// Done.
        done: usize,
        /// Of.
        total: usize,
    },
    /// An epoch starts.
    EpochStart {
        /// 1-based.
        epoch: usize,
        /// Of.
        epochs: usize,
        /// Steps in it.
        batches: usize,
    },
    /// A training step's loss (a few a second at most).
    Batch {
        /// Step in the epoch.
        step: usize,
        /// Its loss.
        loss: f32,
        /// Its learning rate.
        lr: f64,
    },
    /// An epoch ended.
    Epoch {
        /// What it measured.
        metrics: imgclass::train::EpochMetrics,
        /// Its validation loss is the best so far.
        improved: bool,
    },
    /// A note (early stop, a file skipped).
    Message {
        /// The text.
        text: String,
    },
    /// The job ended: the last event.
    End {
        /// How.
        state: JobState,
        /// A summary, or why it failed.
        message: String,
        /// The job's result (a training run's report), when it has one.
        result: Option<serde_json::Value>,
    },
}

/// A running or finished job.
pub struct Job {
    /// What it does (`train`).
    pub kind: &'static str,
    /// Its project.
    pub project: String,
    /// Its run folder's name.
    pub run: String,
    stop: AtomicBool,
    inner: Mutex<Log>,
    tx: broadcast::Sender<Event>,
}

struct Log {
    events: Vec<Event>,
    state: JobState,
    /// Events emitted so far (kept or not).
    emitted: u64,
}

/// A job's state and events so far, for a page that was not listening.
#[derive(Debug, Serialize)]
pub struct JobView {
    /// `train`.
    pub kind: &'static str,
    /// The run folder.
    pub run: String,
    /// Where it is.
    pub state: JobState,
    /// Every event kept, in order.
    pub events: Vec<Event>,
}

impl Job {
    /// A job in the `Loading` state.
    pub fn new(kind: &'static str, project: &str, run: &str) -> Arc<Job> {
        let (tx, _) = broadcast::channel(1024);
        let inner = Mutex::new(Log { events: Vec::new(), state: JobState::Loading, emitted: 0 });
        Arc::new(Job { kind, project: project.into(), run: run.into(), stop: AtomicBool::new(false), inner, tx })
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records and broadcasts `kind` (after `End`, nothing more is recorded).
    pub fn emit(&self, kind: EventKind) {
        let mut log = self.log();
        if log.state.is_over() {
            return;
        }
        match &kind {
            EventKind::State { state, .. } | EventKind::End { state, .. } => log.state = *state,
            _ => {}
        }
        log.emitted += 1;
        let event = Event { seq: log.emitted, kind };
        let keep = log.events.len() < KEPT_EVENTS || !matches!(event.kind, EventKind::Batch { .. });
        let _ = self.tx.send(event.clone());
        if keep {
            log.events.push(event);
        }
    }

    /// Its state now.
    pub fn state(&self) -> JobState {
        self.log().state
    }

    /// Asks it to stop after its current step.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether it was asked to stop.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Its events so far and a receiver of the later ones (subscribed before the copy, so
    /// nothing falls between: skip received events numbered at or below the copy's last).
    pub fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let log = self.log();
        (log.events.clone(), self.tx.subscribe())
    }

    /// Its state and events.
    pub fn view(&self) -> JobView {
        let log = self.log();
        JobView { kind: self.kind, run: self.run.clone(), state: log.state, events: log.events.clone() }
    }
}

/// Marks its job failed if the thread ends without an `End` event (a panic in the library).
pub struct EndGuard(pub Arc<Job>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        if !self.0.state().is_over() {
            let message = "the job stopped unexpectedly; the server's terminal says why".to_string();
            self.0.emit(EventKind::End { state: JobState::Failed, message, result: None });
        }
    }
}

/// The jobs of every project: the running one, or the last one.
#[derive(Default)]
pub struct Jobs {
    by_project: Mutex<HashMap<String, Arc<Job>>>,
}

impl Jobs {
    /// The project's job, running or last.
    pub fn get(&self, project: &str) -> Option<Arc<Job>> {
        self.by_project.lock().unwrap_or_else(|p| p.into_inner()).get(project).cloned()
    }

    /// Registers `job` as its project's job, unless another is running there (409).
    pub fn claim(&self, job: Arc<Job>) -> ApiResult<()> {
        let mut jobs = self.by_project.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(running) = jobs.get(&job.project).filter(|j| !j.state().is_over()) {
            return Err(ApiError::Conflict(format!(
                "project {:?} is busy: its {} job on {} is running; stop it or wait for it to end",
                job.project, running.kind, running.run
            )));
        }
        jobs.insert(job.project.clone(), job);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Arc<Job> {
        Job::new("train", "p", "exp1")
    }

    #[test]
    fn events_are_numbered_and_nothing_is_recorded_after_the_end() {
        let j = job();
        let (_, mut rx) = j.subscribe();
        j.emit(EventKind::Message { text: "a".into() });
        j.emit(EventKind::End { state: JobState::Done, message: "ok".into(), result: None });
        j.emit(EventKind::Message { text: "late".into() });
        let view = j.view();
        assert_eq!(view.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(view.state, JobState::Done);
        assert_eq!(rx.try_recv().unwrap().seq, 1);
    }

    #[test]
    fn past_the_kept_events_batches_are_sent_but_not_kept_and_numbers_go_on() {
        let j = job();
        for step in 0..KEPT_EVENTS + 10 {
            j.emit(EventKind::Batch { step, loss: 1.0, lr: 0.1 });
        }
        j.emit(EventKind::Message { text: "kept".into() });
        let view = j.view();
        assert_eq!(view.events.len(), KEPT_EVENTS + 1);
        assert_eq!(view.events.last().unwrap().seq, KEPT_EVENTS as u64 + 11);
    }

    #[test]
    fn a_second_job_in_a_busy_project_is_refused_and_allowed_once_the_first_ended() {
        let jobs = Jobs::default();
        let first = job();
        jobs.claim(first.clone()).unwrap();
        let e = jobs.claim(job()).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::CONFLICT);
        assert!(e.to_string().contains("busy"), "{e}");
        drop(EndGuard(first));
        jobs.claim(job()).unwrap();
    }
}
