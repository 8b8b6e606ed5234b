//! `imgclass clean [DATA]`: suspected label errors, from out-of-fold predictions (or a given
//! model's) and confident learning, outliers in the models' feature space and near-duplicates;
//! writes clean.csv and suspects.png.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use imgclass::bundle::Bundle;
use imgclass::config::TrainConfig;
use imgclass::curate::{LabelStore, apply, undo};
use imgclass::data::targets::TaskKind;
use imgclass::interpret::clean::{CleanReport, Scored, model_scores, out_of_fold};
use imgclass::train::{Existing, RunDir};

use crate::args::{CleanArgs, CleanCommand};
use crate::common::device;
use crate::config::run_config;
use crate::show::{esc, esc_path};

/// The quick recipe: `train`'s defaults with 3 epochs a fold.
fn quick() -> TrainConfig {
    let mut c = TrainConfig::default();
    c.fit.epochs = imgclass::interpret::clean::QUICK_EPOCHS;
    c
}

pub fn run(a: CleanArgs) -> Result<ExitCode> {
    match &a.then {
        Some(then) => apply_or_undo(then),
        None => find(a),
    }
}

/// `clean apply CSV` and `clean undo DATA`.
fn apply_or_undo(then: &CleanCommand) -> Result<ExitCode> {
    match then {
        CleanCommand::Apply { csv } => {
            let (done, root) = apply(csv)?;
            println!(
                "relabelled {}, moved {} to the trash (or out of the labels file), kept {}; undo with: imgclass clean undo {}",
                done.relabelled,
                done.deleted,
                done.kept,
                root.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        CleanCommand::Undo { data } => {
            let done = undo(data)?;
            if done.reverted + done.already + done.refused.len() == 0 {
                println!("nothing to undo");
            } else {
                println!("reverted {} changes ({} were reverted already)", done.reverted, done.already);
            }
            for why in &done.refused {
                eprintln!("not reverted: {why}");
            }
            Ok(if done.refused.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

/// `clean [DATA]`: scores the images, finds the suspects, writes clean.csv and suspects.png.
fn find(a: CleanArgs) -> Result<ExitCode> {
    let start = Instant::now();
    let device = device(a.run.device)?;
    let config = run_config(&a.run, quick())?;
    let source = config.open_data()?;
    let (root, n, k) = (esc_path(source.root()), source.len(), source.classes().len());
    let what = match source.task() {
        TaskKind::SingleLabel | TaskKind::MultiLabel => "classes",
        TaskKind::Regression | TaskKind::Count => "targets",
    };
    eprintln!("data: {root} — {n} images, {k} {what} ({})", source.task().name());
    let (scored, pre): (Scored, _) = match &a.model {
        Some(path) => {
            let bundle = Bundle::load(path, &device)?;
            (model_scores(&bundle, &source)?, bundle.meta().preprocess().clone())
        }
        None => {
            let folds = usize::from(a.folds);
            let scored = out_of_fold(&source, &config, folds, &device, &mut |f, k| {
                eprintln!("fold {}/{k}: training on the other {} folds", f + 1, k - 1);
            })?;
            (scored, config.preprocess(&source, config.input_size(&source)))
        }
    };
    let report = CleanReport::find(&source, scored, a.rank_by, a.duplicate_bits)?;
    let dir = RunDir::create(a.run.out.as_deref(), Existing::Keep)?;
    let (csv, png) = (dir.path().join("clean.csv"), dir.path().join("suspects.png"));
    let store = config
        .data
        .root()
        .and_then(|root| LabelStore::of(&config.data.labels, &config.task.columns, &root, source.is_idx()));
    report.save_csv(store, &csv)?;
    report.save_picture(&source, &pre, a.show.into(), &png)?;
    let seconds = start.elapsed().as_secs_f64();
    let mut w = std::io::stdout().lock();
    print_summary(&mut w, &report, seconds)?;
    writeln!(w, "wrote {} (edit its action column) and {}", csv.display(), png.display())?;
    if a.run.json {
        let scored = &report.scored;
        let metrics: serde_json::Map<String, serde_json::Value> =
            scored.metrics().into_iter().map(|(name, v)| (name.to_string(), v.into())).collect();
        let mut v = serde_json::json!({
            "task": scored.task,
            "suspects": report.suspects().collect::<Vec<_>>(),
            "images": scored.labels.len(),
            "method": scored.method,
            "metrics": metrics,
            "classes": scored.classes,
            "files": {"csv": csv, "picture": png},
            "seconds": seconds,
        });
        if scored.task == TaskKind::SingleLabel {
            v["accuracy"] = scored.accuracy().into();
            v["confident_joint"] = serde_json::json!(scored.confident_joint());
        }
        writeln!(w, "{v}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The counts of each kind of suspect and the first few of each.
fn print_summary(w: &mut impl Write, report: &CleanReport, seconds: f64) -> std::io::Result<()> {
    let CleanReport { scored, label_errors, outliers, duplicates } = report;
    let metrics: Vec<String> = scored.metrics().iter().map(|(name, v)| format!("{name} {v:.4}")).collect();
    writeln!(
        w,
        "scored {} images with {}: {}; {} suspected label errors, {} outliers, {} near-duplicates ({seconds:.0} s)",
        scored.labels.len(),
        scored.method,
        metrics.join(", "),
        label_errors.len(),
        outliers.len(),
        duplicates.len()
    )?;
    let shown = |t: &str| if t.is_empty() { "(no label)".to_string() } else { esc(t).into_owned() };
    for s in label_errors.iter().take(10) {
        writeln!(w, "  {:.3}  {} -> {}  {}", s.score, shown(&s.label), shown(&s.suggested), esc(&s.file))?;
    }
    for s in outliers.iter().take(5) {
        let (file, label, like) = (esc(&s.file), esc(&s.label), esc(&s.suggested));
        writeln!(w, "  outlier {:.3}  {file} ({label}, looks most like {like})", s.score)?;
    }
    for s in duplicates.iter().take(5) {
        let (file, label) = (esc(&s.file), esc(&s.label));
        let (other, its) = (esc(s.other.as_deref().unwrap_or("")), esc(&s.suggested));
        writeln!(w, "  duplicate {:.3}  {file} ({label}) ~ {other} ({its})", s.score)?;
    }
    Ok(())
}
