//! A training run's report (`report.html`): one self-contained page — pictures inlined — with
//! the run's summary and config, its loss curves and epoch table, the validation confusion
//! matrix, per-class metrics, most-confused pairs and the top losses with their Grad-CAM maps.
//! `imgclass train` writes it at the end of every run; `imgclass report RUN_DIR` rewrites it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::explain::CamOptions;
use super::losses::{interpret, validation_split};
use super::task_tables::{esc, task_tables};
use crate::bundle::Bundle;
use crate::data::targets::TaskKind;
use crate::error::{IoContext, Result};
use crate::metrics::{EvalReport, Ranking, TaskMetrics};
use crate::plot::chart::{Chart, Series, Style, XAxis};
use crate::train::{EpochMetrics, RunDir, loss_chart};
use crate::util::base64;
use crate::util::fs::{MAX_IMAGE, atomic_write, read_file, read_json};
use plotters::style::RGBColor;

/// Top-loss images shown.
const TOP: usize = 16;

/// Writes `report.html` into the finished run `run` (its bundle loaded as `bundle`); returns
/// its path. Also writes the top-losses picture it shows (`top_losses.png`).
pub fn write_report(run: &RunDir, bundle: &Bundle) -> Result<PathBuf> {
    let dir = run.path();
    let report: Value = read_json(&dir.join("report.json"))?;
    let config: Value = read_json(&dir.join("config.json"))?;
    let metrics: EvalReport = serde_json::from_value(report["final_metrics"].clone()).unwrap_or_else(|_| empty(bundle));
    let (source, indices) = validation_split(run)?;
    let interp = interpret(bundle, &source, Some(&indices), true, &|_, _| {})?;
    let cam = (!bundle.net().stage_names().is_empty()).then(CamOptions::default);
    let top = dir.join("top_losses.png");
    interp.save_top_losses(bundle, TOP, cam.as_ref(), &top)?;
    if metrics.task.is_some() {
        return write_task_report(run, bundle, &config, &report, &metrics, cam.is_some());
    }
    let mut h = page_start(dir, bundle, &config, &report, &metrics)?;
    h += "<h2>Validation</h2><div class=row>";
    h += &img(&dir.join("confusion.png"), "confusion matrix")?;
    per_class(&mut h, &metrics);
    h += "</div>";
    if let Some(ranking) = &metrics.ranking {
        let _ = write!(
            h,
            "<h3>ROC curve</h3><p>Two classes: ROC AUC {:.4}, average precision {:.4}, with the probability of \
             {} as the score.</p>",
            ranking.roc_auc,
            ranking.average_precision,
            esc(&ranking.class)
        );
        h += &roc_chart(ranking).svg().at(dir.join("report.html"))?;
    }
    let confused = metrics.confusion.most_confused(1);
    h += "<h3>Most confused (actual → predicted)</h3><table><tr><th>actual<th>predicted<th>images";
    for (actual, predicted, n) in confused.iter().take(10) {
        let _ = write!(h, "<tr><td>{}<td>{}<td class=n>{n}", esc(actual), esc(predicted));
    }
    h += "</table><h3>Top losses</h3><p>The validation images the model gets most wrong: predicted (red when wrong), \
          actual class, loss and probability of the actual class";
    h +=
        if cam.is_some() { "; the heat map shows where it found the predicted class (Grad-CAM).</p>" } else { ".</p>" };
    h += &img(&top, "top losses")?;
    page_end(h, dir, &config)
}

/// `report.html` of a run beyond one class per image: the summary, the loss curves and epoch
/// table, the task's validation tables, the scatter plot and residuals of numbers, and the top
/// losses (`cam`: with Grad-CAM maps).
fn write_task_report(
    run: &RunDir,
    bundle: &Bundle,
    config: &Value,
    report: &Value,
    m: &EvalReport,
    cam: bool,
) -> Result<PathBuf> {
    let dir = run.path();
    let mut h = page_start(dir, bundle, config, report, m)?;
    h += "<h2>Validation</h2>";
    if let Some(task) = &m.task {
        h += &task_tables(task);
    }
    let numbers = matches!(m.task, Some(TaskMetrics::Values(_)));
    let charts = [dir.join("scatter.png"), dir.join("residuals.png")];
    if numbers && charts.iter().all(|p| p.is_file()) {
        h += "<p>Each validation image's prediction against its true value (on the diagonal when right), and \
              the histogram of the errors.</p><div class=row>";
        h += &img(&charts[0], "predicted vs actual")?;
        h += &img(&charts[1], "residuals")?;
        h += "</div>";
    }
    h += "<h3>Top losses</h3><p>The validation images the model gets most wrong: ";
    h += if numbers {
        "predicted value (blue), actual value, absolute error"
    } else {
        "predicted labels (red when not exactly the actual ones), actual labels, loss (binary cross-entropy, the mean over the labels)"
    };
    h += if !cam {
        ".</p>"
    } else if numbers {
        "; the heat map shows what raises the prediction (Grad-CAM).</p>"
    } else {
        "; the heat map shows where it found its most probable label (Grad-CAM).</p>"
    };
    h += &img(&dir.join("top_losses.png"), "top losses")?;
    page_end(h, dir, config)
}

/// What every run's page starts with: the head, the summary, the loss curves and the epoch table.
fn page_start(dir: &Path, bundle: &Bundle, config: &Value, report: &Value, m: &EvalReport) -> Result<String> {
    let mut h = String::new();
    let title = format!("imgclass run {}", dir.display());
    let _ = write!(h, "<!doctype html><html lang=en><head><meta charset=utf-8><title>{}</title>", esc(&title));
    h += STYLE;
    let _ = write!(h, "</head><body><h1>{}</h1>", esc(&title));
    summary(&mut h, bundle, config, report, m);
    h += "<h2>Training</h2>";
    // The loss chart inlined as SVG (sharp at any zoom); `loss.png` beside it is the same chart.
    let history: Vec<EpochMetrics> = serde_json::from_value(report["history"].clone()).unwrap_or_default();
    h += &loss_chart(&history).svg().at(dir.join("report.html"))?;
    epochs(&mut h, report);
    Ok(h)
}

/// Ends page `h` with the run's config and writes it as `dir/report.html`.
fn page_end(mut h: String, dir: &Path, config: &Value) -> Result<PathBuf> {
    let _ = write!(
        h,
        "<h2>Config</h2><pre>{}</pre>",
        esc(&serde_json::to_string_pretty(&config["train"]).unwrap_or_default())
    );
    h += "</body></html>\n";
    let path = dir.join("report.html");
    atomic_write(&path, h.as_bytes())?;
    Ok(path)
}

/// The ROC curve of a two-class model's validation images, beside chance's diagonal.
fn roc_chart(r: &Ranking) -> Chart {
    let series = vec![
        Series {
            name: format!("{}: AUC {:.3}", r.class, r.roc_auc),
            points: r.roc.clone(),
            color: RGBColor(31, 119, 180),
            style: Style::Line { width: 2, opacity: 1.0 },
        },
        Series {
            name: "chance".into(),
            points: vec![(0.0, 0.0), (1.0, 1.0)],
            color: RGBColor(150, 150, 150),
            style: Style::Line { width: 1, opacity: 1.0 },
        },
    ];
    Chart {
        title: "ROC curve (validation)".into(),
        x_caption: "false positive rate".into(),
        y_caption: "true positive rate".into(),
        x_axis: XAxis::Unit,
        series,
        mark: None,
        y_ticks: None,
    }
}

fn empty(bundle: &Bundle) -> EvalReport {
    EvalReport::from_log_probs(&[], &[], bundle.meta().labels())
}

fn summary(h: &mut String, bundle: &Bundle, config: &Value, report: &Value, m: &EvalReport) {
    let data = &config["data"];
    let rows = [
        ("model", format!("{} ({})", bundle.meta().arch().name(), outputs(bundle))),
        ("data", data["source"].as_str().unwrap_or("?").to_string()),
        (
            "images",
            format!("{} train, {} valid, {} test", data["train_images"], data["valid_images"], data["test_images"]),
        ),
        ("best epoch", format!("{} of {}", report["best_epoch"], report["history"].as_array().map_or(0, Vec::len))),
        ("validation", format!("{}, loss {:.4}", headline(m), m.loss)),
        (
            "test",
            serde_json::from_value::<EvalReport>(report["test_metrics"].clone())
                .map_or("no test split".into(), |t| headline(&t)),
        ),
        ("time", format!("{:.0} s", report["seconds"].as_f64().unwrap_or(0.0))),
    ];
    *h += "<table class=summary>";
    for (k, v) in rows {
        let _ = write!(h, "<tr><th>{k}<td>{}", esc(&v));
    }
    *h += "</table>";
}

/// What the model's outputs are: `10 classes`, `3 labels`, `1 target: angle`.
fn outputs(bundle: &Bundle) -> String {
    let task = bundle.meta().task();
    let n = task.names().len();
    match task.kind() {
        TaskKind::SingleLabel => format!("{n} classes"),
        TaskKind::MultiLabel => format!("{n} labels, several per image"),
        kind => format!("{}: {}", kind.name(), task.names().join(", ")),
    }
}

/// The report's headline metrics: the accuracy of a classifier, else the task's metrics.
fn headline(m: &EvalReport) -> String {
    if m.task.is_none() {
        return format!("accuracy {:.2}%", 100.0 * m.accuracy);
    }
    m.metrics().iter().map(|(name, v)| format!("{name} {v:.4}")).collect::<Vec<_>>().join(", ")
}

fn epochs(h: &mut String, report: &Value) {
    let history: Vec<EpochMetrics> = serde_json::from_value(report["history"].clone()).unwrap_or_default();
    let named = |e: &EpochMetrics| -> Vec<(String, f64)> {
        e.named_metrics().into_iter().filter(|(n, _)| n != "error_rate").collect()
    };
    *h += "<table><tr><th>epoch<th>train loss<th>valid loss";
    for (name, _) in history.first().map(named).unwrap_or_default() {
        let _ = write!(h, "<th>{}", esc(&name.replace('_', " ")));
    }
    *h += "<th>seconds";
    for e in &history {
        let _ = write!(h, "<tr><td class=n>{}<td class=n>{:.4}<td class=n>{:.4}", e.epoch, e.train_loss, e.valid_loss);
        for (_, v) in named(e) {
            let _ = write!(h, "<td class=n>{v:.4}");
        }
        let _ = write!(h, "<td class=n>{:.1}", e.seconds);
    }
    *h += "</table>";
}

fn per_class(h: &mut String, m: &EvalReport) {
    *h += "<table><tr><th>class<th>precision<th>recall<th>F1<th>images";
    for c in &m.per_class {
        let _ = write!(
            h,
            "<tr><td>{}<td class=n>{:.3}<td class=n>{:.3}<td class=n>{:.3}<td class=n>{}",
            esc(&c.class),
            c.precision,
            c.recall,
            c.f1,
            c.support
        );
    }
    *h += "</table>";
}

/// The PNG at `path` as an inline `<img>`.
fn img(path: &Path, alt: &str) -> Result<String> {
    let bytes = read_file(path, MAX_IMAGE)?;
    Ok(format!("<img alt=\"{}\" src=\"data:image/png;base64,{}\">", esc(alt), base64::encode(&bytes)))
}

/// The pages' style sheet.
pub(crate) const STYLE: &str = "<style>body{font:15px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}\
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.6em 0}\
td,th{padding:.2em .7em;border-bottom:1px solid #eee;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.summary th{color:#555;font-weight:normal}img{max-width:100%;image-rendering:pixelated;margin:.4em 0}\
.row{display:flex;gap:2em;flex-wrap:wrap;align-items:flex-start}pre{background:#f6f6f6;padding:1em;overflow:auto}</style>";

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(super::esc("T-shirt/<top> & \"x\""), "T-shirt/&lt;top&gt; &amp; &quot;x&quot;");
    }
}
