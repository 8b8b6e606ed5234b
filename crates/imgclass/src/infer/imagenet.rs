//! EfficientNet-Lite0, -Lite1 or -Lite2 with its original 1000-class ImageNet head, as a bundle
//! ready to predict (`imgclass predict --imagenet [--arch …]`).

use std::path::Path;

use burn::module::Module;
use burn::prelude::Device;

use crate::bundle::{Bundle, BundleMeta};
use crate::error::Result;
use crate::models::efficientnet::{EfficientNetLite, LITE_STATS, LiteVariant};
use crate::models::pretrained::{imagenet_classes, load_efficientnet_lite};
use crate::models::{Arch, Net};
use crate::transforms::{Preprocess, ResizeMode};

/// Pixels the reference evaluation adds to the input size before its centre crop
/// (`CROP_PADDING` of the TF EfficientNet preprocessing: 224 is cut from 256).
const CROP_PADDING: usize = 32;

/// The ImageNet classifier of `variant` from the checkpoint at `weights`: resize to the input
/// size + 32 and centre crop the input size (256 → 224, 272 → 240, 292 → 260), input
/// `(u8 − 127) / 128`, as the reference implementation evaluates it.
pub fn efficientnet_lite_imagenet(variant: LiteVariant, weights: &Path, device: &Device) -> Result<Bundle> {
    let size = variant.size();
    let mut model = EfficientNetLite::new(variant, size, 1000, device);
    load_efficientnet_lite(&mut model, weights, true)?;
    let (mean, std) = LITE_STATS;
    let resize = ResizeMode::CropFrom((size + CROP_PADDING) as u32);
    let pre = Preprocess::pretrained(size, size, 3, resize, mean, std);
    let meta = BundleMeta::new(imagenet_classes(), Arch::lite(variant), pre);
    Ok(Bundle::from_parts(meta, Net::EfficientNet(model.valid()), device.clone()))
}
