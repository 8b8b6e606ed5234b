//! A bundle as an ONNX file, for onnxruntime (Python, C#, Java, the browser), tract and every
//! other runtime: `imgclass export MODEL --format onnx`.
//!
//! The graph is written from the network's own layers ([`nets`]) on `onnx-ir`'s protobuf types:
//! opset 17, a symbolic `batch` dimension, batch norm folded into the convolutions, inputs
//! `input` (`[batch, channels, height, width]`) and outputs `logits` and `probabilities` (the
//! softmax for one label, a sigmoid per class for several, the numbers for regression and
//! counts, as `imgclass predict` reads them). The facts another program needs to prepare an
//! image exactly as imgclass does are `metadata_props`, each value JSON (see [`metadata`]).
//!
//! Why not capture Burn's graph (burn-onnx's exporter): it writes batch norm as its own
//! operator, cannot lower ReLU6, mean pooling, softmax or adaptive pooling to a grid, and
//! names the graph's values by tensor id; the layers themselves say all of it plainly.

mod graph;
mod nets;

use std::path::Path;

use onnx_ir::{Message, ModelProto};
use serde_json::json;

use crate::bundle::Bundle;
use crate::error::{Error, Result};
use crate::task::{AnswerMap, Task};
use crate::transforms::Preprocess;
use graph::{Graph, Value};

/// The ONNX operator set the files declare.
pub const OPSET: i64 = 17;
/// The ONNX IR version of the files (ONNX 1.12, the first with opset 17).
const IR_VERSION: i64 = 8;

/// Options of an ONNX export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OnnxOptions {
    /// Normalization as the graph's first nodes: the input is pixels on the 0–255 scale
    /// (still resized and in channel planes) instead of normalized values.
    pub include_preprocessing: bool,
}

impl OnnxOptions {
    /// With or without the normalization inside the graph.
    pub fn with_preprocessing(mut self, include: bool) -> Self {
        self.include_preprocessing = include;
        self
    }
}

impl Bundle {
    /// The model as ONNX bytes.
    pub fn to_onnx(&self, options: &OnnxOptions) -> Result<Vec<u8>> {
        let meta = self.meta();
        let p = meta.preprocess();
        let chw = [p.input_channels(), p.height(), p.width()];
        let mut g = Graph::default();
        let input = graph::input("input", chw);
        let x = if options.include_preprocessing { normalize(&mut g, &input, p) } else { input.clone() };
        let logits = nets::logits(&mut g, self.net(), &x);
        let probabilities = answers(&mut g, &logits, &meta.task());
        let mut model = ModelProto::new();
        model.ir_version = IR_VERSION;
        model.producer_name = "imgclass".into();
        model.producer_version = meta.imgclass_version().into();
        model.doc_string = format!("{} trained with imgclass: {}", meta.arch().name(), meta.labels().join(", "));
        model.opset_import.push(Default::default());
        if let Some(op) = model.opset_import.last_mut() {
            op.version = OPSET; // domain "": the ONNX operators
        }
        for (key, value) in metadata(self, options) {
            model.metadata_props.push(Default::default());
            if let Some(prop) = model.metadata_props.last_mut() {
                (prop.key, prop.value) = (key.into(), value.to_string());
            }
        }
        model.graph = Some(g.finish(meta.arch().name(), &input, &[&probabilities, &logits])).into();
        model.write_to_bytes().map_err(|e| Error::store("<onnx>", e))
    }

    /// Writes the model as an ONNX file at `path` (atomically: a reader never sees half a file).
    pub fn export_onnx(&self, path: &Path, options: &OnnxOptions) -> Result<()> {
        crate::util::fs::atomic_write(path, &self.to_onnx(options)?)
    }
}

/// 0–255 pixels to the network's input: x/(255·std) − mean/std per channel, the arithmetic of
/// [`Preprocess::normalize_into`].
fn normalize(g: &mut Graph, x: &Value, p: &Preprocess) -> Value {
    let (mean, std) = p.mean_std();
    let c = mean.len();
    let scale: Vec<f32> = std.iter().map(|s| 1.0 / (255.0 * s)).collect();
    let shift: Vec<f32> = mean.iter().zip(std).map(|(m, s)| m / s).collect();
    let scale = g.weight("scale", &[1, c, 1, 1], &scale);
    let shift = g.weight("shift", &[1, c, 1, 1], &shift);
    let scaled = g.binary("Mul", x, &scale, None);
    g.binary("Sub", &scaled, &shift, None)
}

/// The `probabilities` output: the task's answers from the logits.
fn answers(g: &mut Graph, logits: &Value, task: &Task) -> Value {
    const OUT: Option<&str> = Some("probabilities");
    let k = logits.shape[0];
    match task.answer_map() {
        AnswerMap::Softmax => g.unary("Softmax", logits, OUT),
        AnswerMap::Sigmoid => g.unary("Sigmoid", logits, OUT),
        AnswerMap::Range { low, high } => {
            let s = g.unary("Sigmoid", logits, None);
            let width = g.weight("range_width", &[1, k], &vec![high - low; k]);
            let low = g.weight("range_low", &[1, k], &vec![low; k]);
            let y = g.binary("Mul", &s, &width, None);
            g.binary("Add", &y, &low, OUT)
        }
        AnswerMap::Affine { scale, shift, non_negative } => {
            let scale = g.weight("target_std", &[1, k], &scale);
            let shift = g.weight("target_mean", &[1, k], &shift);
            let y = g.binary("Mul", logits, &scale, None);
            if non_negative {
                let y = g.binary("Add", &y, &shift, None);
                g.unary("Relu", &y, OUT)
            } else {
                g.binary("Add", &y, &shift, OUT)
            }
        }
        AnswerMap::ExpOffset { offset } => {
            let offset = g.weight("log_mean_rate", &[1, k], &offset);
            let y = g.binary("Add", logits, &offset, None);
            g.unary("Exp", &y, OUT)
        }
    }
}

/// The `metadata_props` of the file, each value JSON: what to feed the graph and how to read
/// what comes out.
pub fn metadata(bundle: &Bundle, options: &OnnxOptions) -> Vec<(&'static str, serde_json::Value)> {
    let meta = bundle.meta();
    let p = meta.preprocess();
    let task = meta.task();
    let (mean, std) = p.mean_std();
    let input = if options.include_preprocessing { "pixels_0_255" } else { "normalized" };
    vec![
        ("imgclass_version", json!(meta.imgclass_version())),
        ("arch", json!(meta.arch().name())),
        ("task", json!(task.kind().name())),
        ("labels", json!(meta.labels())),
        ("input_size", json!([p.height(), p.width()])),
        ("channels", json!(p.input_channels())),
        ("image_channels", json!(p.channels())),
        ("resize", json!(p.resize())),
        ("resample", json!("bilinear, antialiased when shrinking (PIL's Image.BILINEAR)")),
        ("grey", json!("BT.601 luma after resizing: (299 R + 587 G + 114 B + 500) / 1000")),
        ("background", json!(p.background())),
        ("mean", json!(mean)),
        ("std", json!(std)),
        ("input", json!(input)),
        ("threshold", json!(task.thresholds())),
        ("outputs", json!({"probabilities": task.kind().output_meaning(), "logits": "raw outputs of the last layer"})),
    ]
}

#[cfg(test)]
mod tests;
