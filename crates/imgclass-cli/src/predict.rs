//! `imgclass predict MODEL IMAGE|FOLDER...`: top-k classes per image as text, JSON or CSV;
//! with `--cam`, each explained by a Grad-CAM map.
//! Exits 2 when some inputs could not be read (the others are still predicted).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use imgclass::bundle::Bundle;
use imgclass::data::MAX_PIXELS;
use imgclass::infer::{
    Answer, InputFiles, PredictOutput, Prediction, Shard, StreamOptions, Streamed, efficientnet_lite_imagenet,
};
use imgclass::interpret::{CamOptions, predict_with_cam};
use imgclass::models::pretrained::efficientnet_lite_weights;

use indicatif::{ProgressBar, ProgressStyle};

use crate::args::PredictArgs;
use crate::common::{device, report_skipped, warn_skipped};
use crate::predict_out::{self, Done, Format, Rows, csv_header, read_done};
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
    stream(&bundle, inputs, top_k, &a)
}

/// Predicts the inputs' files one chunk at a time, each row written as soon as it is known
/// (`--json`: one document at the end); with `--skip-done`, appended to that file, leaving
/// out the files it already answers.
fn stream(bundle: &Bundle, inputs: &[PathBuf], top_k: usize, a: &PredictArgs) -> Result<ExitCode> {
    let format = match (a.csv, a.jsonl) {
        (true, _) => Format::Csv,
        (_, true) => Format::Jsonl,
        _ => Format::Text,
    };
    if a.skip_done.is_some() && format == Format::Text {
        bail!("--skip-done continues a CSV or JSON Lines file: add --csv or --jsonl");
    }
    let (out, done): (Box<dyn Write>, Option<Done>) = match &a.skip_done {
        Some(path) => (predict_out::append(path)?, Some(read_done(path, format, &csv_header(bundle, top_k))?)),
        None => (Box::new(std::io::stdout().lock()), None),
    };
    let headed = done.as_ref().is_some_and(|d| d.headed);
    let mut rows = (!a.json).then(|| Rows::new(out, format, bundle, top_k, headed, answer_text)).transpose()?;
    let progress = progress(inputs, a.shard);
    let mut files = InputFiles::new(inputs, a.shard);
    // Only --json keeps the rows (and the skipped files) to print them at the end.
    let (mut collected, mut skipped, mut answered, mut unread) = (Vec::new(), Vec::new(), 0usize, 0usize);
    let listing = files.by_ref().filter(|f| match (f, &done) {
        (Ok(path), Some(done)) if done.has(&path.display().to_string()) => {
            progress.inc(1);
            false
        }
        _ => true,
    });
    // CSV has a column per label: every label's probability is needed.
    let options = StreamOptions::new(top_k, a.all || a.csv, crate::config::tta(&a.tta));
    bundle.predict_stream(listing, options, &mut |row| {
        match row {
            Streamed::Answer(p) => {
                progress.inc(1);
                answered += 1;
                match rows.as_mut() {
                    Some(rows) => rows.write(&p).map_err(|source| imgclass::Error::Io {
                        path: a.skip_done.clone().unwrap_or_else(|| "<stdout>".into()),
                        source,
                    })?,
                    None => collected.push(p),
                }
            }
            Streamed::Skipped(s) => {
                progress.inc(1);
                progress.suspend(|| warn_skipped(&s));
                unread += 1;
                if a.json {
                    skipped.push(s);
                }
            }
        }
        Ok(())
    })?;
    progress.finish_and_clear();
    if files.found() == 0 && unread == 0 {
        let names: Vec<String> = inputs.iter().map(|p| esc_path(p)).collect();
        bail!("{}: no image file to predict", names.join(", "));
    }
    if a.json {
        let out = PredictOutput { predictions: collected, skipped };
        writeln!(std::io::stdout().lock(), "{}", serde_json::to_string(&out)?)?;
    }
    if unread > 0 {
        eprintln!("warning: {unread} file(s) skipped");
    }
    if let Some(path) = &a.skip_done {
        eprintln!("{answered} file(s) predicted into {}", esc_path(path));
    }
    Ok(if unread == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// A progress bar on stderr (hidden when it is not a terminal) whose length a background
/// thread sets once it has counted the files.
fn progress(inputs: &[PathBuf], shard: Option<Shard>) -> ProgressBar {
    let pb = crate::progress::bar(0, "predict");
    pb.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} files ({per_sec}, {elapsed} < ETA {eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let (pb2, inputs) = (pb.clone(), inputs.to_vec());
    std::thread::spawn(move || pb2.set_length(InputFiles::new(&inputs, shard).count() as u64));
    pb
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
