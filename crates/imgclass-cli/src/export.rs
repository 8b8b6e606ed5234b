//! `imgclass export`: a bundle as an ONNX file, and what a program needs to feed it.

use std::process::ExitCode;

use anyhow::Result;
use imgclass::bundle::Bundle;
use imgclass::export::{OPSET, OnnxOptions, metadata};
use serde_json::json;

use crate::args::{ExportArgs, ExportFormat};
use crate::show::esc_path;

pub fn run(a: ExportArgs) -> Result<ExitCode> {
    let bundle = Bundle::load(&a.model, &imgclass::default_device())?;
    let extension = match a.format {
        ExportFormat::Onnx => "onnx",
    };
    let output = a.output.unwrap_or_else(|| a.model.with_extension(extension));
    let options = OnnxOptions::default().with_preprocessing(a.include_preprocessing);
    bundle.export_onnx(&output, &options)?;
    let bytes = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
    let meta = bundle.meta();
    let [c, h, w] = meta.input();
    let k = meta.labels().len();
    let props: serde_json::Map<String, serde_json::Value> =
        metadata(&bundle, &options).into_iter().map(|(key, v)| (key.to_string(), v)).collect();
    if a.json {
        let out = json!({
            "file": output,
            "bytes": bytes,
            "opset": OPSET,
            "inputs": {"input": ["batch", c, h, w]},
            "outputs": {"probabilities": ["batch", k], "logits": ["batch", k]},
            "metadata": props,
        });
        println!("{}", serde_json::to_string(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let scale = if a.include_preprocessing {
        "pixels 0–255 (normalized inside the graph)".to_string()
    } else {
        format!("(pixels/255 − mean)/std, mean {} std {}", props["mean"], props["std"])
    };
    println!("wrote {} ({:.1} MB): ONNX opset {OPSET}, {}", esc_path(&output), bytes as f64 / 1e6, meta.arch().name());
    println!("input `input` [batch, {c}, {h}, {w}]: {scale}; resize {}", props["resize"]);
    println!("outputs `probabilities` [batch, {k}]: {}", meta.task().kind().output_meaning());
    println!("        `logits` [batch, {k}]");
    println!("metadata_props (JSON values): {}", props.keys().cloned().collect::<Vec<_>>().join(", "));
    Ok(ExitCode::SUCCESS)
}
