//! `imgclass evaluate MODEL DATA`: accuracy, per-class precision/recall/F1 and the confusion
//! matrix (text and PNG) of a bundle on labelled data; beyond one class per image, the task's
//! metrics and tables, and for numbers the scatter plot and residual histogram.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use imgclass::bundle::Bundle;
use imgclass::data::{MAX_PIXELS, Source};
use imgclass::infer::EvalOutput;
use imgclass::metrics::TaskMetrics;
use imgclass::plot::{save_confusion_png, save_value_charts};

use crate::args::EvaluateArgs;
use crate::common::{device, report_skipped};
use crate::progress::bar;
use crate::show::{esc, esc_path};

pub fn run(a: EvaluateArgs) -> Result<ExitCode> {
    let bundle = Bundle::load(&a.model, &device(a.device)?)?;
    let source = bundle.open_data(&a.data, a.labels.as_deref())?.with_max_pixels(a.max_pixels.unwrap_or(MAX_PIXELS));
    let pb = bar(source.len() as u64, "loading");
    let result = bundle
        .evaluate_source(&source, a.allow_training_data, crate::config::tta(&a.tta), &|d, _| pb.set_position(d as u64));
    pb.finish_and_clear();
    let out = result?;
    report_skipped(&out.skipped);
    if out.training_overlap > 0 {
        eprintln!("warning: {} of these images were used to train or validate the model", out.training_overlap);
    }
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir)?;
    }
    let picture = |name: &str| match &a.out {
        Some(dir) => dir.join(format!("{name}.png")),
        None => a.model.with_file_name(format!("{name}-eval.png")),
    };
    if let Some(task) = &out.report.task {
        let charts = match task {
            TaskMetrics::Values(m) => {
                let paths = vec![picture("scatter"), picture("residuals")];
                save_value_charts(m, &source.root().display().to_string(), &paths[0], &paths[1])?;
                paths
            }
            TaskMetrics::MultiLabel(_) => Vec::new(),
        };
        return task_report(&out, task, &source, &charts, a.json);
    }
    let png = a.confusion.clone().unwrap_or_else(|| picture("confusion"));
    let title = format!("{}: accuracy {:.2}%", source.root().display(), 100.0 * out.report.accuracy);
    save_confusion_png(&out.report.confusion, &title, &png)?;
    if a.json {
        let mut v = serde_json::to_value(&out.report)?;
        v["skipped"] = serde_json::to_value(&out.skipped)?;
        v["training_overlap"] = out.training_overlap.into();
        v["data"] = serde_json::json!(source.root());
        v["confusion_png"] = serde_json::json!(png);
        writeln!(std::io::stdout().lock(), "{v}")?;
        return Ok(ExitCode::SUCCESS);
    }
    print_text(&out, &source, &png)?;
    Ok(ExitCode::SUCCESS)
}

fn print_text(out: &EvalOutput, source: &Source, png: &std::path::Path) -> Result<()> {
    let report = &out.report;
    let mut w = std::io::stdout().lock();
    writeln!(w, "data: {} ({} images)", esc_path(source.root()), report.n_images)?;
    writeln!(
        w,
        "accuracy   {:.4}\nerror rate {:.4}\nloss       {:.4}",
        report.accuracy, report.error_rate, report.loss
    )?;
    if let Some(r) = &report.ranking {
        writeln!(
            w,
            "ROC AUC    {:.4}  (the probability of {} ranking its {} images)",
            r.roc_auc,
            esc(&r.class),
            r.positives
        )?;
        writeln!(w, "average precision {:.4}", r.average_precision)?;
    }
    writeln!(w)?;
    let cw = report.per_class.iter().map(|c| esc(&c.class).chars().count()).max().unwrap_or(5).max(5);
    writeln!(w, "{:>cw$}  {:>9}  {:>6}  {:>6}  {:>7}", "class", "precision", "recall", "f1", "support")?;
    for c in &report.per_class {
        writeln!(
            w,
            "{:>cw$}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}",
            esc(&c.class),
            c.precision,
            c.recall,
            c.f1,
            c.support
        )?;
    }
    writeln!(w, "\nconfusion matrix (rows: actual, columns: predicted)")?;
    for line in report.confusion.to_text().lines() {
        writeln!(w, "{}", esc(line))?;
    }
    let confused = report.confusion.most_confused(1);
    if !confused.is_empty() {
        writeln!(w, "most confused (actual -> predicted: count)")?;
        for (actual, predicted, n) in confused.iter().take(5) {
            writeln!(w, "  {} -> {}: {n}", esc(actual), esc(predicted))?;
        }
    }
    writeln!(w, "confusion matrix picture: {}", esc_path(png))?;
    Ok(())
}

/// The report of a model beyond one class per image: its metrics by name, then the table per
/// class (multi-label) or per target (numbers); `json` prints the report as one object.
fn task_report(
    out: &EvalOutput,
    task: &TaskMetrics,
    source: &Source,
    charts: &[PathBuf],
    json: bool,
) -> Result<ExitCode> {
    let report = &out.report;
    let mut w = std::io::stdout().lock();
    if json {
        let mut v = serde_json::to_value(report)?;
        if let [scatter, residuals] = charts {
            v["scatter_png"] = serde_json::json!(scatter);
            v["residuals_png"] = serde_json::json!(residuals);
        }
        v["skipped"] = serde_json::to_value(&out.skipped)?;
        v["training_overlap"] = out.training_overlap.into();
        v["data"] = serde_json::json!(source.root());
        for (name, value) in report.metrics() {
            v[name] = value.into();
        }
        writeln!(w, "{v}")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(w, "data: {} ({} images)", esc_path(source.root()), report.n_images)?;
    for (name, value) in report.metrics() {
        writeln!(w, "{name:<15}{value:.4}")?;
    }
    writeln!(w, "{:<15}{:.4}\n", "loss", report.loss)?;
    let table = task.table();
    let cells = |j: usize| table.rows.iter().map(move |r| esc(&r[j]).chars().count());
    let widths: Vec<usize> =
        table.columns.iter().enumerate().map(|(j, c)| cells(j).chain([c.chars().count()]).max().unwrap_or(0)).collect();
    let line = |cells: Vec<String>| -> String {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, &w)| format!("{c:>w$}")).collect();
        padded.join("  ")
    };
    writeln!(w, "{}", line(table.columns.iter().map(|c| c.to_string()).collect()))?;
    for row in &table.rows {
        writeln!(w, "{}", line(row.iter().map(|c| esc(c).into_owned()).collect()))?;
    }
    if let TaskMetrics::Values(_) = task {
        writeln!(w, "(the baseline always predicts the training mean)")?;
    }
    if !charts.is_empty() {
        let names: Vec<String> = charts.iter().map(|p| esc_path(p)).collect();
        writeln!(w, "predicted vs actual, and the residuals: {}", names.join(", "))?;
    }
    Ok(ExitCode::SUCCESS)
}
