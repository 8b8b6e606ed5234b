//! How a run is cut into phases — body frozen, then the whole network — and the learning
//! rates of each phase's parameter groups, as fastai's `fine_tune` does it:
//!
//! ```text
//! freeze();   fit_one_cycle(freeze_epochs, base_lr, pct_start=0.99)
//! base_lr /= 2
//! unfreeze(); fit_one_cycle(epochs, slice(base_lr/100, base_lr), pct_start=0.3, div=5)
//! ```
//! Reference: `fastai/callback/schedule.py` (`fine_tune`), `fastai/learner.py` (`_split_lr`,
//! `even_mults`). Also the frozen-body cache of features that the head trains on.

use burn::module::ParamGroup;
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use burn::prelude::*;
use burn::tensor::TensorData;

use super::eval::map_batches;
use super::{Schedule, TrainConfig};
use crate::data::ImageData;
use crate::models::Net;
use crate::models::transfer::even_mults;
use crate::transforms::Preprocess;

/// A stretch of epochs trained with one freezing state and one schedule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Phase {
    /// Epochs in the phase.
    pub epochs: usize,
    /// Whether the body is frozen (only the head and, unless cached, batch norms train).
    pub frozen: bool,
    /// Whether the head trains on cached body features.
    pub cached: bool,
    /// Whether batch-norm layers train (else they run in inference mode): not after a
    /// cached frozen phase, whose head learned inference-mode features.
    pub train_bn: bool,
    /// The phase's schedule, applied to every group's peak rate.
    pub schedule: Schedule,
    /// The learning rate at the peak of the schedule: `[lr]` for one rate for all
    /// parameters, or a rate per layer group from the earliest layers to the head.
    pub peaks: Vec<f64>,
}

/// Cuts the run of `cfg` into phases.
pub(crate) fn plan(cfg: &TrainConfig) -> Vec<Phase> {
    let pretrained = cfg.starts_pretrained();
    let one_cycle = |pct_start: f64, div: f64| match cfg.schedule {
        Schedule::OneCycle { final_div, .. } => Schedule::OneCycle { pct_start, div, final_div },
        Schedule::Constant => Schedule::Constant,
    };
    let range = |low: f64, high: f64| even_mults(low, high, 3);
    // Augmented images change every epoch: their features cannot be cached.
    let cached = cfg.cache_features && cfg.augment.is_identity();
    let frozen = |epochs, schedule| Phase { epochs, frozen: true, cached, train_bn: !cached, schedule, peaks: vec![cfg.lr] };
    if pretrained && cfg.freeze_epochs > 0 {
        let half = cfg.lr / 2.0;
        let peaks = cfg.lr_range.map_or_else(|| range(half / 100.0, half), |(l, h)| range(l, h));
        let mut phases = vec![frozen(cfg.freeze_epochs, one_cycle(0.99, 25.0))];
        if cfg.epochs > 0 {
            phases.push(Phase { epochs: cfg.epochs, frozen: false, cached: false, train_bn: !cached, schedule: one_cycle(0.3, 5.0), peaks });
        }
        return phases;
    }
    if pretrained && !cfg.unfreeze {
        return vec![frozen(cfg.epochs, cfg.schedule)];
    }
    let peaks = cfg.lr_range.map_or_else(|| vec![cfg.lr], |(l, h)| range(l, h));
    vec![Phase { epochs: cfg.epochs, frozen: false, cached: false, train_bn: true, schedule: cfg.schedule, peaks }]
}

impl Phase {
    /// The per-parameter learning rates at `step` of `total`, for `groups` (the network's
    /// layer groups, used when the phase has a rate per group).
    pub fn lr(&self, groups: Option<&[ParamGroup]>, step: usize, total: usize) -> (ModuleLearningRate, f64) {
        let factor = self.schedule.lr(1.0, step, total);
        let head = factor * self.peaks[self.peaks.len() - 1];
        let mut policy = ModuleLrScheduler::new(head);
        if let Some(groups) = groups.filter(|g| g.len() == self.peaks.len() && self.peaks.len() > 1) {
            for (group, peak) in groups.iter().zip(&self.peaks) {
                policy = policy.with_group(group.clone(), factor * peak);
            }
        }
        (policy.step(), head)
    }
}

/// Body features of a split, computed once with the body in inference mode.
pub(crate) struct Features {
    /// `n × dim` row-major.
    pub values: Vec<f32>,
    /// Features per image.
    pub dim: usize,
}

impl Features {
    /// Runs the body of `net` (inference mode) over every image of `data`.
    pub fn compute(net: &Net, data: &ImageData, pre: &Preprocess, device: &Device) -> Features {
        let (values, dim) = map_batches(data, pre, device, |x| net.pooled_features(x).expect("a network with a body"));
        Features { values, dim }
    }

    /// The features of images `idx` as a `[idx.len(), dim]` tensor on `device`.
    pub fn batch(&self, idx: &[usize], device: &Device) -> Tensor<2> {
        let mut rows = Vec::with_capacity(idx.len() * self.dim);
        for &i in idx {
            rows.extend_from_slice(&self.values[i * self.dim..(i + 1) * self.dim]);
        }
        Tensor::from_data(TensorData::new(rows, [idx.len(), self.dim]), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Arch;

    #[test]
    fn fine_tune_is_a_frozen_epoch_at_lr_then_discriminative_rates_up_to_half_of_it() {
        let cfg = TrainConfig::new().with_arch(Arch::EfficientnetLite0).with_pretrained(true).with_freeze_epochs(1).with_epochs(3).with_lr(2e-3);
        let p = plan(&cfg);
        assert_eq!(p.len(), 2);
        assert!(p[0].frozen && p[0].cached && p[0].epochs == 1 && p[0].peaks == vec![2e-3]);
        assert!(!p[1].frozen && p[1].epochs == 3);
        assert!((p[1].peaks[0] - 1e-5).abs() < 1e-15 && (p[1].peaks[2] - 1e-3).abs() < 1e-15);
        assert_eq!(p[1].schedule, Schedule::OneCycle { pct_start: 0.3, div: 5.0, final_div: 1e5 });
    }

    #[test]
    fn a_pretrained_body_stays_frozen_unless_unfrozen_and_a_scratch_model_is_one_phase() {
        let base = TrainConfig::new().with_arch(Arch::Resnet18).with_weights(Some("w.pth".into()));
        assert!(plan(&base)[0].frozen);
        let unfrozen = plan(&base.clone().with_unfreeze(true).with_lr_range(Some((1e-6, 1e-4))));
        assert!(!unfrozen[0].frozen && unfrozen[0].peaks.len() == 3);
        assert_eq!(plan(&TrainConfig::new()), vec![Phase { epochs: 5, frozen: false, cached: false, train_bn: true, schedule: Schedule::default(), peaks: vec![3e-3] }]);
    }

    #[test]
    fn each_layer_group_gets_its_own_rate_and_the_head_the_highest() {
        let d = Device::flex();
        let net = Arch::Resnet18.init([3, 32, 32], 2, &d).unwrap();
        let groups = net.layer_groups().unwrap();
        let phase = Phase { epochs: 1, frozen: false, cached: false, train_bn: true, schedule: Schedule::Constant, peaks: vec![1e-5, 1e-4, 1e-3] };
        let (lr, head) = phase.lr(Some(&groups), 0, 10);
        let Net::ResNet(m) = &net else { unreachable!() };
        assert_eq!(head, 1e-3);
        assert_eq!(lr.lr_from_param(m.conv1.weight.id, None), 1e-5);
        assert_eq!(lr.lr_from_param(m.layer4[0].conv1.weight.id, None), 1e-4);
        assert_eq!(lr.lr_from_param(m.fc.weight.id, None), 1e-3);
    }
}
