//! # imgclass
//!
//! Train, evaluate, explain and ship image classifiers from a folder of images, on
//! [Burn](https://burn.dev) 0.22 — pure Rust on the CPU (the `flex` backend), CUDA with the
//! `cuda` feature.
//!
//! The library follows the steps a fastai or Keras user knows:
//! [`data`] reads a folder (or IDX files) and splits it, [`transforms`] fits images to the
//! model, [`models`] builds a network, [`config::TrainConfig`] describes a run,
//! [`train::Learner`] fits it, [`infer`] and [`metrics`] measure it, and [`bundle::Bundle`]
//! saves and loads one-file models for prediction.
//!
//! ## The modules, bottom to top
//!
//! Each module uses only those above it in this list, never one below; the crate has no
//! import cycle.
//!
//! - `error` — the one error type: every variant names its file or config field and keeps its cause
//! - `util` — atomic file writes, seeded generator and hashes, SHA-256, thread pools (crate-private)
//! - `kernels` — our own CPU kernels (convolutions, batch norm, pooling, dropout) for Burn's flex backend
//! - [`device`] — which device computations run on (`cpu`, and the GPUs a build has)
//! - [`transforms`] — preprocessing (resize, colour, normalization) and augmentation
//! - [`data`] — sources (folders, IDX, CSV, regex, lists), targets beyond one class (several labels, numbers, counts), decoding, splits, the batch loader
//! - [`curate`] — changing the user's dataset as a cleaning decided (`clean apply`), journalled, and undoing it
//! - [`metrics`] — confusion matrix, per-class metrics, ROC AUC and average precision, the evaluation report
//! - [`plot`] — line charts (plotters, PNG and SVG), confusion matrices and image grids
//! - [`models`] — one architecture per file, pretrained weights and their name mapping
//! - [`config`] — the typed, nested training config with its defaults and validation
//! - [`task`] — what a model's outputs mean per task (one class, several, numbers, counts): answers, losses, reports
//! - [`bundle`] — the one-file model format, validated when loaded
//! - [`export`] — a bundle as an ONNX file: each network's layers as ONNX operators, batch norm folded, preprocessing in the metadata
//! - [`infer`] — batched inference: evaluation on labelled data, prediction from files
//! - [`train`] — the learner, its training loop, checkpoints and resume, lr_find, the run folder
//! - [`interpret`] — looking at data and models: a picture of a batch, Grad-CAM, explained predictions, run reports and sweeps compared
//!
//! ```
//! use imgclass::bundle::Bundle;
//! use imgclass::config::TrainConfig;
//! use imgclass::data::Source;
//! use imgclass::models::ArchKind;
//! use imgclass::train::{Learner, Silent};
//!
//! // Data: the bundled Fashion-MNIST sample (or Source::open("photos".as_ref())? for a folder).
//! let source = Source::bundled()?;
//! let mut config = TrainConfig::default(); // the default CNN, 5 epochs, one-cycle AdamW
//! config.model.arch = ArchKind::Logreg.arch();
//! config.fit.epochs = 1;
//! let data = config.load(&source, &|_done, _total| {})?; // split, size, normalization
//!
//! // Train, then save the one-file bundle.
//! let mut learner = Learner::new(data, config, imgclass::default_device())?;
//! let report = learner.fit(&mut Silent)?;
//! assert!(report.final_metrics.accuracy > 0.6);
//! let path = std::env::temp_dir().join("imgclass-doc-example.imgclass");
//! learner.save_bundle(&path)?;
//!
//! // Predict with it: the preprocessing comes from the bundle.
//! let model = Bundle::load(&path, &imgclass::default_device())?;
//! let sneakers = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/fashion-samples/Sneaker");
//! for p in model.predict_files(&[sneakers.into()], 3)? {
//!     println!("{}: {} ({:.1}%)", p.file, p.top()[0].label, 100.0 * p.top()[0].probability);
//! }
//! # Ok::<(), imgclass::Error>(())
//! ```
//!
//! Transfer learning: a pretrained EfficientNet-Lite0 body with a new head, first fitted as a
//! logistic regression on the frozen body's features (a linear probe), then three epochs of
//! the whole network with discriminative learning rates (LP-FT,
//! [`config::TrainConfig::probe_then_fine_tune`]; fastai's `vision_learner(…).fine_tune(3)` is
//! [`config::TrainConfig::fastai_fine_tune`] or [`train::Learner::fastai_fine_tune`]). Needs the weights:
//! [`models::pretrained::fetch_efficientnet_lite`], i.e. `imgclass weights fetch efficientnet_lite0`;
//! `efficientnet_lite1` and `efficientnet_lite2` are larger, at 240 and 260 px.
//!
//! ```no_run
//! use imgclass::config::{TrainConfig, Weights};
//! use imgclass::data::Source;
//! use imgclass::models::ArchKind;
//! use imgclass::train::{Learner, Silent};
//!
//! let mut config = TrainConfig::default().probe_then_fine_tune(Some(3));
//! config.model.arch = ArchKind::EfficientnetLite0.arch();
//! config.model.weights = Weights::Pretrained;
//! // RGB input at 224 px with the backbone's own normalization, stored in the bundle.
//! let data = config.load(&Source::open("photos".as_ref())?, &|_, _| {})?;
//! let mut learner = Learner::new(data, config, imgclass::default_device())?;
//! let report = learner.fit(&mut Silent)?;
//! println!("valid accuracy {:.2}%", 100.0 * report.final_metrics.accuracy);
//! # Ok::<(), imgclass::Error>(())
//! ```
//! Freezing and layer groups are also available directly: `Net::freeze_body`,
//! `Net::unfreeze_body`, `Net::layer_groups` (in [`models::transfer`]).
#![deny(missing_docs)]

mod error;
mod kernels;
pub(crate) mod util;

pub mod device;
pub mod transforms;

pub mod curate;
pub mod data;
pub mod metrics;
pub mod plot;

pub mod models;

pub mod config;
pub mod task;

pub mod bundle;
pub mod export;
pub mod infer;

pub mod train;

pub mod interpret;

/// Switches and throughput measurements for `imgclass data bench`, the scripts in `bench/` and
/// the examples: the kernel switch, and the data loader's benchmark. Not part
/// of the supported API: they may change in any release.
#[doc(hidden)]
pub mod bench {
    pub use crate::data::loader::{LoaderBench, bench as loader};
    pub use crate::kernels::use_own_kernels;
}

pub use burn::prelude::Device;
pub use device::{DeviceChoice, default_device, device_name};
pub use error::{DecodeError, Error, Result};
