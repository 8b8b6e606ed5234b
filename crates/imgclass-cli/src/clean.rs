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
use imgclass::interpret::clean::{
    Scored, model_scores, near_duplicates, out_of_fold, save_clean_csv, save_suspects_picture,
};
use imgclass::train::{Existing, RunDir};

use crate::args::{CleanArgs, CleanCommand};
use crate::common::device;
use crate::config::run_config;
use crate::show::{esc, esc_path};

/// The quick recipe: `train`'s defaults with 3 epochs a fold.
fn quick() -> TrainConfig {
    let mut c = TrainConfig::default();
    c.fit.epochs = 3;
    c
}

pub fn run(a: CleanArgs) -> Result<ExitCode> {
    match &a.then {
        Some(CleanCommand::Apply { csv }) => {
            let (done, root) = apply(csv)?;
            println!(
                "relabelled {}, moved {} to the trash (or out of the labels file), kept {}; undo with: imgclass clean undo {}",
                done.relabelled,
                done.deleted,
                done.kept,
                root.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        Some(CleanCommand::Undo { data }) => {
            let done = undo(data)?;
            if done.reverted + done.already + done.refused.len() == 0 {
                println!("nothing to undo");
            } else {
                println!("reverted {} changes ({} were reverted already)", done.reverted, done.already);
            }
            for why in &done.refused {
                eprintln!("not reverted: {why}");
            }
            return Ok(if done.refused.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        None => {}
    }
    let start = Instant::now();
    let device = device(a.run.device)?;
    let config = run_config(&a.run, quick())?;
    let source = config.data.open()?;
    eprintln!("data: {} — {} images, {} classes", esc_path(source.root()), source.len(), source.classes().len());
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
    let mut suspects = scored.label_errors(a.rank_by);
    let label_errors = suspects.len();
    suspects.extend(scored.outliers());
    let outliers = suspects.len() - label_errors;
    suspects.extend(near_duplicates(&source, a.duplicate_bits)?);
    let dir = RunDir::create(a.run.out.as_deref(), Existing::Keep)?;
    let (csv, png) = (dir.path().join("clean.csv"), dir.path().join("suspects.png"));
    let store = config.data.root().and_then(|root| LabelStore::of(&config.data.labels, &root, source.is_idx()));
    save_clean_csv(&suspects, store, &scored.classes, &csv)?;
    save_suspects_picture(&source, &suspects, &pre, a.show.into(), &png)?;
    let seconds = start.elapsed().as_secs_f64();
    let mut w = std::io::stdout().lock();
    writeln!(
        w,
        "scored {} images with {}: accuracy {:.4}; {label_errors} suspected label errors, {outliers} outliers, {} near-duplicates ({seconds:.0} s)",
        scored.labels.len(),
        scored.method,
        scored.accuracy(),
        suspects.len() - label_errors - outliers
    )?;
    for s in suspects[..label_errors].iter().take(10) {
        writeln!(w, "  {:.3}  {} -> {}  {}", s.score, esc(&s.label), esc(&s.suggested), esc(&s.file))?;
    }
    for s in suspects[label_errors..label_errors + outliers].iter().take(5) {
        let (file, label, like) = (esc(&s.file), esc(&s.label), esc(&s.suggested));
        writeln!(w, "  outlier {:.3}  {file} ({label}, looks most like {like})", s.score)?;
    }
    for s in suspects[label_errors + outliers..].iter().take(5) {
        let (file, label) = (esc(&s.file), esc(&s.label));
        let (other, its) = (esc(s.other.as_deref().unwrap_or("")), esc(&s.suggested));
        writeln!(w, "  duplicate {:.3}  {file} ({label}) ~ {other} ({its})", s.score)?;
    }
    writeln!(w, "wrote {} (edit its action column) and {}", csv.display(), png.display())?;
    if a.run.json {
        let v = serde_json::json!({
            "suspects": suspects,
            "images": scored.labels.len(),
            "method": scored.method,
            "accuracy": scored.accuracy(),
            "confident_joint": scored.confident_joint(),
            "classes": scored.classes,
            "files": {"csv": csv, "picture": png},
            "seconds": seconds,
        });
        writeln!(w, "{v}")?;
    }
    Ok(ExitCode::SUCCESS)
}
