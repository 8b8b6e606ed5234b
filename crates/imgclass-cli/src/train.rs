//! `imgclass train`: turns the arguments into a config (or takes a resumed run's), loads and
//! splits the data, trains with progress bars, and reports where the run's files are.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result, bail};
use imgclass::bundle::Bundle;
use imgclass::config::TrainConfig;
use imgclass::data::targets::TaskKind;
use imgclass::interpret::write_report;
use imgclass::metrics::EvalReport;
use imgclass::train::{Existing, Learner, RunDir, TrainReport};

use crate::args::TrainArgs;
use crate::common::{device, load_data};
use crate::config::run_config;
use crate::progress::{TrainProgress, fmt_time};
use crate::show::esc_path;

pub fn run(a: TrainArgs) -> Result<ExitCode> {
    let device = device(a.run.device)?;
    let learner = match &a.resume {
        Some(dir) => resumed(&a, dir, device)?,
        None => {
            let config = run_config(&a.run, TrainConfig::default())?;
            // After the data loads: a config or data error leaves no empty runs/expN behind.
            let data = load_data(&config)?;
            let learner = Learner::new(data, config, device)?;
            learner.with_run_dir(run_folder(&a)?)
        }
    };
    train(learner, a.run.json)
}

/// The run folder of a fresh run: an earlier run's folder is refused unless `--overwrite`.
fn run_folder(a: &TrainArgs) -> Result<RunDir> {
    let existing = if a.overwrite { Existing::Overwrite } else { Existing::Refuse };
    match RunDir::create(a.run.out.as_deref(), existing) {
        Err(imgclass::Error::RunExists { path, file }) => bail!(
            "{} already holds a run ({file}); continue it with --resume {0}, or train afresh in it with --overwrite",
            esc_path(&path)
        ),
        created => Ok(created?),
    }
}

/// The learner of the run in `dir`, with its saved config: only the loader's options (and
/// the device) may be given beside `--resume`.
fn resumed(a: &TrainArgs, dir: &Path, device: imgclass::Device) -> Result<Learner> {
    let run_dir = RunDir::open(dir)?;
    let saved = run_dir.read_config()?;
    let config = run_config(&a.run, saved.clone())?;
    let mut same = config.clone();
    same.data.loader = saved.data.loader;
    if same != saved {
        bail!(
            "--resume continues {} with its saved config: only --workers, --images-in, --memory-mb, --device and --json may be given beside it",
            dir.display()
        );
    }
    let data = load_data(&config)?;
    Ok(Learner::resume(data, config, device, run_dir)?)
}

fn train(mut learner: Learner, json: bool) -> Result<ExitCode> {
    let config = learner.config().clone();
    let (all, trainable) = (learner.num_params(), learner.trainable_params());
    let params = if trainable < all && config.model.starts_pretrained() {
        format!("{all} parameters, {trainable} trainable while the body is frozen")
    } else {
        format!("{all} parameters")
    };
    let start = match config.model.weights_file()? {
        Some(p) => format!(", body from {}", p.display()),
        None => String::new(),
    };
    let run_dir = learner.run_dir().cloned().context("a run folder")?;
    let resumed = match learner.position() {
        (0, 0) => String::new(),
        (done, 0) => format!("; resuming after epoch {done}"),
        (done, step) => format!("; resuming in epoch {} after step {step}", done + 1),
    };
    eprintln!(
        "model: {} ({params}{start}) on {}; run folder {}{resumed}",
        config.model.arch.name(),
        learner.device_name(),
        run_dir.path().display()
    );

    let flag = learner.interrupt_handle();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\nimgclass: interrupted twice, exiting without saving");
            std::process::exit(130);
        }
        eprintln!("\nimgclass: stopping after this step and saving what has been trained (Ctrl-C again to quit now)");
    });

    let report = learner.fit(&mut TrainProgress::new()).context("training failed")?;
    if !report.diverged() {
        // The model is saved whatever happens here: a failed report is a warning.
        let html = Bundle::load(&run_dir.model_path(), &imgclass::default_device())
            .and_then(|bundle| write_report(&run_dir, &bundle));
        match html {
            Ok(path) => eprintln!("report: {}", path.display()),
            Err(e) => eprintln!("warning: no report.html: {}", crate::help::chain(&e.into())),
        }
    }
    print_report(&report, &run_dir, json.then_some(learner.data().skipped().len()), learner.data().task());
    if report.diverged() {
        bail!(
            "training diverged (the loss became NaN); the best weights before that are in {}; lower --lr and train again",
            run_dir.model_path().display()
        );
    }
    if report.interrupted() {
        eprintln!("continue with: imgclass train --resume {}", run_dir.path().display());
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

/// The report's metrics as `name value` pairs for a sentence.
fn named(r: &EvalReport) -> String {
    r.metrics().iter().map(|(name, v)| format!("{name} {v:.4}")).collect::<Vec<_>>().join(", ")
}

/// The report's metrics as a JSON object.
fn metric_map(r: &EvalReport) -> serde_json::Value {
    r.metrics().into_iter().map(|(name, v)| (name.to_string(), serde_json::Value::from(v))).collect()
}

/// Prints the outcome; with `json` (the number of skipped files), one JSON object last.
fn print_report(report: &TrainReport, run_dir: &RunDir, json: Option<usize>, task: TaskKind) {
    let v = &report.final_metrics;
    let single = v.task.is_none();
    let (best, epochs, time) = (report.best_epoch, report.history.len(), fmt_time(report.seconds));
    if single {
        println!(
            "\nbest epoch {best} of {epochs}: valid accuracy {:.2}% (error rate {:.2}%), valid loss {:.4}, total time {time}",
            100.0 * v.accuracy,
            100.0 * v.error_rate,
            v.loss,
        );
    } else {
        println!("\nbest epoch {best} of {epochs}: valid {}, valid loss {:.4}, total time {time}", named(v), v.loss);
    }
    if let Some(t) = &report.test_metrics {
        match single {
            true => println!("test accuracy {:.2}% on {} images", 100.0 * t.accuracy, t.n_images),
            false => println!("test {} on {} images", named(t), t.n_images),
        }
    }
    println!("model: {}", run_dir.model_path().display());
    if single {
        println!("confusion matrix: {}", run_dir.confusion_path().display());
    }
    if let Some(skipped) = json {
        let mut out = serde_json::json!({
            "accuracy": v.accuracy,
            "error_rate": v.error_rate,
            "valid_loss": v.loss,
            "epochs": report.history.len(),
            "best_epoch": report.best_epoch,
            "test_accuracy": report.test_metrics.as_ref().map(|t| t.accuracy),
            "model": run_dir.model_path(),
            "run_dir": run_dir.path(),
            "confusion_matrix": run_dir.confusion_path(),
            "seconds": report.seconds,
            "ending": report.ending,
            "interrupted": report.interrupted(),
            "skipped": skipped,
        });
        if !single {
            for (name, value) in v.metrics() {
                out[name] = value.into();
            }
            out["task"] = task.name().into();
            out["test"] = report.test_metrics.as_ref().map(metric_map).into();
            out["confusion_matrix"] = serde_json::Value::Null;
        }
        println!("{out}");
    }
}
