//! `imgclass predict MODEL IMAGE|FOLDER...`: top-k classes per image as text, JSON or CSV;
//! with `--cam`, each explained by a Grad-CAM map.
//! Exits 2 when some inputs could not be read (the others are still predicted).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use imgclass::bundle::Bundle;
use imgclass::data::MAX_PIXELS;
use imgclass::infer::efficientnet_lite_imagenet;
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
    let out = bundle.predict_paths(inputs, top_k)?;
    report_skipped(&out.skipped);
    let mut w = std::io::stdout().lock();
    if a.json {
        writeln!(w, "{}", serde_json::to_string(&out)?)?;
    } else if a.csv {
        let k = top_k.min(bundle.meta().labels().len());
        let mut csv = csv::WriterBuilder::new().flexible(true).terminator(csv::Terminator::Any(b'\n')).from_writer(w);
        let header = (1..=k).flat_map(|i| [format!("label_{i}"), format!("probability_{i}")]);
        csv.write_record(std::iter::once("file".to_string()).chain(header))?;
        for p in &out.predictions {
            let cells = p.top.iter().flat_map(|t| [t.label.clone(), format!("{:.6}", t.probability)]);
            csv.write_record(std::iter::once(p.file.clone()).chain(cells))?;
        }
        csv.flush()?;
    } else {
        for p in &out.predictions {
            let tops: Vec<String> =
                p.top.iter().map(|t| format!("{} ({:.1}%)", esc(&t.label), 100.0 * t.probability)).collect();
            writeln!(w, "{}: {}", esc(&p.file), tops.join(", "))?;
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
            let tops: Vec<String> =
                e.prediction.top.iter().map(|t| format!("{} ({:.1}%)", esc(&t.label), 100.0 * t.probability)).collect();
            let [x, y] = e.cam.peak;
            let png = e.cam.png.as_ref().map_or(String::new(), |p| format!(" -> {}", esc_path(p)));
            let (file, class) = (esc(&e.prediction.file), esc(&e.cam.class));
            writeln!(w, "{file}: {}; {class} found at ({x:.0}, {y:.0}){png}", tops.join(", "))?;
        }
    }
    Ok(if out.skipped.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
}
