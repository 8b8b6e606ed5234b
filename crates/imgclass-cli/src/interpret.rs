//! `imgclass interpret MODEL [DATA]`: every image's loss, the top losses as a picture (with
//! Grad-CAM), and the task's view of the errors: the most confused classes and the confusion
//! matrix (one class per image), each label's 2×2 confusion matrix (several), the scatter plot
//! and residual histogram (numbers).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use imgclass::bundle::Bundle;
use imgclass::interpret::{CamOptions, Interpretation, interpret, validation_split};
use imgclass::metrics::TaskMetrics;
use imgclass::plot::{save_confusion_png, save_value_charts};
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
        (Some(data), _) => (bundle.open_data(data, a.labels.as_deref())?, None, data.display().to_string()),
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
    let cam = a.cam.then(|| CamOptions { layer: a.cam_layer.clone(), class: a.class.clone(), out: None });
    let mut files = vec![("top_losses", out.join("top_losses.png")), ("losses", out.join("losses.csv"))];
    interp.save_top_losses(&bundle, a.top.into(), cam.as_ref(), &files[0].1)?;
    interp.save_csv(&files[1].1)?;
    files.extend(pictures(&interp, &what, &out)?);
    if a.json {
        let mut v = serde_json::json!({
            "data": what,
            "images": interp.report.n_images,
            "loss": interp.report.loss,
            "losses": &interp.rows,
            "files": files.iter().map(|(k, p)| (k.to_string(), serde_json::json!(p))).collect::<serde_json::Map<_, _>>(),
            "skipped": &interp.skipped,
        });
        match &interp.report.task {
            None => {
                v["accuracy"] = interp.report.accuracy.into();
                v["most_confused"] = serde_json::to_value(interp.report.confusion.most_confused(1))?;
            }
            Some(task) => {
                v["task"] = serde_json::to_value(task)?;
                for (name, value) in interp.report.metrics() {
                    v[name] = value.into();
                }
            }
        }
        writeln!(std::io::stdout().lock(), "{v}")?;
    } else {
        print_text(&interp, &what, a.top.into(), &files)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The task's pictures in `out`: the confusion matrix (one class per image), the scatter plot
/// and residual histogram (numbers); none for several labels (their 2×2 matrices are printed).
fn pictures(interp: &Interpretation, what: &str, out: &Path) -> Result<Vec<(&'static str, PathBuf)>> {
    match &interp.report.task {
        None => {
            let path = out.join("confusion.png");
            let title = format!("{what}: accuracy {:.2}%", 100.0 * interp.report.accuracy);
            save_confusion_png(&interp.report.confusion, &title, &path)?;
            Ok(vec![("confusion", path)])
        }
        Some(TaskMetrics::Values(m)) => {
            let paths = [out.join("scatter.png"), out.join("residuals.png")];
            save_value_charts(m, what, &paths[0], &paths[1])?;
            let [scatter, residuals] = paths;
            Ok(vec![("scatter", scatter), ("residuals", residuals)])
        }
        Some(TaskMetrics::MultiLabel(_)) => Ok(Vec::new()),
    }
}

fn print_text(interp: &Interpretation, what: &str, top: usize, files: &[(&str, PathBuf)]) -> Result<()> {
    let mut w = std::io::stdout().lock();
    let r = &interp.report;
    writeln!(w, "data: {} ({} images)", esc(what), r.n_images)?;
    match &r.task {
        None => {
            writeln!(w, "accuracy {:.4}, loss {:.4}", r.accuracy, r.loss)?;
            let confused = r.confusion.most_confused(1);
            if !confused.is_empty() {
                writeln!(w, "\nmost confused (actual -> predicted: count)")?;
                for (actual, predicted, n) in confused.iter().take(5) {
                    writeln!(w, "  {} -> {}: {n}", esc(actual), esc(predicted))?;
                }
            }
        }
        Some(task) => {
            let metrics: Vec<String> = r.metrics().iter().map(|(n, v)| format!("{n} {v:.4}")).collect();
            writeln!(w, "{}, loss {:.4}", metrics.join(", "), r.loss)?;
            if let TaskMetrics::MultiLabel(m) = task {
                let cw = m.per_class.iter().map(|c| esc(&c.class).chars().count()).max().unwrap_or(5).max(5);
                writeln!(w, "\neach label's confusion (TP: has it, predicted; FP: has not, predicted; FN; TN)")?;
                writeln!(w, "  {:>cw$}  {:>6}  {:>6}  {:>6}  {:>6}", "label", "TP", "FP", "FN", "TN")?;
                for c in &m.per_class {
                    let (tp, fp, fn_, tn) = (c.true_positives, c.false_positives, c.false_negatives, c.true_negatives);
                    writeln!(w, "  {:>cw$}  {tp:>6}  {fp:>6}  {fn_:>6}  {tn:>6}", esc(&c.class))?;
                }
            }
        }
    }
    let header = match &r.task {
        None => "rank, loss, probability of the actual class, actual -> predicted, file",
        Some(TaskMetrics::Values(_)) => "rank, loss, absolute error, actual -> predicted, file",
        Some(TaskMetrics::MultiLabel(_)) => "rank, loss, actual labels -> predicted labels, file",
    };
    writeln!(w, "\ntop losses ({header})")?;
    for row in interp.rows.iter().take(top.min(10)) {
        let (rank, loss) = (row.rank, row.loss);
        let (label, predicted, file) = (esc(&row.label), esc(&row.predicted), esc(&row.file));
        let middle = row.probability.or(row.error).map_or(String::new(), |v| format!("{v:>7.3}  "));
        writeln!(w, "  {rank:>3}  {loss:>6.3}  {middle}{label} -> {predicted}  {file}")?;
    }
    let names: Vec<String> = files.iter().map(|(_, f)| esc_path(f)).collect();
    writeln!(w, "\nwrote {}", names.join(", "))?;
    Ok(())
}
