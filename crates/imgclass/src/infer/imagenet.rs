//! EfficientNet-Lite0 with its original 1000-class ImageNet head, as a bundle ready to predict
//! (`imgclass predict --imagenet`).

use std::path::Path;

use burn::module::Module;
use burn::prelude::Device;

use crate::bundle::{Bundle, BundleMeta};
use crate::error::Result;
use crate::models::efficientnet::{EfficientNetLite, LITE_STATS};
use crate::models::pretrained::{imagenet_classes, load_efficientnet_lite0};
use crate::models::{Arch, Net};
use crate::transforms::{Preprocess, ResizeMode};

/// The ImageNet classifier from the checkpoint at `weights`: resize 256 + centre crop 224,
/// input `(u8 − 127) / 128`, as the reference implementation evaluates it.
pub fn efficientnet_lite0_imagenet(weights: &Path, device: &Device) -> Result<Bundle> {
    let mut model = EfficientNetLite::lite0(224, 1000, device);
    load_efficientnet_lite0(&mut model, weights, true)?;
    let (mean, std) = LITE_STATS;
    let pre = Preprocess::pretrained(224, 224, 3, ResizeMode::CropFrom(256), mean, std);
    let meta = BundleMeta::new(imagenet_classes(), Arch::EfficientnetLite0, pre);
    Ok(Bundle::from_parts(meta, Net::EfficientNet(model.valid()), device.clone()))
}
