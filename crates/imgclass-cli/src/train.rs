//! `imgclass train`: validates the arguments into a [`TrainConfig`], loads and splits the
//! data, trains with progress bars, and reports where the run's files are.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result, bail};
use imgclass::data::labels::Labels;
use imgclass::data::{DataSplits, Skipped, Source};
use imgclass::models::{Arch, Padding, Pool};
use imgclass::train::{Learner, RunDir, Schedule, TrainConfig};
use imgclass::transforms::{AugPreset, Augment};

use crate::args::{DataArgs, TrainArgs, TransformArgs};
use crate::progress::{TrainProgress, bar, fmt_time};

/// Builds the architecture from `--arch` and its options; an option of another architecture
/// is an error rather than silently ignored.
fn arch_from(a: &TrainArgs) -> Result<Arch> {
    let mut arch = Arch::from_name(&a.arch)?;
    let activation = a.activation.as_deref().map(str::parse).transpose().map_err(anyhow::Error::msg)?;
    // (flag, given, the architectures it applies to)
    const MLP: &[&str] = &["mlp"];
    const CNN: &[&str] = &["cnn"];
    const BOTH: &[&str] = &["mlp", "cnn"];
    let flags = [
        ("--hidden", a.hidden.is_some(), MLP),
        ("--channels", a.channels.is_some(), CNN),
        ("--convs-per-block", a.convs_per_block.is_some(), CNN),
        ("--kernel-size", a.kernel_size.is_some(), CNN),
        ("--padding", a.padding.is_some(), CNN),
        ("--stride", a.stride.is_some(), CNN),
        ("--pool", a.pool.is_some(), CNN),
        ("--no-batch-norm", a.no_batch_norm, CNN),
        ("--activation", a.activation.is_some(), BOTH),
        ("--dropout", a.dropout.is_some(), BOTH),
    ];
    if let Some((flag, _, _)) = flags.iter().find(|(_, given, archs)| *given && !archs.contains(&arch.name())) {
        bail!("{flag} does not apply to --arch {}", a.arch);
    }
    match &mut arch {
        Arch::Mlp(cfg) => {
            if let Some(h) = &a.hidden {
                cfg.hidden = h.clone();
            }
            if let Some(act) = activation {
                cfg.activation = act;
            }
            if let Some(d) = a.dropout {
                cfg.dropout = d;
            }
        }
        Arch::Cnn(cfg) => {
            if let Some(c) = &a.channels {
                cfg.channels = c.clone();
            }
            if let Some(n) = a.convs_per_block {
                cfg.convs_per_block = n;
            }
            if let Some(k) = a.kernel_size {
                cfg.kernel_size = k;
            }
            if let Some(p) = &a.padding {
                cfg.padding = p.parse::<Padding>().map_err(anyhow::Error::msg)?;
            }
            if let Some(s) = a.stride {
                cfg.stride = s;
            }
            if let Some(p) = &a.pool {
                cfg.pool = p.parse::<Pool>().map_err(anyhow::Error::msg)?;
            }
            if let Some(d) = a.dropout {
                cfg.dropout = d;
            }
            if let Some(act) = activation {
                cfg.activation = act;
            }
            cfg.batch_norm = !a.no_batch_norm;
        }
        _ => {}
    }
    Ok(arch)
}

fn lr_range(s: &str) -> Result<(f64, f64)> {
    let parse = |v: &str| v.trim().parse::<f64>().ok();
    match s.split_once(':').map(|(l, h)| (parse(l), parse(h))) {
        Some((Some(l), Some(h))) => Ok((l, h)),
        _ => bail!("--lr-range takes LOW:HIGH, e.g. 1e-6:1e-4 (got {s:?})"),
    }
}

fn config_from(a: &TrainArgs) -> Result<TrainConfig> {
    let fine_tune = a.fine_tune.is_some();
    Ok(TrainConfig::new()
        .with_arch(arch_from(a)?)
        .with_epochs(a.fine_tune.unwrap_or(a.epochs))
        .with_freeze_epochs(a.freeze_epochs.unwrap_or(usize::from(fine_tune)))
        .with_unfreeze(a.unfreeze || fine_tune)
        .with_pretrained(a.pretrained)
        .with_weights(a.weights.clone())
        .with_lr_range(a.lr_range.as_deref().map(lr_range).transpose()?)
        .with_cache_features(!a.no_cache_features)
        .with_batch_size(a.batch_size)
        .with_lr(a.lr.unwrap_or(if fine_tune { 2e-3 } else { 3e-3 }))
        .with_optimizer(a.optimizer.parse().map_err(anyhow::Error::msg)?)
        .with_weight_decay(a.weight_decay)
        .with_momentum(a.momentum)
        .with_schedule(if a.constant_lr { Schedule::Constant } else { Schedule::default() })
        .with_balance(a.balance.as_deref().map(str::parse).transpose().map_err(anyhow::Error::msg)?)
        .with_workers(a.loader.workers)
        .with_images_in(a.loader.images_in.parse().map_err(anyhow::Error::msg)?)
        .with_memory_mb(a.loader.memory_mb)
        .with_valid_pct(a.split.valid_pct)
        .with_test_pct(a.split.test_pct)
        .with_seed(a.split.seed)
        .with_patience(a.patience))
    .and_then(|config| with_transform(config, &a.transform))
}

/// `config` with the input size, resizing, augmentation, presizing, normalization and
/// background of the transform flags (shared by `train`, `lr-find` and `data show|bench`).
pub fn with_transform(config: TrainConfig, t: &TransformArgs) -> Result<TrainConfig> {
    Ok(config
        .with_size(t.size)
        .with_resize(t.resize.parse().map_err(anyhow::Error::msg)?)
        .with_augment(Augment::preset(t.aug.parse::<AugPreset>().map_err(anyhow::Error::msg)?))
        .with_presize(t.presize)
        .with_normalize(t.normalize.parse().map_err(anyhow::Error::msg)?)
        .with_background(background(&t.background)?))
}

/// The colour of `--background`: white, black, grey or R,G,B.
fn background(s: &str) -> Result<[u8; 3]> {
    let rgb: Option<Vec<u8>> = match s {
        "white" => Some(vec![255; 3]),
        "black" => Some(vec![0; 3]),
        "grey" | "gray" => Some(vec![128; 3]),
        _ => s.split(',').map(|v| v.trim().parse::<u8>().ok()).collect(),
    };
    match rgb.as_deref() {
        Some(&[r, g, b]) => Ok([r, g, b]),
        _ => bail!("--background takes white, black, grey or R,G,B with each in 0..=255 (got {s:?})"),
    }
}

/// The data to train on or check: `data` (default: the bundled sample) with its labels from
/// class folders, a CSV file (`labels`; its folder is the default `data`) or a file-name regex.
pub fn open_source(a: &DataArgs) -> Result<Source> {
    let (data, regex) = (a.data.as_deref(), a.label_regex.as_deref());
    let listing = a.labels.as_deref().or(a.files.as_deref());
    let how = match (&a.labels, regex, &a.files) {
        (Some(csv), _, _) => Labels::Csv(csv.clone()),
        (None, Some(re), _) => Labels::NameRegex(re.to_string()),
        (None, None, Some(list)) => Labels::FileList(list.clone()),
        (None, None, None) => Labels::Folders,
    };
    let dir = match (data, listing) {
        (Some(d), _) => d.to_path_buf(),
        (None, Some(file)) => file.parent().map(Path::to_path_buf).unwrap_or_default(),
        (None, None) if regex.is_some() => bail!("--label-regex needs the DATA folder whose file names carry the labels"),
        (None, None) => return Ok(Source::bundled()?),
    };
    Ok(Source::open_labelled(&dir, &how)?)
}

pub fn report_skipped(skipped: &[Skipped]) {
    for s in skipped {
        eprintln!("warning: skipped {}: {}", s.path.display(), s.reason);
    }
    if !skipped.is_empty() {
        eprintln!("warning: {} file(s) skipped", skipped.len());
    }
}

/// Validates the arguments, opens and splits the data, and reports skipped files: what both
/// `train` and `lr-find` start with.
pub fn prepare(a: &TrainArgs) -> Result<(TrainConfig, DataSplits, Vec<Skipped>)> {
    let config = config_from(a)?;
    config.validate(config.size.unwrap_or(config.arch.default_size()))?;
    let source = open_source(&a.source)?;
    source.require_two_classes()?;
    let size = config.input_size(&source);
    config.arch.validate([3, size.0, size.1])?;
    let pre = config.preprocess(&source, size);
    eprintln!("data: {} — {} images, {} classes", source.root.display(), source.items.len(), source.classes.len());
    let pb = bar(source.items.len() as u64, "loading");
    let data = DataSplits::load_with(&source, pre, config.split_options(), config.load_options(size), &|d, _| pb.set_position(d as u64))?;
    pb.finish_and_clear();
    let mut skipped = source.problems.clone();
    skipped.extend(data.skipped.iter().cloned());
    report_skipped(&skipped);
    let p = &data.preprocess;
    eprintln!(
        "split: {} train, {} valid{}; input {}×{}×{}",
        data.train.len(),
        data.valid.len(),
        data.test.as_ref().map_or(String::new(), |t| format!(", {} test", t.len())),
        p.input_channels(),
        p.height,
        p.width
    );
    Ok((config, data, skipped))
}

pub fn run(a: TrainArgs) -> Result<ExitCode> {
    let (config, data, skipped) = prepare(&a)?;
    let device = imgclass::default_device();
    let learner = Learner::new(data, config, device.clone())?;
    let run_dir = RunDir::create(a.out.as_deref())?;
    let mut learner = learner.with_run_dir(run_dir.clone());
    let (all, trainable) = (learner.num_params(), learner.trainable_params());
    let params = if trainable < all && learner.config.starts_pretrained() { format!("{all} parameters, {trainable} trainable while the body is frozen") } else { format!("{all} parameters") };
    let start = match &learner.config.weights_path() {
        Some(p) => format!(", body from {}", p.display()),
        None => String::new(),
    };
    eprintln!("model: {} ({params}{start}) on {}; run folder {}", learner.config.arch.name(), imgclass::device_name(&device), run_dir.path.display());

    let flag = learner.interrupt_handle();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\nimgclass: interrupted twice, exiting without saving");
            std::process::exit(130);
        }
        eprintln!("\nimgclass: stopping after this step and saving what has been trained (Ctrl-C again to quit now)");
    });

    let report = learner.fit(&mut TrainProgress::new()).context("training failed")?;
    let v = &report.final_metrics;
    println!(
        "\nbest epoch {} of {}: valid accuracy {:.2}% (error rate {:.2}%), valid loss {:.4}, total time {}",
        report.best_epoch,
        report.history.len(),
        100.0 * v.accuracy,
        100.0 * v.error_rate,
        v.loss,
        fmt_time(report.seconds)
    );
    if let Some(t) = &report.test_metrics {
        println!("test accuracy {:.2}% on {} images", 100.0 * t.accuracy, t.n_images);
    }
    println!("model: {}", run_dir.model_path().display());
    println!("confusion matrix: {}", run_dir.confusion_path().display());
    if a.json {
        let out = serde_json::json!({
            "accuracy": v.accuracy,
            "error_rate": v.error_rate,
            "valid_loss": v.loss,
            "epochs": report.history.len(),
            "best_epoch": report.best_epoch,
            "test_accuracy": report.test_metrics.as_ref().map(|t| t.accuracy),
            "model": run_dir.model_path(),
            "run_dir": run_dir.path,
            "confusion_matrix": run_dir.confusion_path(),
            "seconds": report.seconds,
            "interrupted": report.interrupted,
            "skipped": skipped.len(),
        });
        println!("{out}");
    }
    if report.diverged {
        bail!(
            "training diverged (the loss became NaN); the best weights before that are in {}; lower --lr and train again",
            run_dir.model_path().display()
        );
    }
    Ok(if report.interrupted { ExitCode::from(130) } else { ExitCode::SUCCESS })
}
