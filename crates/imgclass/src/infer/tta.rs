//! Test-time augmentation: the views of each image a prediction averages, and how their
//! answers are combined. `flip` and `shift` are fixed views made from the model-ready tensor;
//! `aug` is fastai's `Learner.tta`: `n` views drawn from the bundle's own training
//! augmentation (made by the [`crate::data::Loader`] from the image's bytes), whose mean is
//! blended with the plain prediction as `lerp(mean, plain, beta)`.

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::ops::PadMode;

use crate::bundle::Bundle;
use crate::error::{Error, Result};
use crate::transforms::{Augment, Preprocess};

/// Which views of each image a prediction averages (`--tta`; `tta=` in the web app's API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Tta {
    /// The image alone.
    #[default]
    None,
    /// The mean of the probabilities of the image and of its mirror image (left–right): for
    /// data whose training augmentation flips.
    Flip,
    /// The mean of the probabilities of the image and of its four one-pixel shifts (up, down,
    /// left, right; black comes in at the edge): for data whose training augmentation shifts
    /// (`--aug crop`; on `--preset fashion` models it measured between -0.07 and +0.22 points).
    Shift,
    /// fastai's augmented TTA: the mean of the probabilities of `n` views drawn from the
    /// model's training augmentation, blended with the plain image's as
    /// `(1 − beta) · mean + beta · plain`. The draws are seeded by each image's content, so
    /// an image gets the same views in every run, chunk and shard.
    Aug,
}

/// Test-time augmentation with its settings (only [`Tta::Aug`] reads `n` and `beta`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct TtaOptions {
    /// Which views.
    pub tta: Tta,
    /// Augmented views per image.
    pub n: usize,
    /// The plain prediction's weight in the blend, 0 to 1.
    pub beta: f32,
}

impl Default for TtaOptions {
    /// fastai's defaults: `n = 4`, `beta = 0.25`.
    fn default() -> Self {
        TtaOptions { tta: Tta::None, n: 4, beta: 0.25 }
    }
}

/// The most augmented views `--tta-n` allows.
pub const MAX_TTA_VIEWS: usize = 64;

impl TtaOptions {
    /// `tta` with fastai's `n` and `beta`.
    pub fn new(tta: Tta) -> TtaOptions {
        TtaOptions { tta, ..TtaOptions::default() }
    }

    /// Sets the augmented views per image and the plain prediction's weight.
    pub fn with_aug(self, n: usize, beta: f32) -> TtaOptions {
        TtaOptions { n, beta, ..self }
    }

    fn validate(&self) -> Result<()> {
        if !(1..=MAX_TTA_VIEWS).contains(&self.n) {
            return Err(Error::config("tta_n", format!("must be between 1 and {MAX_TTA_VIEWS}, not {}", self.n)));
        }
        if !(0.0..=1.0).contains(&self.beta) {
            return Err(Error::config("tta_beta", format!("must be between 0 and 1, not {}", self.beta)));
        }
        Ok(())
    }
}

/// The views a prediction averages, resolved against a model.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Views<'a> {
    /// The image alone.
    Plain,
    /// See [`Tta::Flip`].
    Flip,
    /// See [`Tta::Shift`].
    Shift,
    /// See [`Tta::Aug`].
    Aug {
        /// The model's training augmentation.
        augment: &'a Augment,
        /// Augmented views per image.
        n: usize,
        /// The plain view's weight.
        beta: f32,
    },
}

impl Bundle {
    /// The views of `tta` for this model: `aug` takes the model's training augmentation, and
    /// is refused for a model that trained without any.
    pub(crate) fn views(&self, tta: TtaOptions) -> Result<Views<'_>> {
        tta.validate()?;
        Ok(match tta.tta {
            Tta::None => Views::Plain,
            Tta::Flip => Views::Flip,
            Tta::Shift => Views::Shift,
            Tta::Aug => {
                let augment = self.meta().train_config().map(|c| &c.transforms.augment);
                match augment {
                    Some(augment) if !augment.is_identity() => Views::Aug { augment, n: tta.n, beta: tta.beta },
                    _ => {
                        return Err(Error::config(
                            "tta",
                            "aug draws its views from the model's training augmentation, and this model \
                             trained without augmentation (every view would be the image itself); use flip \
                             or shift, or train with --aug",
                        ));
                    }
                }
            }
        })
    }
}

impl Views<'_> {
    /// The augmentation and the number of augmented views the loader must make (`aug` only).
    pub(crate) fn loader_views(&self) -> Option<(&Augment, usize)> {
        match *self {
            Views::Aug { augment, n, .. } => Some((augment, n)),
            _ => None,
        }
    }

    /// The views of a batch `x` as the network's inputs, with each one's weight in the
    /// average. For `aug`, `x` holds the loader's views one after the other (the plain images
    /// first, then each augmented set), `images` each.
    pub(crate) fn split(&self, x: Tensor<4>, images: usize, pre: &Preprocess) -> Vec<(Tensor<4>, f32)> {
        let even = |views: Vec<Tensor<4>>| {
            let w = 1.0 / views.len() as f32;
            views.into_iter().map(|v| (v, w)).collect()
        };
        match *self {
            Views::Plain => vec![(x, 1.0)],
            Views::Flip => even(vec![x.clone().flip([3]), x]),
            Views::Shift => {
                let black = normalized_black(pre, &x.device());
                even(shifts(x, black))
            }
            Views::Aug { n, beta, .. } => (0..=n)
                .map(|v| {
                    let view = x.clone().narrow(0, v * images, images);
                    (view, if v == 0 { beta } else { (1.0 - beta) / n as f32 })
                })
                .collect(),
        }
    }
}

/// The weighted mean of the views' outputs.
pub(crate) fn weighted_mean(parts: Vec<(Tensor<2>, f32)>) -> Tensor<2> {
    let mut parts = parts.into_iter();
    let (first, w) = parts.next().expect("at least one view");
    parts.fold(first * w, |sum, (t, w)| sum + t * w)
}

/// `log(Σ wₖ·e^{xₖ})` over the parts, elementwise and without overflow: the log of the
/// weighted mean of their probabilities when the weights sum to 1.
pub(crate) fn log_weighted_mean_exp(parts: Vec<(Tensor<2>, f32)>) -> Tensor<2> {
    let device = parts[0].0.device();
    let weights: Vec<f32> = parts.iter().map(|(_, w)| *w).collect();
    let k = weights.len();
    let stacked = Tensor::stack::<3>(parts.into_iter().map(|(t, _)| t).collect(), 0);
    let w = Tensor::<1>::from_data(TensorData::new(weights, [k]), &device).reshape([k as i32, 1, 1]);
    let m = stacked.clone().max_dim(0);
    ((stacked - m.clone()).exp().mul(w).sum_dim(0).log() + m).squeeze_dim(0)
}

/// A black pixel after normalization, one value per channel, shape `[1, C, 1, 1]`.
fn normalized_black(pre: &Preprocess, device: &Device) -> Tensor<4> {
    let (mean, std) = pre.mean_std();
    let black: Vec<f32> = mean.iter().zip(std).map(|(m, s)| -m / s).collect();
    Tensor::<1>::from_data(TensorData::new(black.clone(), [black.len()]), device).reshape([1, -1, 1, 1])
}

/// `x` and its four one-pixel shifts, `black` (the normalized 0, one value per channel, shape
/// `[1, C, 1, 1]`) coming in at the edge.
fn shifts(x: Tensor<4>, black: Tensor<4>) -> Vec<Tensor<4>> {
    let [_, _, h, w] = x.dims();
    let padded = (x.clone() - black.clone()).pad((1, 1, 1, 1), PadMode::Constant(0.0)) + black;
    let mut views = vec![x];
    for (top, left) in [(0, 1), (2, 1), (1, 0), (1, 2)] {
        views.push(padded.clone().narrow(2, top, h).narrow(3, left, w));
    }
    views
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn the_log_weighted_mean_exp_of_log_probabilities_is_the_log_of_their_weighted_mean() {
        let device = Device::default();
        let t =
            |v: &[f32]| Tensor::<2>::from_data(TensorData::new(v.iter().map(|p| p.ln()).collect(), [1, 3]), &device);
        let (p, q) = ([0.7f32, 0.2, 0.1], [0.1f32, 0.1, 0.8]);
        let out = values(log_weighted_mean_exp(vec![(t(&p), 0.25), (t(&q), 0.75)]));
        for i in 0..3 {
            assert!((out[i].exp() - (0.25 * p[i] + 0.75 * q[i])).abs() < 1e-6, "{out:?}");
        }
        let tiny = Tensor::<2>::from_data(TensorData::new(vec![-1000.0f32; 3], [1, 3]), &device);
        let huge = values(log_weighted_mean_exp(vec![(tiny.clone(), 0.5), (tiny, 0.5)]));
        assert!(huge.iter().all(|v| (v + 1000.0).abs() < 1e-3), "{huge:?}");
    }

    #[test]
    fn augmented_views_weigh_the_plain_image_beta_and_share_the_rest() {
        let device = Device::default();
        let aug = Augment::preset(crate::transforms::AugPreset::Light);
        let views = Views::Aug { augment: &aug, n: 3, beta: 0.25 };
        let x = Tensor::<4>::from_data(
            TensorData::new((0..8).map(|v| v as f32).collect::<Vec<_>>(), [8, 1, 1, 1]),
            &device,
        );
        let pre = Preprocess::new(1, 1, 1, crate::transforms::ResizeMode::Squish);
        let parts = views.split(x, 2, &pre);
        let weights: Vec<f32> = parts.iter().map(|(_, w)| *w).collect();
        assert_eq!(weights, [0.25, 0.25, 0.25, 0.25]);
        let firsts: Vec<f32> = parts.into_iter().map(|(t, _)| values(t)[0]).collect();
        assert_eq!(firsts, [0.0, 2.0, 4.0, 6.0], "each view is the next block of images");
        let views = Views::Aug { augment: &aug, n: 4, beta: 0.2 };
        let x = Tensor::<4>::zeros([5, 1, 1, 1], &device);
        let w: Vec<f32> = views.split(x, 1, &pre).iter().map(|(_, w)| *w).collect();
        assert_eq!(w, [0.2, 0.2, 0.2, 0.2, 0.2]);
    }

    #[test]
    fn out_of_range_settings_are_refused_by_name() {
        let bad = |n, beta| TtaOptions::new(Tta::Aug).with_aug(n, beta).validate().unwrap_err().to_string();
        assert!(bad(0, 0.25).starts_with("tta_n"), "{}", bad(0, 0.25));
        assert!(bad(MAX_TTA_VIEWS + 1, 0.25).starts_with("tta_n"));
        assert!(bad(4, 1.5).starts_with("tta_beta"));
        assert!(bad(4, f32::NAN).starts_with("tta_beta"));
        assert!(TtaOptions::new(Tta::Aug).validate().is_ok());
    }

    #[test]
    fn shifted_views_move_the_image_by_one_pixel_and_bring_in_black() {
        let device = Device::default();
        let x = Tensor::<4>::from_data(
            TensorData::new((1..=9).map(|v| v as f32).collect::<Vec<_>>(), [1, 1, 3, 3]),
            &device,
        );
        let black = Tensor::<4>::from_data(TensorData::new(vec![-2.0f32], [1, 1, 1, 1]), &device);
        let views: Vec<Vec<f32>> = shifts(x, black).into_iter().map(values).collect();
        let b = -2.0;
        assert_eq!(views[0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        assert_eq!(views[1], [b, b, b, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "down");
        assert_eq!(views[2], [4.0, 5.0, 6.0, 7.0, 8.0, 9.0, b, b, b], "up");
        assert_eq!(views[3], [b, 1.0, 2.0, b, 4.0, 5.0, b, 7.0, 8.0], "right");
        assert_eq!(views[4], [2.0, 3.0, b, 5.0, 6.0, b, 8.0, 9.0, b], "left");
    }
}
