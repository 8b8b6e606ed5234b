//! Resuming a run: interrupted (at an epoch's end or in the middle of one) and resumed, it ends
//! with exactly the weights and metrics of the same run trained without a stop.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::prelude::*;
use imgclass::bundle::Bundle;
use imgclass::config::TrainConfig;
use imgclass::data::Source;
use imgclass::data::idx::IdxSplit;
use imgclass::models::{Arch, CnnConfig, Net};
use imgclass::train::{Callback, EpochMetrics, Existing, Learner, RunDir, Silent, TrainReport};

/// 96 grey 8×8 images of 3 classes: a bright bar in row 1, 4 or 6, over noise.
fn source() -> Source {
    let n = 96;
    let labels: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
    let mut pixels = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        let bar = [1, 4, 6][l as usize];
        pixels.extend(
            (0..64).map(|p| if p / 8 == bar { 180 + (i * 7 % 60) as u8 } else { (i * 31 + p * 17) as u8 % 90 }),
        );
    }
    let part = IdxSplit::new("t10k", pixels, labels, 8, 8).unwrap();
    Source::from_idx("memory".into(), vec![part], Some(vec!["top".into(), "middle".into(), "bottom".into()]))
}

/// The default CNN made small — one block, batch norm, dropout (so the dropout keys matter) —
/// for 5 epochs of 4 steps.
fn config() -> TrainConfig {
    super::config(|c| {
        c.model.arch = Arch::Cnn(CnnConfig::new().with_channels(vec![4]).with_hidden(vec![8]));
        (c.fit.epochs, c.fit.batch_size) = (5, 16);
    })
}

/// Sets the interrupt flag after epoch `epoch` ends (`step` None) or after its step `step`.
struct InterruptAt {
    flag: Arc<AtomicBool>,
    epoch: usize,
    step: Option<usize>,
    current: usize,
}

impl Callback for InterruptAt {
    fn epoch_start(&mut self, epoch: usize, _: usize, _: usize) {
        self.current = epoch;
    }
    fn batch_end(&mut self, step: usize, _: f32, _: f64) {
        if self.current == self.epoch && Some(step) == self.step {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
    fn epoch_end(&mut self, m: &EpochMetrics, _: bool) {
        if self.step.is_none() && m.epoch == self.epoch {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}

/// Fits `learner`, interrupting it at `at` (epoch, step) when given; returns the report and
/// the last weights' logits on a fixed batch.
fn fit(mut learner: Learner, at: Option<(usize, Option<usize>)>) -> (TrainReport, Vec<f32>) {
    let report = match at {
        Some((epoch, step)) => {
            let mut cb = InterruptAt { flag: learner.interrupt_handle(), epoch, step, current: 0 };
            learner.fit(&mut cb).unwrap()
        }
        None => learner.fit(&mut Silent).unwrap(),
    };
    (report, logits(&learner.last_model()))
}

fn logits(net: &Net) -> Vec<f32> {
    let x: Vec<f32> = (0..4 * 64).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
    let x = Tensor::<4>::from_data(burn::tensor::TensorData::new(x, [4, 1, 8, 8]), &Device::flex());
    net.forward(x).into_data().try_to_vec::<f32>().unwrap()
}

fn start(dir: &Path, at: Option<(usize, Option<usize>)>) -> (TrainReport, Vec<f32>) {
    let data = config().load(&source(), &|_, _| {}).unwrap();
    let learner = Learner::new(data, config(), imgclass::default_device()).unwrap();
    fit(learner.with_run_dir(RunDir::create(Some(dir), Existing::Refuse).unwrap()), at)
}

fn resume(dir: &Path, at: Option<(usize, Option<usize>)>) -> (TrainReport, Vec<f32>) {
    let run = RunDir::open(dir).unwrap();
    let config = run.read_config().unwrap();
    let data = config.load(&source(), &|_, _| {}).unwrap();
    fit(Learner::resume(data, config, imgclass::default_device(), run).unwrap(), at)
}

/// Each epoch's losses (the mean and every step's) and accuracy (not its time).
fn curve(r: &TrainReport) -> Vec<(f64, f64, f64, bool, Vec<f32>)> {
    r.history.iter().map(|m| (m.train_loss, m.valid_loss, m.accuracy, m.partial, m.batch_losses.clone())).collect()
}

#[test]
fn a_run_interrupted_after_epoch_2_of_5_and_resumed_ends_with_the_weights_of_an_uninterrupted_run() {
    let t = tempfile::tempdir().unwrap();
    let (whole, whole_logits) = start(&t.path().join("whole"), None);
    assert_eq!(whole.history.len(), 5);

    let cut = t.path().join("cut");
    let (first, _) = start(&cut, Some((2, None)));
    assert!(first.interrupted() && first.history.len() == 2, "{:?}", curve(&first));
    // Resumed, then interrupted again after step 3 of epoch 4's 4 steps.
    let (second, _) = resume(&cut, Some((4, Some(3))));
    assert!(second.interrupted() && second.history.last().is_some_and(|m| m.epoch == 4 && m.partial));
    let (last, last_logits) = resume(&cut, None);
    assert!(!last.interrupted());

    assert_eq!(curve(&last), curve(&whole), "the same losses (every step's too) and accuracy every epoch");
    assert!(whole.history.iter().all(|m| m.batch_losses.len() == 4), "a loss for each of the 4 steps");
    assert_eq!(last_logits, whole_logits, "the same last weights, bit for bit");
    assert_eq!(last.best_epoch, whole.best_epoch);
    // The same kept model: metadata (labels, config, metrics) and weights. (The files' bytes
    // differ: burn-store writes its own metadata keys in hash-map order.)
    let bundle = |dir: &Path| Bundle::load(&dir.join("model.imgclass"), &Device::flex()).unwrap();
    let (resumed, whole) = (bundle(&cut), bundle(&t.path().join("whole")));
    assert_eq!(resumed.meta(), whole.meta());
    assert_eq!(logits(resumed.net()), logits(whole.net()));
}

#[test]
fn a_finished_run_resumes_to_its_report_without_training() {
    let t = tempfile::tempdir().unwrap();
    let mut short = config();
    short.fit.epochs = 1;
    let data = short.load(&source(), &|_, _| {}).unwrap();
    let mut learner = Learner::new(data, short, imgclass::default_device()).unwrap();
    learner = learner.with_run_dir(RunDir::create(Some(t.path()), Existing::Refuse).unwrap());
    let (done, done_logits) = fit(learner, None);
    let (again, again_logits) = resume(t.path(), None);
    assert_eq!((curve(&again), again.best_epoch), (curve(&done), done.best_epoch));
    assert_eq!(again_logits, done_logits);
}

#[test]
fn resuming_with_another_config_or_changed_data_is_refused_with_the_reason() {
    let t = tempfile::tempdir().unwrap();
    start(t.path(), Some((1, None)));
    let run = RunDir::open(t.path()).unwrap();
    let mut other = run.read_config().unwrap();
    other.fit.epochs = 9;
    let data = other.load(&source(), &|_, _| {}).unwrap();
    let e = Learner::resume(data, other, imgclass::default_device(), run.clone()).err().unwrap().to_string();
    assert!(e.contains("cannot resume") && e.contains("config"), "{e}");

    let config = run.read_config().unwrap();
    let fewer = super::source(40); // other images, other split
    let data = config.load(&fewer, &|_, _| {}).unwrap();
    let e = Learner::resume(data, config, imgclass::default_device(), run).err().unwrap().to_string();
    assert!(e.contains("changed since the run started"), "{e}");

    let e = RunDir::open(&t.path().join("nothing")).unwrap_err().to_string();
    assert!(e.contains("not a run folder"), "{e}");
}

/// Makes threads take their steps together: each waits in `batch_end` until all have finished
/// the step (or 10 s have passed, so that a thread that failed cannot hang the others).
struct Lockstep {
    /// Threads arrived at the current step, and how many steps all have finished.
    arrived: std::sync::Mutex<(usize, usize)>,
    all_arrived: std::sync::Condvar,
    threads: usize,
}

impl Callback for &Lockstep {
    fn batch_end(&mut self, _: usize, _: f32, _: f64) {
        let mut state = self.arrived.lock().unwrap();
        let step = state.1;
        state.0 += 1;
        if state.0 == self.threads {
            *state = (0, step + 1);
            self.all_arrived.notify_all();
        } else {
            let timeout = std::time::Duration::from_secs(10);
            drop(self.all_arrived.wait_timeout_while(state, timeout, |s| s.1 == step).unwrap());
        }
    }
}

/// Trains `config()` with `seed` from scratch (reporting to `cb`); the report and the last
/// weights' logits.
fn alone(seed: u64, cb: &mut dyn Callback) -> (TrainReport, Vec<f32>) {
    let config = TrainConfig { seed, ..config() };
    let data = config.load(&source(), &|_, _| {}).unwrap();
    let mut learner = Learner::new(data, config, imgclass::default_device()).unwrap();
    let report = learner.fit(cb).unwrap();
    (report, logits(&learner.last_model()))
}

#[test]
fn learners_training_side_by_side_in_one_process_end_as_each_would_alone() {
    // Two learners take their steps at the same moments. With the dropout key or the initial
    // weights' generator shared by the process, each step would draw with the other's key.
    let seeds = [0, 1];
    let lockstep = Lockstep { arrived: Default::default(), all_arrived: Default::default(), threads: seeds.len() };
    let side_by_side: Vec<(TrainReport, Vec<f32>)> = std::thread::scope(|s| {
        let lockstep = &lockstep;
        let runs: Vec<_> = seeds.iter().map(|&seed| s.spawn(move || alone(seed, &mut { lockstep }))).collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    for (seed, (report, logits)) in seeds.into_iter().zip(&side_by_side) {
        let (want, want_logits) = alone(seed, &mut Silent);
        assert_eq!(curve(report), curve(&want), "seed {seed}: the same losses every epoch");
        assert_eq!(logits, &want_logits, "seed {seed}: the same last weights, bit for bit");
    }
    assert_ne!(side_by_side[0].1, side_by_side[1].1, "another seed, other weights");
}

/// 96 grey 8×8 PNG images in `dir`, a bar whose brightness is the number to predict, listed with
/// it in `labels.csv`; the config of a regression on them (the small CNN of [`config`]).
fn regression(dir: &Path) -> TrainConfig {
    std::fs::create_dir_all(dir).unwrap();
    let mut csv = String::from("file,brightness\n");
    for i in 0..96usize {
        let level = 60 + (i * 37 % 180);
        let pixels: Vec<u8> =
            (0..64).map(|p| if p / 8 == 3 { level as u8 } else { ((i * 31 + p * 17) % 50) as u8 }).collect();
        image::GrayImage::from_raw(8, 8, pixels).unwrap().save(dir.join(format!("{i:02}.png"))).unwrap();
        csv += &format!("{i:02}.png,{}.5\n", level / 10);
    }
    std::fs::write(dir.join("labels.csv"), csv).unwrap();
    let mut c = config();
    (c.data.path, c.data.labels) = (Some(dir.to_path_buf()), imgclass::data::Labels::Csv(dir.join("labels.csv")));
    c.transforms.size = Some(8);
    c
}

/// A run of `config` in `dir`, new or resumed, interrupted at `at` when given.
fn run_numbers(config: &TrainConfig, dir: &Path, at: Option<(usize, Option<usize>)>) -> (TrainReport, Vec<f32>) {
    let device = imgclass::default_device();
    let source = config.open_data().unwrap();
    let learner = match RunDir::open(dir) {
        Ok(run) => {
            let saved = run.read_config().unwrap();
            Learner::resume(saved.load(&source, &|_, _| {}).unwrap(), saved, device, run).unwrap()
        }
        Err(_) => {
            let data = config.load(&source, &|_, _| {}).unwrap();
            let run = RunDir::create(Some(dir), Existing::Refuse).unwrap();
            Learner::new(data, config.clone(), device).unwrap().with_run_dir(run)
        }
    };
    fit(learner, at)
}

#[test]
fn a_regression_interrupted_in_an_epoch_and_resumed_ends_with_the_weights_of_an_uninterrupted_run() {
    let t = tempfile::tempdir().unwrap();
    let config = regression(&t.path().join("data"));
    let (whole, whole_logits) = run_numbers(&config, &t.path().join("whole"), None);
    assert!(whole.final_metrics.task.is_some(), "a regression: {:?}", whole.final_metrics.metrics());
    let cut = t.path().join("cut");
    let (first, _) = run_numbers(&config, &cut, Some((2, Some(2))));
    assert!(first.interrupted(), "{:?}", curve(&first));
    let (last, last_logits) = run_numbers(&config, &cut, None);
    assert_eq!(curve(&last), curve(&whole), "the same losses, every step's too");
    assert_eq!(last.final_metrics.metrics(), whole.final_metrics.metrics(), "the same MAE, RMSE and R²");
    assert_eq!(last_logits, whole_logits, "the same last weights, bit for bit");
}
