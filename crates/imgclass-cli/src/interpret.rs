//! `imgclass interpret MODEL [DATA]`: every image's loss, the top losses as a picture (with
//! Grad-CAM), the most confused classes and the confusion matrix.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use imgclass::bundle::Bundle;
use imgclass::data::Source;
use imgclass::interpret::{Interpretation, interpret, validation_split};
use imgclass::plot::save_confusion_png;
use imgclass::train::RunDir;

use crate::args::InterpretArgs;
use crate::common::{device, report_skipped};
use crate::progress::bar;
use crate::show::{esc, esc_path};

pub fn run(a: InterpretArgs) -> Result<ExitCode> {
    let run = if a.model.is_dir() { Some(RunDir::open(&a.model)?) } else { None };
    let model = run.as_ref().map_or(a.model.clone(), RunDir::model_path);
    let bundle = Bundle::load(&model, &device(a.device)?)?;
    let (source, indices, what) = match (&a.data, &run) {
        (Some(data), _) => (Source::open(data)?, None, data.display().to_string()),
        (None, Some(run)) => {
            let (source, indices) = validation_split(run)?;
            (source, Some(indices), format!("the validation split of {}", run.path().display()))
        }
        (None, None) => bail!(
            "give labelled data to interpret on: imgclass interpret MODEL DATA (or a training run's folder, \
             whose validation split is then the data)"
        ),
    };
    // A run's validation images were seen by the model's checkpoint selection, not its training.
    let allow = a.allow_training_data || a.data.is_none();
    let pb = bar(indices.as_ref().map_or(source.len(), Vec::len) as u64, "loading");
    let result = interpret(&bundle, &source, indices.as_deref(), allow, &|d, _| pb.set_position(d as u64));
    pb.finish_and_clear();
    let interp = result?;
    report_skipped(&interp.skipped);
    let out = a.out.clone().unwrap_or_else(|| match &run {
        Some(run) => run.path().join("interpret"),
        None => model.with_file_name("interpret"),
    });
    std::fs::create_dir_all(&out)?;
    let files = [out.join("top_losses.png"), out.join("losses.csv"), out.join("confusion.png")];
    let cam = a.cam.then(|| a.cam_layer.as_deref().unwrap_or(""));
    interp.save_top_losses(&bundle, a.top.into(), cam, &files[0])?;
    interp.save_csv(&files[1])?;
    let title = format!("{what}: accuracy {:.2}%", 100.0 * interp.report.accuracy);
    save_confusion_png(&interp.report.confusion, &title, &files[2])?;
    if a.json {
        let v = serde_json::json!({
            "data": what,
            "images": interp.report.n_images,
            "accuracy": interp.report.accuracy,
            "loss": interp.report.loss,
            "most_confused": interp.report.confusion.most_confused(1),
            "losses": &interp.rows,
            "files": {"top_losses": &files[0], "losses": &files[1], "confusion": &files[2]},
            "skipped": &interp.skipped,
        });
        writeln!(std::io::stdout().lock(), "{v}")?;
    } else {
        print_text(&interp, &what, a.top.into(), &files)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_text(interp: &Interpretation, what: &str, top: usize, files: &[PathBuf; 3]) -> Result<()> {
    let mut w = std::io::stdout().lock();
    let r = &interp.report;
    writeln!(w, "data: {} ({} images)\naccuracy {:.4}, loss {:.4}", esc(what), r.n_images, r.accuracy, r.loss)?;
    let confused = r.confusion.most_confused(1);
    if !confused.is_empty() {
        writeln!(w, "\nmost confused (actual -> predicted: count)")?;
        for (actual, predicted, n) in confused.iter().take(5) {
            writeln!(w, "  {} -> {}: {n}", esc(actual), esc(predicted))?;
        }
    }
    writeln!(w, "\ntop losses (rank, loss, probability of the actual class, actual -> predicted, file)")?;
    for row in interp.rows.iter().take(top.min(10)) {
        let (rank, loss, p) = (row.rank, row.loss, row.probability);
        let (label, predicted, file) = (esc(&row.label), esc(&row.predicted), esc(&row.file));
        writeln!(w, "  {rank:>3}  {loss:>6.3}  {p:>5.3}  {label} -> {predicted}  {file}")?;
    }
    let names: Vec<String> = files.iter().map(|f| esc_path(f)).collect();
    writeln!(w, "\nwrote {}", names.join(", "))?;
    Ok(())
}
