//! Arguments of the commands that take a model out of imgclass: `export`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// The file formats `export` writes.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// ONNX (opset 17): onnxruntime in Python, C#, Java, JavaScript and the browser, tract,
    /// OpenVINO, TensorRT.
    Onnx,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The model bundle (a training run's model.imgclass).
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// The file format.
    #[arg(long, value_enum, default_value = "onnx")]
    pub format: ExportFormat,
    /// Where to write the file [default: MODEL with the format's extension].
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Put the normalization in the graph: its input is then resized pixels on the 0–255
    /// scale, channel planes first, instead of normalized values.
    #[arg(long)]
    pub include_preprocessing: bool,
    /// Print what was written as JSON (the file, its inputs, outputs and metadata).
    #[arg(long)]
    pub json: bool,
}
