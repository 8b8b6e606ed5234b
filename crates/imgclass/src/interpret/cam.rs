//! Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
//! Gradient-based Localization", ICCV 2017): where in an image a convolutional network finds
//! the evidence for a class. The activations `A` of one stage of the body are weighted, channel
//! by channel, by the average gradient of the class's logit with respect to them, summed, and
//! kept where positive: `ReLU(Σ_k mean(∂y_c/∂A_k) · A_k)`, at the stage's resolution.
//!
//! The gradients come from Burn's autodiff: the network is split at the stage
//! ([`Net::forward_to`], [`Net::forward_from`]), the stage's output becomes a leaf that
//! requires a gradient, and the rest of the network runs from it — in inference mode (running
//! batch-norm statistics, no dropout), so each image's map depends on that image alone.

use burn::module::Module;
use burn::prelude::*;
use serde::Serialize;

use crate::data::targets::TaskKind;
use crate::error::{Error, Result};
use crate::metrics::argmax;
use crate::models::Net;
use crate::task::Task;

/// A class-activation map: one value per cell of a stage's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CamMap {
    /// The class explained (an index into the model's labels).
    pub class: usize,
    /// Rows of the map.
    pub height: usize,
    /// Columns of the map.
    pub width: usize,
    /// Row-major values in [0, 1], scaled so the largest is 1 (all 0 when no part of the
    /// image raises the class's score).
    pub values: Vec<f32>,
}

impl CamMap {
    /// The map as rows.
    pub fn grid(&self) -> Vec<Vec<f32>> {
        self.values.chunks(self.width).map(<[f32]>::to_vec).collect()
    }

    /// The cell `(column, row)` with the largest value (the first one, in row-major order).
    pub(crate) fn peak_cell(&self) -> (usize, usize) {
        let i = argmax(&self.values);
        (i % self.width, i / self.width)
    }

    /// The peak as a point of a `input_w × input_h` model input: the centre of the peak cell.
    pub fn peak_in_input(&self, input_w: usize, input_h: usize) -> (f32, f32) {
        let (cx, cy) = self.peak_cell();
        (
            (cx as f32 + 0.5) * input_w as f32 / self.width as f32,
            (cy as f32 + 0.5) * input_h as f32 / self.height as f32,
        )
    }

    /// The map's value at point `(x, y)` of a `input_w × input_h` model input: bilinear
    /// between cell centres, the edge cells' values out to the border.
    pub fn sample(&self, x: f32, y: f32, input_w: usize, input_h: usize) -> f32 {
        let gx = (x * self.width as f32 / input_w as f32 - 0.5).clamp(0.0, (self.width - 1) as f32);
        let gy = (y * self.height as f32 / input_h as f32 - 0.5).clamp(0.0, (self.height - 1) as f32);
        let (x0, y0) = (gx.floor() as usize, gy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (fx, fy) = (gx - x0 as f32, gy - y0 as f32);
        let v = |x: usize, y: usize| self.values[y * self.width + x];
        let top = v(x0, y0) * (1.0 - fx) + v(x1, y0) * fx;
        let bottom = v(x0, y1) * (1.0 - fx) + v(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }
}

/// The output of `task` named `name`: a class, a label or a target.
pub(crate) fn output_index(task: &Task, name: &str) -> Result<usize> {
    task.names().iter().position(|l| l == name).ok_or_else(|| {
        let what = if task.is_single_label() {
            "class"
        } else if task.kind() == TaskKind::MultiLabel {
            "label"
        } else {
            "target"
        };
        Error::config(
            "class",
            format!("{name:?} is no {what} of this model; its {what}s are {}", task.names().join(", ")),
        )
    })
}

/// The index of the stage named `layer` among `net`'s ([`Net::stage_names`]); `None` picks
/// the last, the usual choice (the most semantic features that still have a position).
pub fn cam_layer(net: &Net, layer: Option<&str>) -> Result<usize> {
    let names = net.stage_names();
    if names.is_empty() {
        return Err(Error::config(
            "cam",
            "(Grad-CAM) needs a convolutional network (cnn, resnet18/34, efficientnet_lite0/1/2); this one has no \
             convolutional stage",
        ));
    }
    match layer {
        None => Ok(names.len() - 1),
        Some(l) => names.iter().position(|n| n == l).ok_or_else(|| {
            Error::config("cam_layer", format!("{l:?} is no layer of this model; its layers are {}", names.join(", ")))
        }),
    }
}

/// Grad-CAM maps of a batch `x` (normalized model input, on any device) at stage `layer`, for
/// each image's class in `classes`, or for its predicted class when `None`.
pub fn grad_cam(net: &Net, x: Tensor<4>, layer: usize, classes: Option<&[usize]>) -> Vec<CamMap> {
    let device = x.device().autodiff();
    let net = net.clone().freeze().fork(&device);
    let x = Tensor::<4>::from_data(x.into_data(), &device);
    let a = net.forward_to(x, layer).detach().require_grad();
    let logits = net.forward_from(a.clone(), layer);
    let [batch, n_classes] = logits.dims();
    let targets: Vec<usize> = match classes {
        Some(c) => c.to_vec(),
        None => logits
            .clone()
            .argmax(1)
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .expect("argmax indices")
            .into_iter()
            .map(|c| c as usize)
            .collect(),
    };
    assert_eq!(targets.len(), batch, "one class per image");
    let onehot: Vec<f32> = targets.iter().flat_map(|&c| (0..n_classes).map(move |k| f32::from(k == c))).collect();
    let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [batch, n_classes]), &device);
    let grads = (logits * onehot).sum().backward();
    let grad = a.grad(&grads).expect("the stage's output requires a gradient");
    let a = a.inner();
    let [_, _, h, w] = a.dims();
    // Channel weights: the gradient averaged over positions; the map: ReLU of the weighted sum.
    let weights = grad.mean_dim(3).mean_dim(2);
    let maps = (a * weights).sum_dim(1).clamp_min(0.0).reshape([batch, h * w]);
    let values = maps.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 maps");
    values
        .chunks(h * w)
        .zip(targets)
        .map(|(m, class)| {
            let max = m.iter().copied().fold(0.0f32, f32::max);
            let values = m.iter().map(|v| if max > 0.0 { v / max } else { 0.0 }).collect();
            CamMap { class, height: h, width: w, values }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(values: Vec<f32>, width: usize) -> CamMap {
        CamMap { class: 0, height: values.len() / width, width, values }
    }

    #[test]
    fn the_peak_is_the_largest_cell_and_maps_to_its_centre_in_the_input() {
        let m = map(vec![0.1, 0.2, 0.3, 0.4, 1.0, 0.5], 3);
        assert_eq!(m.peak_cell(), (1, 1));
        assert_eq!(m.peak_in_input(30, 20), (15.0, 15.0));
        assert_eq!(m.grid(), vec![vec![0.1, 0.2, 0.3], vec![0.4, 1.0, 0.5]]);
    }

    #[test]
    fn sampling_is_exact_at_cell_centres_and_bilinear_between() {
        let m = map(vec![0.0, 1.0, 0.0, 1.0], 2);
        assert_eq!(m.sample(5.0, 5.0, 20, 20), 0.0);
        assert_eq!(m.sample(15.0, 5.0, 20, 20), 1.0);
        assert!((m.sample(10.0, 5.0, 20, 20) - 0.5).abs() < 1e-6);
        assert_eq!(m.sample(0.0, 0.0, 20, 20), 0.0, "the edge cell's value out to the border");
    }

    #[test]
    fn a_dense_network_has_no_layer_to_explain() {
        let net = crate::models::ArchKind::Mlp.arch().init([1, 8, 8], 2, &Device::flex()).unwrap();
        assert!(cam_layer(&net, None).unwrap_err().to_string().contains("convolutional"));
        let cnn = crate::models::ArchKind::Cnn.arch().init([1, 28, 28], 2, &Device::flex()).unwrap();
        assert_eq!(cam_layer(&cnn, None).unwrap(), 1);
        assert_eq!(cam_layer(&cnn, Some("block1")).unwrap(), 0);
        assert!(cam_layer(&cnn, Some("conv9")).unwrap_err().to_string().contains("block1, block2"));
    }
}
