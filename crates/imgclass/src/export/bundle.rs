//! The model bundle: one safetensors file whose header metadata (key `imgclass`) holds a JSON
//! [`BundleMeta`] — format name and version, labels, architecture, input shape,
//! preprocessing, training config, final metrics and where the data came from — and whose
//! tensors are the weights. Any safetensors reader (Python's `safetensors`, for one) can open
//! it; `imgclass` checks the format and version before building the network.

use std::path::Path;

use burn::prelude::*;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use serde::{Deserialize, Serialize};

use super::atomic_write;
use crate::error::{Error, IoContext, Result};
use crate::models::{Arch, Net};
use crate::transforms::Preprocess;

/// The `format` field of every bundle.
pub const BUNDLE_FORMAT: &str = "imgclass-bundle";
/// The newest bundle version this build reads and the one it writes.
pub const BUNDLE_VERSION: u32 = 1;
/// The safetensors metadata key holding [`BundleMeta`].
const META_KEY: &str = "imgclass";

/// Where a model's training data came from, so evaluation can refuse to score a model on the
/// data it was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// The data path (or `bundled:…`).
    pub source: String,
    /// Fingerprints of the IDX parts that gave training or validation images
    /// ([`crate::data::Source::part_fingerprints`]).
    #[serde(default)]
    pub fingerprints: Vec<u64>,
    /// Sorted content hashes of the training and validation image files (folder sources).
    #[serde(default)]
    pub image_hashes: Vec<u64>,
    /// Images per split.
    pub train_images: usize,
    /// Validation images.
    pub valid_images: usize,
}

/// Everything in a bundle except the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleMeta {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// Bundle layout version.
    pub version: u32,
    /// The imgclass version that wrote it.
    pub imgclass_version: String,
    /// Class names, in output order.
    pub labels: Vec<String>,
    /// Architecture and hyper-parameters.
    pub arch: Arch,
    /// Input shape `[channels, height, width]`.
    pub input: [usize; 3],
    /// Preprocessing applied to every image.
    pub preprocess: Preprocess,
    /// The full training config.
    pub train_config: serde_json::Value,
    /// Final metrics (validation, and test when there was one).
    pub metrics: serde_json::Value,
    /// The training data.
    pub data: Option<DataInfo>,
}

impl BundleMeta {
    /// A new metadata record of the current format and version.
    pub fn new(labels: Vec<String>, arch: Arch, preprocess: Preprocess) -> Self {
        let input = [preprocess.input_channels(), preprocess.height, preprocess.width];
        Self {
            format: BUNDLE_FORMAT.into(),
            version: BUNDLE_VERSION,
            imgclass_version: env!("CARGO_PKG_VERSION").into(),
            labels,
            arch,
            input,
            preprocess,
            train_config: serde_json::Value::Null,
            metrics: serde_json::Value::Null,
            data: None,
        }
    }
}

/// A loaded model: its network on a device and its metadata.
#[derive(Debug)]
pub struct Bundle {
    /// Metadata.
    pub meta: BundleMeta,
    /// The network, in inference mode.
    pub net: Net,
    /// Where it runs.
    pub device: Device,
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::BadBundle { path: path.into(), message: message.into() }
}

/// Reads the metadata of the bundle in `bytes` (the safetensors header), checking format and version.
fn parse_meta(bytes: &[u8], path: &Path) -> Result<BundleMeta> {
    let not_bundle = || bad(path, "not an imgclass model bundle (no safetensors header); give a .imgclass file written by `imgclass train`");
    if bytes.len() < 8 {
        return Err(not_bundle());
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    if n > bytes.len() - 8 || n > 100 << 20 {
        return Err(not_bundle());
    }
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).map_err(|_| not_bundle())?;
    let meta = header
        .get("__metadata__")
        .and_then(|m| m.get(META_KEY))
        .and_then(|m| m.as_str())
        .ok_or_else(|| bad(path, "a safetensors file, but not an imgclass bundle (no `imgclass` metadata); train one with `imgclass train`"))?;
    let raw: serde_json::Value = serde_json::from_str(meta).map_err(|e| bad(path, format!("bundle metadata is not valid JSON: {e}")))?;
    if raw.get("format").and_then(|f| f.as_str()) != Some(BUNDLE_FORMAT) {
        return Err(bad(path, "metadata does not say it is an imgclass bundle"));
    }
    let version = raw.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version > BUNDLE_VERSION as u64 {
        return Err(bad(
            path,
            format!("bundle version {version} is newer than this imgclass reads ({BUNDLE_VERSION}); upgrade imgclass to load it"),
        ));
    }
    serde_json::from_value(raw).map_err(|e| bad(path, format!("bundle metadata is incomplete: {e}")))
}

/// Reads only the metadata of the bundle at `path`.
pub fn read_meta(path: &Path) -> Result<BundleMeta> {
    let bytes = read_existing(path)?;
    parse_meta(&bytes, path)
}

fn read_existing(path: &Path) -> Result<Vec<u8>> {
    if !path.exists() {
        return Err(bad(path, "no such model file; train one with `imgclass train`, which prints the bundle's path"));
    }
    std::fs::read(path).at(path)
}

impl Bundle {
    /// Serializes `net` with `meta` into bundle bytes.
    pub fn to_bytes(net: &Net, meta: &BundleMeta) -> Result<Vec<u8>> {
        let json = serde_json::to_string(meta).map_err(|e| Error::Config(e.to_string()))?;
        let mut store = SafetensorsStore::from_bytes(None).metadata(META_KEY, json);
        let err = |message: String| Error::Weights { path: "<memory>".into(), message };
        net.save_into(&mut store).map_err(|e| err(e.to_string()))?;
        store.get_bytes().map_err(|e| err(e.to_string()))
    }

    /// Writes `net` and `meta` to `path` atomically.
    pub fn write(path: &Path, net: &Net, meta: &BundleMeta) -> Result<()> {
        atomic_write(path, &Self::to_bytes(net, meta)?)
    }

    /// Loads the bundle at `path` onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<Bundle> {
        let bytes = read_existing(path)?;
        let meta = parse_meta(&bytes, path)?;
        let mut net = meta.arch.init(meta.input, meta.labels.len(), device)?;
        let mut store = SafetensorsStore::from_bytes(Some(bytes));
        let applied = net.load_from(&mut store).map_err(|e| Error::Weights { path: path.into(), message: e.to_string() })?;
        if !applied.missing.is_empty() || !applied.errors.is_empty() {
            return Err(bad(path, format!(
                "weights do not match the architecture: {} missing, {} errors (first: {:?})",
                applied.missing.len(),
                applied.errors.len(),
                applied.missing.first().map(|m| format!("{m:?}")).or_else(|| applied.errors.first().map(|e| format!("{e:?}")))
            )));
        }
        Ok(Bundle { meta, net: net.valid(), device: device.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::ResizeMode;

    fn tiny() -> (Net, BundleMeta) {
        let d = Device::flex();
        let arch = Arch::Logreg;
        let pre = Preprocess::new(2, 2, 1, ResizeMode::Squish);
        let net = arch.init([1, 2, 2], 3, &d).unwrap();
        (net, BundleMeta::new(vec!["a".into(), "b".into(), "c".into()], arch, pre))
    }

    #[test]
    fn a_bundle_round_trips_weights_and_metadata() {
        let (net, meta) = tiny();
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("m.imgclass");
        Bundle::write(&p, &net, &meta).unwrap();
        let b = Bundle::load(&p, &Device::flex()).unwrap();
        assert_eq!(b.meta, meta);
        let x = Tensor::<4>::ones([1, 1, 2, 2], &Device::flex());
        let (y0, y1) = (net.forward(x.clone()).into_data(), b.net.forward(x).into_data());
        assert_eq!(y0, y1);
    }

    #[test]
    fn a_file_that_is_not_a_bundle_is_a_clear_error() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("cat.jpg");
        std::fs::write(&p, b"\xff\xd8\xff\xe0 not a model").unwrap();
        let e = Bundle::load(&p, &Device::flex()).unwrap_err().to_string();
        assert!(e.contains("cat.jpg") && e.contains("not an imgclass model bundle"), "{e}");
    }

    #[test]
    fn a_newer_bundle_version_asks_for_an_upgrade() {
        let (net, mut meta) = tiny();
        meta.version = BUNDLE_VERSION + 1;
        let bytes = Bundle::to_bytes(&net, &meta).unwrap();
        let e = parse_meta(&bytes, Path::new("new.imgclass")).unwrap_err().to_string();
        assert!(e.contains("newer") && e.contains("upgrade"), "{e}");
    }
}
