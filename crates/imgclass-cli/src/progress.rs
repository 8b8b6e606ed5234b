//! Progress bars and the epoch table, as a [`Callback`] on the learner. Bars go to stderr and
//! hide themselves when it is not a terminal; the table goes to stdout.

use std::time::Duration;

use imgclass::train::{Callback, EpochMetrics};
use indicatif::{ProgressBar, ProgressStyle};

pub fn bar(len: u64, prefix: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {msg} ({elapsed} < ETA {eta})")
            .unwrap()
            .progress_chars("=> "),
    );
    pb.set_prefix(prefix.to_string());
    pb
}

pub fn fmt_time(seconds: f64) -> String {
    let s = seconds.round() as u64;
    format!("{:02}:{:02}", s / 60, s % 60)
}

pub struct TrainProgress {
    bar: Option<ProgressBar>,
    header_done: bool,
}

impl TrainProgress {
    pub fn new() -> Self {
        Self { bar: None, header_done: false }
    }

    /// Progress bars only, no epoch table (for lr-find).
    pub fn quiet() -> Self {
        Self { bar: None, header_done: true }
    }
}

impl Callback for TrainProgress {
    fn epoch_start(&mut self, epoch: usize, epochs: usize, batches: usize) {
        let pb = bar(batches as u64, &format!("epoch {epoch}/{epochs}"));
        pb.enable_steady_tick(Duration::from_millis(250));
        self.bar = Some(pb);
    }

    fn batch_end(&mut self, _step: usize, loss: f32, _lr: f64) {
        if let Some(pb) = &self.bar {
            pb.set_message(format!("loss {loss:.4}"));
            pb.inc(1);
        }
    }

    fn validating(&mut self) {
        if let Some(pb) = &self.bar {
            pb.set_message("validating…");
        }
    }

    fn epoch_end(&mut self, m: &EpochMetrics, improved: bool) {
        self.finish();
        let metrics = m.named_metrics();
        if !self.header_done {
            let names: String = metrics.iter().map(|(name, _)| format!("  {name:>8}")).collect();
            println!("{:>5}  {:>10}  {:>10}{names}  {:>5}", "epoch", "train_loss", "valid_loss", "time");
            self.header_done = true;
        }
        let values: String =
            metrics.iter().map(|(name, v)| format!("  {v:>w$.4}", w = name.chars().count().max(8))).collect();
        println!(
            "{:>5}  {:>10.4}  {:>10.4}{values}  {:>5}{}{}",
            m.epoch,
            m.train_loss,
            m.valid_loss,
            fmt_time(m.seconds),
            if improved { "  *" } else { "" },
            if m.frozen { "  (body frozen)" } else { "" },
        );
        if m.partial {
            println!("       (epoch {} interrupted: trained on part of its batches)", m.epoch);
        }
    }

    fn message(&mut self, text: &str) {
        let text = &crate::show::esc(text).into_owned();
        if let Some(pb) = &self.bar {
            pb.suspend(|| eprintln!("{text}"));
        } else {
            eprintln!("{text}");
        }
    }
}

/// The task's metrics an epoch row shows (accuracy and error rate for a single-label run).
impl TrainProgress {
    fn finish(&mut self) {
        if let Some(pb) = self.bar.take() {
            pb.finish_and_clear();
        }
    }
}

impl Drop for TrainProgress {
    fn drop(&mut self) {
        self.finish();
    }
}
