//! `imgclass predict MODEL IMAGE|FOLDER...`: top-k classes per image as text, JSON or CSV;
//! with `--cam`, each explained by a Grad-CAM map.
//! Exits 2 when some inputs could not be read (the others are still predicted).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use imgclass::bundle::Bundle;
use imgclass::data::MAX_PIXELS;
use imgclass::data::targets::TaskKind;
use imgclass::infer::{Answer, FilePrediction, Prediction, efficientnet_lite_imagenet};
use imgclass::interpret::{CamOptions, predict_with_cam};
use imgclass::models::pretrained::efficientnet_lite_weights;

use crate::args::PredictArgs;
use crate::common::{device, report_skipped};
use crate::show::{esc, esc_path};

pub fn run(a: PredictArgs) -> Result<ExitCode> {
    let device = device(a.device)?;
    let (bundle, inputs) = if a.imagenet {
        let variant = a.arch.variant();
        let weights = match &a.weights {
            Some(w) => w.clone(),
            None => efficientnet_lite_weights(variant)?,
        };
        (efficientnet_lite_imagenet(variant, &weights, &device)?, &a.paths[..])
    } else {
        if a.paths.len() < 2 {
            bail!("give a model bundle and at least one image or folder: imgclass predict MODEL IMAGE...");
        }
        (Bundle::load(&a.paths[0], &device)?, &a.paths[1..])
    };
    let bundle = bundle.with_max_pixels(a.max_pixels.unwrap_or(MAX_PIXELS));
    let top_k = a.top_k.map_or(if a.imagenet { 5 } else { 3 }, usize::from);
    if a.cam {
        let options = CamOptions { layer: a.cam_layer, class: a.class, out: Some(a.out) };
        return explained(&bundle, inputs, top_k, &options, a.json);
    }
    let bundle = match a.threshold {
        Some(t) => bundle.with_threshold(t)?,
        None => bundle,
    };
    // CSV has a column per label: every label's probability is needed.
    let out = bundle.predict_paths_all(inputs, top_k, a.all || a.csv)?;
    report_skipped(&out.skipped);
    let mut w = std::io::stdout().lock();
    if a.json {
        writeln!(w, "{}", serde_json::to_string(&out)?)?;
    } else if a.csv {
        write_csv(w, &bundle, &out.predictions, top_k)?;
    } else {
        for p in &out.predictions {
            writeln!(w, "{}: {}", esc(&p.file), answer_text(&p.answer))?;
        }
    }
    Ok(if out.skipped.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// `predict --cam`: the predictions with their Grad-CAM peaks (and maps, in JSON).
fn explained(bundle: &Bundle, inputs: &[PathBuf], k: usize, options: &CamOptions, json: bool) -> Result<ExitCode> {
    let out = predict_with_cam(bundle, inputs, k, options)?;
    report_skipped(&out.skipped);
    let mut w = std::io::stdout().lock();
    if json {
        writeln!(w, "{}", serde_json::to_string(&out)?)?;
    } else {
        for e in &out.predictions {
            let [x, y] = e.cam.peak;
            let png = e.cam.png.as_ref().map_or(String::new(), |p| format!(" -> {}", esc_path(p)));
            let (file, class) = (esc(&e.prediction.file), esc(&e.cam.class));
            writeln!(w, "{file}: {}; {class} found at ({x:.0}, {y:.0}){png}", answer_text(&e.prediction.answer))?;
        }
    }
    Ok(if out.skipped.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// One image's answer as text: classes with their probabilities, the labels predicted (or
/// "no label"), the number(s), or the count with its rate.
fn answer_text(answer: &Answer) -> String {
    let classes = |list: &[Prediction]| -> String {
        let parts: Vec<String> =
            list.iter().map(|t| format!("{} ({:.1}%)", esc(&t.label), 100.0 * t.probability)).collect();
        parts.join(", ")
    };
    match answer {
        Answer::Top { top } => classes(top),
        Answer::Labels { labels, all } => {
            let said = if labels.is_empty() { "no label".to_string() } else { classes(labels) };
            match all {
                Some(all) => format!("{said}; all: {}", classes(all)),
                None => said,
            }
        }
        Answer::Value { value } => format!("{value:.4}"),
        Answer::Values { values } => {
            values.iter().map(|(name, v)| format!("{} {v:.4}", esc(name))).collect::<Vec<_>>().join(", ")
        }
        Answer::Count { value, rate } => format!("{value} (expected {rate:.2})"),
    }
}

/// The predictions as CSV: `file` then the top classes with their probabilities
/// (single-label), the labels predicted and one probability column per label (multi-label),
/// or one column per target (numbers; a count also gives its expected value).
fn write_csv(w: impl Write, bundle: &Bundle, predictions: &[FilePrediction], top_k: usize) -> Result<()> {
    let mut csv = csv::WriterBuilder::new().flexible(true).terminator(csv::Terminator::Any(b'\n')).from_writer(w);
    let names = bundle.meta().labels();
    let task = bundle.meta().task();
    let header: Vec<String> = match task.kind() {
        TaskKind::SingleLabel => {
            let k = top_k.min(names.len());
            (1..=k).flat_map(|i| [format!("label_{i}"), format!("probability_{i}")]).collect()
        }
        TaskKind::MultiLabel => std::iter::once("labels".to_string()).chain(names.iter().cloned()).collect(),
        TaskKind::Count if names.len() == 1 => vec![names[0].clone(), "expected".into()],
        _ => names.to_vec(),
    };
    csv.write_record(std::iter::once("file".to_string()).chain(header))?;
    for p in predictions {
        let cells: Vec<String> = match &p.answer {
            Answer::Top { top } => {
                top.iter().flat_map(|t| [t.label.clone(), format!("{:.6}", t.probability)]).collect()
            }
            Answer::Labels { labels, all } => {
                let said: Vec<&str> = labels.iter().map(|l| l.label.as_str()).collect();
                let every = all.as_deref().unwrap_or(labels);
                let probability = |name: &String| {
                    every.iter().find(|l| &l.label == name).map_or(String::new(), |l| format!("{:.6}", l.probability))
                };
                std::iter::once(said.join(" ")).chain(names.iter().map(probability)).collect()
            }
            Answer::Value { value } => vec![format!("{value:.6}")],
            Answer::Values { values } => values.iter().map(|(_, v)| format!("{v:.6}")).collect(),
            Answer::Count { value, rate } => vec![value.to_string(), format!("{rate:.6}")],
        };
        csv.write_record(std::iter::once(p.file.clone()).chain(cells))?;
    }
    csv.flush()?;
    Ok(())
}
