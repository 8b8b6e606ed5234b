//! The built-in sample data set: Fashion-MNIST's 10,000 test images, compiled into the library
//! so `imgclass train` works from any folder on a fresh clone. The files lie inside the crate
//! (`crates/imgclass/data/fashion-mnist-t10k/`), so `cargo package` takes them along; their
//! README says why a model trained on them is never scored on the official test set.

use std::path::Path;

use super::idx::{self, IdxSplit};
use crate::error::Result;

/// The name the bundled source reports as its root.
pub const NAME: &str = "bundled:fashion-mnist-t10k";

pub(crate) const IMAGES_GZ: &[u8] = include_bytes!("../../data/fashion-mnist-t10k/t10k-images-idx3-ubyte.gz");
pub(crate) const LABELS_GZ: &[u8] = include_bytes!("../../data/fashion-mnist-t10k/t10k-labels-idx1-ubyte.gz");

/// Decodes the bundled IDX files.
pub fn fashion_mnist_t10k() -> Result<IdxSplit> {
    let ip = Path::new("bundled/t10k-images-idx3-ubyte.gz");
    let lp = Path::new("bundled/t10k-labels-idx1-ubyte.gz");
    let images = idx::gunzip(IMAGES_GZ, ip)?;
    let labels = idx::gunzip(LABELS_GZ, lp)?;
    idx::split_from_bytes("t10k", &images, ip, &labels, lp)
}

/// The Fashion-MNIST class names.
pub fn classes() -> Option<Vec<String>> {
    Some(idx::fashion_mnist_classes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bundled_sample_holds_ten_thousand_28_pixel_images_of_ten_classes() {
        let s = super::fashion_mnist_t10k().unwrap();
        assert_eq!((s.len(), s.height, s.width), (10_000, 28, 28));
        assert_eq!(s.labels.iter().copied().max(), Some(9));
    }
}
