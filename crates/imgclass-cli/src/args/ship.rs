//! Arguments of the commands that take a model out of imgclass: `export`, `serve`.

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

/// `imgclass serve`: options left out take the library's defaults (shown in `--help`).
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The model bundle predictions use when a request names no project (a training run's
    /// model.imgclass).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// The folder that holds the projects (created when missing); the server reads and
    /// writes nothing outside it and the model.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The address to listen on. Anything but a loopback address lets other machines reach
    /// the server: it prints a warning.
    #[arg(long, value_name = "IP")]
    pub host: Option<std::net::IpAddr>,
    /// The port (0: any free port).
    #[arg(long)]
    pub port: Option<u16>,
    /// The largest request body, in MB (the page sends large folders in several requests).
    #[arg(long, value_name = "MB")]
    pub max_upload_mb: Option<usize>,
    /// The most pixels an uploaded image may declare; larger ones are refused before decoding.
    #[arg(long, value_name = "N")]
    pub max_pixels: Option<u64>,
}
