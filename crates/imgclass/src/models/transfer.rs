//! The body / head split that transfer learning needs, for the networks that have one
//! (EfficientNet-Lite0/1/2, ResNets): layer groups for discriminative learning rates, freezing
//! the body, pooled body features (for feature caching) and the classifier head.
//!
//! Layer groups follow fastai's splits: the earlier half of the body, the later half, the
//! head. fastai gives group `i` of `n` the rate `low · (high/low)^(i/(n−1))` (`even_mults`).

use burn::module::{Module, ParamGroup};
use burn::nn::{BatchNorm, Linear};
use burn::prelude::*;

use super::Net;
use super::efficientnet::EfficientNetLite;
use super::resnet::BasicBlock;

/// Stages of EfficientNet-Lite in its first layer group: 1–3, up to 40 channels (48 in Lite2).
const EFFNET_EARLY_STAGES: usize = 3;

fn ids<M: Module>(m: M) -> ParamGroup {
    ParamGroup::ids_from_module(m)
}

fn resnet_bns(blocks: &[BasicBlock]) -> Vec<BatchNorm> {
    blocks
        .iter()
        .flat_map(|b| [Some(b.bn1.clone()), Some(b.bn2.clone()), b.downsample.as_ref().map(|d| d.bn.clone())])
        .flatten()
        .collect()
}

/// The blocks of `m`'s first layer group (5 in Lite0, 7 in Lite1 and Lite2).
fn effnet_early_blocks(m: &EfficientNetLite) -> usize {
    m.variant.stages()[..EFFNET_EARLY_STAGES].iter().map(|s| s.repeats).sum()
}

fn effnet_bns(m: &EfficientNetLite) -> Vec<BatchNorm> {
    let mut out = vec![m.bn0.clone(), m.bn1.clone()];
    for b in &m.blocks {
        out.extend(b.bn0.clone());
        out.push(b.bn1.clone());
        out.push(b.bn2.clone());
    }
    out
}

/// The learning rate of each of `groups` layer groups, from `low` (earliest) to `high` (head),
/// evenly spaced on a log scale (fastai's `even_mults`).
pub fn even_mults(low: f64, high: f64, groups: usize) -> Vec<f64> {
    if groups <= 1 {
        return vec![high];
    }
    (0..groups).map(|i| low * (high / low).powf(i as f64 / (groups - 1) as f64)).collect()
}

impl Net {
    /// Whether the network has a pretrained-style body and a linear head.
    pub fn has_body(&self) -> bool {
        matches!(self, Net::ResNet(_) | Net::EfficientNet(_))
    }

    /// Parameter groups from the earliest layers to the head (the head last); `None` for
    /// networks without a body / head split.
    pub fn layer_groups(&self) -> Option<Vec<ParamGroup>> {
        match self {
            Net::EfficientNet(m) => {
                let (early, late) = m.blocks.split_at(effnet_early_blocks(m).min(m.blocks.len()));
                Some(vec![
                    ids((m.conv_stem.clone(), m.bn0.clone(), early.to_vec())),
                    ids((late.to_vec(), m.conv_head.clone(), m.bn1.clone())),
                    ids(m.fc.clone()),
                ])
            }
            Net::ResNet(m) => Some(vec![
                ids((m.conv1.clone(), m.bn1.clone(), m.layer1.clone(), m.layer2.clone())),
                ids((m.layer3.clone(), m.layer4.clone())),
                ids(m.fc.clone()),
            ]),
            Net::Mlp(_) | Net::Cnn(_) => None,
        }
    }

    /// The parameter groups of the body's batch norms and of the head.
    fn bn_and_head(&self) -> Option<(ParamGroup, ParamGroup)> {
        match self {
            Net::EfficientNet(m) => Some((ids(effnet_bns(m)), ids(m.fc.clone()))),
            Net::ResNet(m) => {
                let mut bns = vec![m.bn1.clone()];
                for layer in [&m.layer1, &m.layer2, &m.layer3, &m.layer4] {
                    bns.extend(resnet_bns(layer));
                }
                Some((ids(bns), ids(m.fc.clone())))
            }
            Net::Mlp(_) | Net::Cnn(_) => None,
        }
    }

    /// Freezes the body: its weights stop receiving gradients. With `train_bn` its batch-norm
    /// layers keep training (affine weights and running statistics, fastai's default); else
    /// they run in inference mode. The head always trains.
    pub fn freeze_body(self, train_bn: bool) -> Net {
        let Some((bns, head)) = self.bn_and_head() else { return self };
        let net = Module::freeze(self).unfreeze_group(head);
        if train_bn { net.unfreeze_group(bns) } else { net }
    }

    /// Makes the whole network trainable again; without `train_bn` the batch-norm layers stay
    /// in inference mode with their affine weights fixed (Keras's advice when the head was
    /// trained on inference-mode features).
    pub fn unfreeze_body(self, train_bn: bool) -> Net {
        let bns = self.bn_and_head().map(|(bns, _)| bns);
        let net = Module::unfreeze(self);
        match bns {
            Some(bns) if !train_bn => net.freeze_group(bns),
            _ => net,
        }
    }

    /// Globally pooled body features, the head's input.
    ///
    /// # Shapes
    /// `[b, 3, h, w]` → `[b, features]` (`None` without a body / head split)
    pub(crate) fn pooled_features(&self, x: Tensor<4>) -> Option<Tensor<2>> {
        match self {
            Net::EfficientNet(m) => Some(m.features(x)),
            Net::ResNet(m) => Some(m.pooled(x)),
            Net::Mlp(_) | Net::Cnn(_) => None,
        }
    }

    /// The linear classifier head.
    pub fn head(&self) -> Option<&Linear> {
        match self {
            Net::EfficientNet(m) => Some(&m.fc),
            Net::ResNet(m) => Some(&m.fc),
            Net::Mlp(_) | Net::Cnn(_) => None,
        }
    }

    /// Replaces the linear classifier head (no-op without a body / head split).
    pub(crate) fn with_head(mut self, head: Linear) -> Net {
        match &mut self {
            Net::EfficientNet(m) => m.fc = head,
            Net::ResNet(m) => m.fc = head,
            Net::Mlp(_) | Net::Cnn(_) => {}
        }
        self
    }
}

/// Counts the parameters of `net` that receive gradients.
pub fn trainable_params(net: &Net) -> usize {
    struct Count(usize);
    impl burn::module::ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            if param.is_require_grad() {
                self.0 += param.shape().num_elements();
            }
        }
    }
    let mut c = Count(0);
    net.visit(&mut c);
    c.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Arch;

    #[test]
    fn even_mults_spreads_rates_geometrically_from_low_to_high() {
        let r = even_mults(1e-5, 1e-3, 3);
        assert!((r[0] - 1e-5).abs() < 1e-18 && (r[1] - 1e-4).abs() < 1e-16 && (r[2] - 1e-3).abs() < 1e-15);
        assert_eq!(even_mults(1e-5, 1e-3, 1), vec![1e-3]);
    }

    #[test]
    fn a_frozen_body_trains_only_its_head_and_batch_norms_and_unfreezing_restores_all() {
        let d = Device::flex().autodiff();
        let net = Arch::Resnet18.init([3, 32, 32], 10, &d).unwrap();
        let all = trainable_params(&net);
        let head = 512 * 10 + 10;
        let bn_affine = 2 * 4_800;
        let frozen = net.freeze_body(true);
        assert_eq!(trainable_params(&frozen), head + bn_affine);
        let frozen = frozen.unfreeze_body(true).freeze_body(false);
        assert_eq!(trainable_params(&frozen), head);
        assert_eq!(trainable_params(&frozen.clone().unfreeze_body(false)), all - bn_affine);
        assert_eq!(trainable_params(&frozen.unfreeze_body(true)), all);
    }

    #[test]
    fn layer_groups_cover_every_parameter_once() {
        let d = Device::flex();
        for arch in [Arch::Resnet18, Arch::EfficientnetLite0, Arch::EfficientnetLite1, Arch::EfficientnetLite2] {
            let net = arch.init([3, 64, 64], 4, &d).unwrap();
            let groups = net.layer_groups().unwrap();
            struct Ids(Vec<burn::module::ParamId>);
            impl burn::module::ModuleVisitor for Ids {
                fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
                    self.0.push(p.id);
                }
            }
            let mut all = Ids(Vec::new());
            net.visit(&mut all);
            for id in &all.0 {
                assert_eq!(groups.iter().filter(|g| g.matches(id, None)).count(), 1, "{}", arch.name());
            }
        }
    }

    #[test]
    fn the_first_efficientnet_group_ends_after_the_third_stage_of_each_variant() {
        let d = Device::flex();
        for (arch, early, last_cout) in
            [(Arch::EfficientnetLite0, 5, 40), (Arch::EfficientnetLite1, 7, 40), (Arch::EfficientnetLite2, 7, 48)]
        {
            let Net::EfficientNet(m) = arch.init([3, 32, 32], 4, &d).unwrap() else { panic!("not an EfficientNet") };
            assert_eq!(effnet_early_blocks(&m), early, "{}", arch.name());
            assert_eq!(m.blocks[early - 1].bn2.gamma.dims()[0], last_cout, "{}", arch.name());
            assert_ne!(m.blocks[early].bn2.gamma.dims()[0], last_cout, "{}", arch.name());
        }
    }

    #[test]
    fn a_frozen_lite1_or_lite2_body_trains_only_its_head() {
        let d = Device::flex().autodiff();
        for arch in [Arch::EfficientnetLite1, Arch::EfficientnetLite2] {
            let net = arch.init([3, 32, 32], 10, &d).unwrap();
            let all = trainable_params(&net);
            let frozen = net.freeze_body(false);
            assert_eq!(trainable_params(&frozen), 1280 * 10 + 10, "{}", arch.name());
            assert_eq!(trainable_params(&frozen.unfreeze_body(true)), all, "{}", arch.name());
        }
    }
}
