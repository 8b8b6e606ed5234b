//! How a run is cut into phases — the head fitted or trained with the body frozen, then the
//! whole network — and the learning rates of each phase's parameter groups.
//!
//! imgclass's `probe_then_fine_tune` (LP-FT, Kumar et al. 2022) fits the head as a linear
//! probe first (one epoch in the history, see `probe`), then trains the whole network as fastai
//! does after its frozen epochs. fastai's `fine_tune` (`fastai_fine_tune`, `--freeze-epochs N`):
//!
//! ```text
//! freeze();   fit_one_cycle(freeze_epochs, base_lr, pct_start=0.99)
//! base_lr /= 2
//! unfreeze(); fit_one_cycle(epochs, slice(base_lr/100, base_lr), pct_start=0.3, div=5)
//! ```
//! Reference: `fastai/callback/schedule.py` (`fine_tune`), `fastai/learner.py` (`_split_lr`,
//! `even_mults`).

use burn::module::ParamGroup;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;

use super::trainee::Rates;
use crate::config::{BnMode, Schedule, TrainConfig};
use crate::models::Net;
use crate::models::transfer::even_mults;

/// A stretch of epochs trained with one freezing state and one schedule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Phase {
    /// Epochs in the phase.
    pub(crate) epochs: usize,
    /// Whether the body is frozen (only the head and, unless cached, batch norms train).
    pub(crate) frozen: bool,
    /// Whether the head is fitted at once as a linear probe (one epoch of no steps).
    pub(crate) probe: bool,
    /// Whether the head trains on cached body features.
    pub(crate) cached: bool,
    /// Whether batch-norm layers train (else they run in inference mode): not after a
    /// cached frozen phase, whose head learned inference-mode features.
    pub(crate) train_bn: bool,
    /// The phase's schedule, applied to every group's peak rate.
    pub(crate) schedule: Schedule,
    /// The learning rate at the peak of the schedule: `[lr]` for one rate for all
    /// parameters, or a rate per layer group from the earliest layers to the head.
    pub(crate) peaks: Vec<f64>,
}

/// Cuts the run of `cfg` into phases.
pub(crate) fn plan(cfg: &TrainConfig) -> Vec<Phase> {
    let (fit, lr) = (&cfg.fit, cfg.optimizer.lr);
    let whole = |schedule, peaks| Phase {
        epochs: fit.epochs,
        frozen: false,
        probe: false,
        cached: false,
        train_bn: true,
        schedule,
        peaks,
    };
    let range = |low: f64, high: f64| even_mults(low, high, 3);
    // The rates `fit.lr_range` gives, else `default`.
    let peaks_or = |default: Vec<f64>| fit.lr_range.map_or(default, |r| range(r.low, r.high));
    if !cfg.model.starts_pretrained() {
        return vec![whole(cfg.optimizer.schedule, peaks_or(vec![lr]))];
    }
    let one_cycle = |pct_start: f64, div: f64| match cfg.optimizer.schedule {
        Schedule::OneCycle { final_div, .. } => Schedule::OneCycle { pct_start, div, final_div },
        other => other,
    };
    // Augmented images change every epoch: their features cannot be cached.
    let cached = fit.cache_features && cfg.transforms.augment.is_identity();
    let frozen = |epochs, schedule| Phase {
        epochs,
        frozen: true,
        probe: false,
        cached,
        train_bn: !cached,
        schedule,
        peaks: vec![lr],
    };
    let mut phases = Vec::new();
    if fit.probe {
        let probe = Phase { probe: true, cached: true, train_bn: false, ..frozen(1, Schedule::Constant) };
        phases.push(probe);
    }
    if fit.freeze_epochs > 0 {
        phases.push(frozen(fit.freeze_epochs, one_cycle(0.99, 25.0)));
    }
    if fit.epochs == 0 {
        return phases;
    }
    let head_first = !phases.is_empty();
    if head_first && (fit.unfreeze || fit.freeze_epochs > 0) {
        // fastai's rates for a head trained one epoch: lr/200 … lr/2; a converged probe
        // needs gentler ones (lr/200 … lr/20), or its first steps undo it.
        let high = if fit.probe { lr / 20.0 } else { lr / 2.0 };
        let peaks = peaks_or(range(lr / 200.0, high));
        let head_on_cache = fit.probe || cached;
        let train_bn = match fit.unfrozen_bn {
            BnMode::Train => true,
            BnMode::Inference => false,
            _ => !head_on_cache,
        };
        phases.push(Phase { train_bn, ..whole(one_cycle(0.3, 5.0), peaks) });
    } else if fit.unfreeze {
        phases.push(whole(cfg.optimizer.schedule, peaks_or(vec![lr])));
    } else {
        phases.push(frozen(fit.epochs, cfg.optimizer.schedule));
    }
    phases
}

/// The phase epoch `epochs_done + 1` of the run of `cfg` falls in (the last when all are done).
pub(crate) fn phase_after(cfg: &TrainConfig, epochs_done: usize) -> Option<Phase> {
    let mut end = 0;
    let phases = plan(cfg);
    phases
        .iter()
        .find(|p| {
            end += p.epochs;
            epochs_done < end
        })
        .or(phases.last())
        .cloned()
}

impl Phase {
    /// `net` frozen or unfrozen as the phase trains it.
    pub(crate) fn set_freezing(&self, net: Net) -> Net {
        if self.frozen { net.unfreeze_body(true).freeze_body(self.train_bn) } else { net.unfreeze_body(self.train_bn) }
    }

    /// The learning rates at `step` of `total`: per parameter, for `groups` (the network's
    /// layer groups, used when the phase has a rate per group), and the head's.
    pub fn lr(&self, groups: Option<&[ParamGroup]>, step: usize, total: usize) -> Rates {
        let factor = self.schedule.lr(1.0, step, total);
        let head = factor * self.peaks[self.peaks.len() - 1];
        let mut policy = ModuleLrScheduler::new(head);
        if let Some(groups) = groups.filter(|g| g.len() == self.peaks.len() && self.peaks.len() > 1) {
            for (group, peak) in groups.iter().zip(&self.peaks) {
                policy = policy.with_group(group.clone(), factor * peak);
            }
        }
        Rates { groups: policy.step(), head }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Weights;
    use crate::models::{Arch, ArchKind};
    use burn::prelude::*;

    fn pretrained(arch: Arch, weights: Weights) -> TrainConfig {
        let mut c = TrainConfig::default();
        (c.model.arch, c.model.weights) = (arch, weights);
        c
    }

    #[test]
    fn fastais_fine_tune_is_a_frozen_epoch_at_lr_then_discriminative_rates_up_to_half_of_it() {
        let cfg = pretrained(Arch::EfficientnetLite0, Weights::Pretrained).fastai_fine_tune(1, 3);
        let p = plan(&cfg);
        assert_eq!(p.len(), 2);
        assert!(p[0].frozen && p[0].cached && p[0].epochs == 1 && p[0].peaks == vec![2e-3]);
        assert!(!p[1].frozen && p[1].epochs == 3);
        assert!((p[1].peaks[0] - 1e-5).abs() < 1e-15 && (p[1].peaks[2] - 1e-3).abs() < 1e-15);
        assert_eq!(p[1].schedule, Schedule::OneCycle { pct_start: 0.3, div: 5.0, final_div: 1e5 });
    }

    #[test]
    fn lp_ft_is_a_probe_epoch_then_unfrozen_epochs_with_batch_norms_in_inference_mode() {
        let mut cfg = pretrained(Arch::EfficientnetLite0, Weights::Pretrained).probe_then_fine_tune(Some(3));
        cfg.transforms.augment = crate::transforms::Augment::preset(crate::transforms::AugPreset::Default);
        let p = plan(&cfg);
        assert_eq!(
            p.iter().map(|p| (p.epochs, p.frozen, p.probe, p.cached)).collect::<Vec<_>>(),
            [(1, true, true, true), (3, false, false, false)]
        );
        assert!(
            !p[1].train_bn && (p[1].peaks[0] - 1.5e-5).abs() < 1e-15 && (p[1].peaks[2] - 1.5e-4).abs() < 1e-15,
            "{p:?}"
        );
        cfg.fit.unfrozen_bn = BnMode::Train;
        assert!(plan(&cfg)[1].train_bn);
        cfg.fit.epochs = 0;
        assert_eq!(plan(&cfg).len(), 1, "a probe alone");
    }

    #[test]
    fn a_pretrained_body_stays_frozen_unless_unfrozen_and_a_scratch_model_is_one_phase() {
        let base = pretrained(Arch::Resnet18, Weights::File("w.pth".into()));
        assert!(plan(&base)[0].frozen);
        let mut unfreeze = base.clone();
        (unfreeze.fit.unfreeze, unfreeze.fit.lr_range) = (true, Some((1e-6, 1e-4).into()));
        let unfrozen = plan(&unfreeze);
        assert!(!unfrozen[0].frozen && unfrozen[0].peaks.len() == 3);
        let scratch = Phase {
            epochs: 5,
            frozen: false,
            probe: false,
            cached: false,
            train_bn: true,
            schedule: Schedule::default(),
            peaks: vec![3e-3],
        };
        assert_eq!(plan(&TrainConfig::default()), vec![scratch]);
        let tune = pretrained(Arch::EfficientnetLite0, Weights::Pretrained).fastai_fine_tune(1, 3);
        assert!(phase_after(&tune, 0).unwrap().frozen && !phase_after(&tune, 1).unwrap().frozen);
        assert!(!phase_after(&tune, 4).unwrap().frozen, "a finished run is in its last phase");
    }

    #[test]
    fn each_layer_group_gets_its_own_rate_and_the_head_the_highest() {
        let d = Device::flex();
        let net = ArchKind::Resnet18.arch().init([3, 32, 32], 2, &d).unwrap();
        let groups = net.layer_groups().unwrap();
        let phase = Phase {
            epochs: 1,
            frozen: false,
            probe: false,
            cached: false,
            train_bn: true,
            schedule: Schedule::Constant,
            peaks: vec![1e-5, 1e-4, 1e-3],
        };
        let Rates { groups: lr, head } = phase.lr(Some(&groups), 0, 10);
        let Net::ResNet(m) = &net else { unreachable!() };
        assert_eq!(head, 1e-3);
        assert_eq!(lr.lr_from_param(m.conv1.weight.id, None), 1e-5);
        assert_eq!(lr.lr_from_param(m.layer4[0].conv1.weight.id, None), 1e-4);
        assert_eq!(lr.lr_from_param(m.fc.weight.id, None), 1e-3);
    }
}
