//! # imgclass
//!
//! Train, evaluate, explain and ship image classifiers from a folder of images, on
//! [Burn](https://burn.dev) 0.22 — pure Rust on the CPU (the `flex` backend), CUDA with the
//! `cuda` feature.
//!
//! The library follows the steps a fastai or Keras user knows:
//! [`data`] reads a folder (or IDX files) and splits it, [`transforms`] fits images to the
//! model, [`models`] builds a network, [`train`] fits it with a [`train::Learner`],
//! [`interpret`] measures it, and [`export`] saves and loads one-file model bundles for
//! prediction.
//!
//! ```
//! use imgclass::data::{DataSplits, Source};
//! use imgclass::export::Bundle;
//! use imgclass::models::Arch;
//! use imgclass::train::{Learner, Silent, TrainConfig};
//!
//! // Data: the bundled Fashion-MNIST sample (or Source::open("photos".as_ref())? for a folder).
//! let source = Source::bundled()?;
//! let config = TrainConfig::new().with_arch(Arch::Logreg).with_epochs(1); // default: Arch::Cnn
//! let pre = config.preprocess(&source, config.input_size(&source)); // size, channels, normalization
//! let data = DataSplits::load(&source, pre, config.split_options(), &|_done, _total| {})?;
//!
//! // Train with one-cycle AdamW, then save the one-file bundle.
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
//!     println!("{}: {} ({:.1}%)", p.file, p.top[0].label, 100.0 * p.top[0].probability);
//! }
//! # Ok::<(), imgclass::Error>(())
//! ```
//!
//! Transfer learning, as fastai's `vision_learner(…).fine_tune(3)`: a pretrained
//! EfficientNet-Lite0 body with a new head, one epoch with the body frozen, then three of the
//! whole network with discriminative learning rates (needs the weights:
//! [`models::pretrained::fetch_efficientnet_lite0`], i.e. `imgclass weights fetch efficientnet_lite0`).
//!
//! ```no_run
//! use imgclass::data::{DataSplits, Source};
//! use imgclass::models::Arch;
//! use imgclass::train::{Learner, Silent, TrainConfig};
//!
//! let source = Source::open("photos".as_ref())?;
//! let config = TrainConfig::new().with_arch(Arch::EfficientnetLite0).with_pretrained(true).with_size(Some(224));
//! // RGB input at 224 px with the backbone's own normalization, stored in the bundle.
//! let pre = config.preprocess(&source, config.input_size(&source));
//! let data = DataSplits::load(&source, pre, config.split_options(), &|_, _| {})?;
//! let mut learner = Learner::new(data, config, imgclass::default_device())?;
//! let report = learner.fine_tune(3, 2e-3, &mut Silent)?;
//! println!("valid accuracy {:.2}%", 100.0 * report.final_metrics.accuracy);
//! # Ok::<(), imgclass::Error>(())
//! ```
//! Freezing and layer groups are also available directly: `Net::freeze_body`,
//! `Net::unfreeze_body`, `Net::layer_groups` (in [`models::transfer`]).
#![deny(missing_docs)]

pub mod data;
mod error;
pub mod export;
pub mod interpret;
pub mod models;
pub mod rng;
pub mod train;
pub mod transforms;

pub use error::{Error, Result};

use burn::prelude::Device;

/// The device computations run on: the first CUDA GPU when built with the `cuda` feature and
/// `IMGCLASS_DEVICE` is not `cpu`, otherwise the CPU (`flex`).
pub fn default_device() -> Device {
    #[cfg(feature = "cuda")]
    if std::env::var("IMGCLASS_DEVICE").map_or(true, |v| v != "cpu") {
        return Device::cuda(0);
    }
    Device::flex()
}

/// A short human name for `device`, for logs: `cpu (flex)` or `cuda`.
pub fn device_name(device: &Device) -> String {
    let debug = format!("{device:?}").to_ascii_lowercase();
    if debug.contains("cuda") {
        "cuda (GPU)".into()
    } else if debug.contains("flex") {
        "cpu (flex)".into()
    } else {
        debug
    }
}
