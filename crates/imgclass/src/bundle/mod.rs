//! The model bundle: one safetensors file whose header metadata (key `imgclass`) holds a JSON
//! [`BundleMeta`] and whose tensors are the weights. Any safetensors reader (Python's
//! `safetensors`, for one) can open it; `imgclass` checks the format, the version and that the
//! metadata holds together before it builds the network, so an edited or damaged bundle is a
//! one-line error, never a panic.

mod meta;

pub use meta::{BUNDLE_FORMAT, BUNDLE_VERSION, BundleMeta, BundleMetrics, DataInfo, Score};

use std::path::Path;

use burn::prelude::*;
use burn::store::{ModuleSnapshot, SafetensorsStore};

use crate::data::MAX_PIXELS;
use crate::data::targets::TaskKind;
use crate::error::{Brief, Error, Result};
use crate::models::Net;
use crate::util::fs::{MAX_MODEL, atomic_write, read_file};

/// The safetensors metadata key holding [`BundleMeta`].
const META_KEY: &str = "imgclass";

/// A loaded model: its network in inference mode on a device, and its metadata.
#[derive(Debug)]
pub struct Bundle {
    meta: BundleMeta,
    net: Net,
    device: Device,
    /// The most pixels an input image may declare to be decoded.
    max_pixels: u64,
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::BadBundle { path: path.into(), message: message.into(), source: None }
}

/// A bad-bundle error with the error underneath as its source.
fn bad_because(path: &Path, message: &str, source: impl std::error::Error) -> Error {
    Error::BadBundle { path: path.into(), message: message.into(), source: Some(Box::new(Brief::of(&source))) }
}

/// The JSON text of the bundle in `bytes` (the safetensors header's `imgclass` entry).
fn meta_json<'a>(bytes: &'a [u8], path: &Path) -> Result<serde_json::Value> {
    let not_bundle = || {
        bad(
            path,
            "not an imgclass model bundle (no safetensors header); give a .imgclass file written by `imgclass train`",
        )
    };
    let n = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default())).ok_or_else(not_bundle)?;
    let header: &'a [u8] =
        usize::try_from(n).ok().filter(|&n| n <= 100 << 20).and_then(|n| bytes.get(8..8 + n)).ok_or_else(not_bundle)?;
    let header: serde_json::Value = serde_json::from_slice(header).map_err(|_| not_bundle())?;
    let text = header.get("__metadata__").and_then(|m| m.get(META_KEY)).and_then(|m| m.as_str()).ok_or_else(|| {
        bad(
            path,
            "a safetensors file, but not an imgclass bundle (no `imgclass` metadata); train one with `imgclass train`",
        )
    })?;
    serde_json::from_str(text).map_err(|e| bad_because(path, "bundle metadata is not valid JSON", e))
}

/// Reads the metadata of the bundle in `bytes`, checking format, version and consistency.
fn parse_meta(bytes: &[u8], path: &Path) -> Result<BundleMeta> {
    let mut raw = meta_json(bytes, path)?;
    if raw.get("format").and_then(|f| f.as_str()) != Some(BUNDLE_FORMAT) {
        return Err(bad(path, "metadata does not say it is an imgclass bundle"));
    }
    let version = raw.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version > BUNDLE_VERSION as u64 {
        return Err(bad(
            path,
            format!(
                "bundle version {version} is newer than this imgclass reads ({BUNDLE_VERSION}); upgrade imgclass to load it"
            ),
        ));
    }
    if version < 2 {
        // Version 1 stored a flat training config this version does not read.
        raw["train_config"] = serde_json::Value::Null;
    }
    let meta: BundleMeta =
        serde_json::from_value(raw).map_err(|e| bad_because(path, "bundle metadata is incomplete or damaged", e))?;
    meta.validate().map_err(|e| bad(path, format!("bundle metadata is damaged: {e}")))?;
    Ok(meta)
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
    read_file(path, MAX_MODEL)
}

impl Bundle {
    /// A bundle of `net` (in inference mode) and `meta`.
    /// The same bundle, decoding only input images that declare at most `max_pixels` pixels
    /// (larger ones are skipped as undecodable); [`MAX_PIXELS`] by default.
    pub fn with_max_pixels(self, max_pixels: u64) -> Bundle {
        Bundle { max_pixels, ..self }
    }

    /// The same multi-label model deciding every label at probability `threshold` instead of
    /// the thresholds it was saved with; an error for the other tasks.
    pub fn with_threshold(mut self, threshold: f32) -> Result<Bundle> {
        let task = self.meta.task();
        if task.kind() != TaskKind::MultiLabel {
            return Err(Error::config(
                "task.threshold",
                format!("applies to multi-label models; this one is {}", task.kind().name()),
            ));
        }
        if !(threshold > 0.0 && threshold < 1.0) {
            return Err(Error::config("task.threshold", format!("must be in (0, 1), not {threshold}")));
        }
        let k = task.names().len();
        self.meta.task = Some(task.with_thresholds(vec![threshold; k]));
        Ok(self)
    }

    /// The most pixels an input image may declare to be decoded.
    pub(crate) fn max_pixels(&self) -> u64 {
        self.max_pixels
    }

    pub(crate) fn from_parts(meta: BundleMeta, net: Net, device: Device) -> Bundle {
        Bundle { meta, net, device, max_pixels: MAX_PIXELS }
    }

    /// Metadata.
    pub fn meta(&self) -> &BundleMeta {
        &self.meta
    }

    /// The network, in inference mode.
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// Where it runs.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Serializes `net` with `meta` into bundle bytes.
    pub(crate) fn to_bytes(net: &Net, meta: &BundleMeta) -> Result<Vec<u8>> {
        let memory = Path::new("<memory>");
        let json = serde_json::to_string(meta).map_err(|source| Error::Json { path: memory.into(), source })?;
        let mut store = SafetensorsStore::from_bytes(None).metadata(META_KEY, json);
        net.save_into(&mut store).map_err(|e| Error::store(memory, e))?;
        store.get_bytes().map_err(|e| Error::store(memory, e))
    }

    /// Writes `net` and `meta` to `path` atomically.
    pub(crate) fn write(path: &Path, net: &Net, meta: &BundleMeta) -> Result<()> {
        atomic_write(path, &Self::to_bytes(net, meta)?)
    }

    /// Loads the bundle at `path` onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<Bundle> {
        let bytes = read_existing(path)?;
        let meta = parse_meta(&bytes, path)?;
        let mut net = meta
            .arch
            .init(meta.input, meta.labels.len(), device)
            .map_err(|e| bad_because(path, "the bundle's architecture cannot be built", e))?;
        let mut store = SafetensorsStore::from_bytes(Some(bytes));
        let applied = net.load_from(&mut store).map_err(|e| {
            bad_because(
                path,
                &format!("the weights do not fit the architecture and its {} labels", meta.labels.len()),
                e,
            )
        })?;
        if !applied.missing.is_empty() || !applied.errors.is_empty() {
            let first = applied
                .missing
                .first()
                .map(|m| format!("{m:?} missing"))
                .or_else(|| applied.errors.first().map(|e| Brief::text(&e.to_string()).to_string()))
                .unwrap_or_default();
            return Err(bad(
                path,
                format!(
                    "weights do not match the architecture and {} labels: {} missing, {} do not fit (first: {first})",
                    meta.labels.len(),
                    applied.missing.len(),
                    applied.errors.len()
                ),
            ));
        }
        Ok(Bundle { meta, net: net.valid(), device: device.clone(), max_pixels: MAX_PIXELS })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Arch;
    use crate::transforms::{Preprocess, ResizeMode};

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

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_fifo_or_dev_zero_given_as_the_model_is_refused_at_once() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("pipe.imgclass");
        crate::util::fs::make_fifo(&p);
        for (model, kind) in [(p.as_path(), "a FIFO"), (Path::new("/dev/zero"), "a character special file")] {
            let e = crate::error::chain(&Bundle::load(model, &Device::flex()).err().unwrap());
            assert!(
                e.contains(&*model.to_string_lossy()) && e.contains(&format!("not a regular file but {kind}")),
                "{e}"
            );
        }
    }

    #[test]
    fn a_file_that_is_not_a_bundle_is_a_clear_error() {
        let t = tempfile::tempdir().unwrap();
        for (name, bytes) in [("cat.jpg", &b"\xff\xd8\xff\xe0 not a model"[..]), ("short.imgclass", &b"\x01"[..])] {
            let p = t.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let e = Bundle::load(&p, &Device::flex()).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains("not an imgclass model bundle"), "{e}");
        }
    }

    #[test]
    fn a_newer_bundle_version_asks_for_an_upgrade() {
        let (net, mut meta) = tiny();
        meta.version = BUNDLE_VERSION + 1;
        let bytes = Bundle::to_bytes(&net, &meta).unwrap();
        let e = parse_meta(&bytes, Path::new("new.imgclass")).unwrap_err().to_string();
        assert!(e.contains("newer") && e.contains("upgrade"), "{e}");
    }

    #[test]
    fn each_efficientnet_lite_bundle_round_trips_and_a_lite0_bundle_does_not_load_as_lite1() {
        let d = Device::flex();
        let t = tempfile::tempdir().unwrap();
        let x = Tensor::<4>::ones([1, 3, 32, 32], &d);
        for arch in [Arch::EfficientnetLite0, Arch::EfficientnetLite1, Arch::EfficientnetLite2] {
            let net = arch.init([3, 32, 32], 2, &d).unwrap();
            let pre = Preprocess::new(32, 32, 3, ResizeMode::Squish);
            let meta = BundleMeta::new(vec!["a".into(), "b".into()], arch.clone(), pre);
            let p = t.path().join(format!("{}.imgclass", arch.name()));
            Bundle::write(&p, &net, &meta).unwrap();
            let b = Bundle::load(&p, &d).unwrap();
            assert_eq!(b.meta.arch, arch);
            assert_eq!(net.forward(x.clone()).into_data(), b.net.forward(x.clone()).into_data(), "{}", arch.name());
        }
        // A Lite0 bundle whose metadata claims Lite1 (blocks of other shapes, 5 missing): an
        // error, not a panic.
        let bytes = std::fs::read(t.path().join("efficientnet_lite0.imgclass")).unwrap();
        let meta = parse_meta(&bytes, Path::new("lite0.imgclass")).unwrap();
        let mut json = serde_json::to_value(&meta).unwrap();
        json["arch"]["type"] = "efficientnet_lite1".into();
        let net = Arch::EfficientnetLite0.init([3, 32, 32], 2, &d).unwrap();
        let mut store = SafetensorsStore::from_bytes(None).metadata(META_KEY, json.to_string());
        net.save_into(&mut store).unwrap();
        let p = t.path().join("relabelled.imgclass");
        std::fs::write(&p, store.get_bytes().unwrap()).unwrap();
        let e = Bundle::load(&p, &d).unwrap_err();
        // As the CLI prints it (`{:#}`: the message, then each cause): one short line.
        let chain: Vec<String> =
            std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source()).map(|e| e.to_string()).collect();
        let chain = chain.join(": ");
        assert!(chain.contains("relabelled.imgclass") && chain.contains("do not fit"), "{chain}");
        assert!(chain.lines().count() == 1 && chain.chars().count() < 300, "{chain}");
    }

    /// Writes a bundle whose metadata JSON was edited by `edit`, and loads it.
    fn load_edited(edit: impl Fn(&mut serde_json::Value)) -> String {
        let (net, meta) = tiny();
        let mut json = serde_json::to_value(&meta).unwrap();
        edit(&mut json);
        let mut store = SafetensorsStore::from_bytes(None).metadata(META_KEY, json.to_string());
        net.save_into(&mut store).unwrap();
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("edited.imgclass");
        std::fs::write(&p, store.get_bytes().unwrap()).unwrap();
        Bundle::load(&p, &Device::flex()).unwrap_err().to_string()
    }

    #[test]
    fn an_edited_or_damaged_bundle_is_a_one_line_error_naming_the_problem() {
        type Edit = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: [(&str, Edit); 6] = [
            ("channels", Box::new(|j| j["preprocess"]["channels"] = 2.into())),
            ("preprocess.mean", Box::new(|j| j["preprocess"]["mean"] = serde_json::json!([]))),
            ("preprocess.std", Box::new(|j| j["preprocess"]["std"] = serde_json::json!([0.0]))),
            ("size", Box::new(|j| j["preprocess"]["height"] = 100_000.into())),
            ("do not fit", Box::new(|j| j["labels"] = serde_json::json!(["a", "b"]))),
            ("input", Box::new(|j| j["input"] = serde_json::json!([1, 9, 9]))),
        ];
        for (want, edit) in cases {
            let e = load_edited(edit);
            assert!(e.contains("edited.imgclass") && e.lines().count() == 1 && e.contains(want), "{want}: {e}");
        }
    }
}
