//! The optimizer and its learning-rate schedule: SGD with momentum, Adam (L2 weight decay added
//! to the gradient) and AdamW (decoupled weight decay, Loshchilov & Hutter 2019), built from
//! Burn's implementations.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

use super::Schedule;
use crate::error::{Error, Result};

/// fastai's `fine_tune` base learning rate (`fine_tune(epochs, base_lr=2e-3)`).
pub const FINE_TUNE_LR: f64 = 2e-3;
/// Epochs without a better validation loss after which
/// [`TrainConfig::probe_then_fine_tune`](super::TrainConfig::probe_then_fine_tune) stops.
pub const FINE_TUNE_PATIENCE: usize = 2;

/// Which optimizer updates the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OptimizerKind {
    /// Stochastic gradient descent with (PyTorch-style, undampened) momentum.
    Sgd,
    /// Adam; weight decay is L2 regularisation added to the gradient.
    Adam,
    /// AdamW; weight decay is decoupled from the gradient (fastai's default).
    #[default]
    Adamw,
}

/// The optimizer, its peak learning rate and its schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptimizerConfig {
    /// Which optimizer.
    pub kind: OptimizerKind,
    /// Peak learning rate (the one-cycle maximum).
    pub lr: f64,
    /// Weight decay (decoupled for AdamW, L2 for SGD and Adam).
    pub weight_decay: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// How the learning rate moves over the run.
    pub schedule: Schedule,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self { kind: OptimizerKind::Adamw, lr: 3e-3, weight_decay: 0.01, momentum: 0.9, schedule: Schedule::default() }
    }
}

impl OptimizerConfig {
    /// Builds the optimizer.
    pub fn init(&self) -> ModuleOptimizer {
        let decay = (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        match self.kind {
            OptimizerKind::Sgd => SgdConfig::new()
                .with_momentum(
                    (self.momentum > 0.0)
                        .then(|| MomentumConfig::new().with_momentum(self.momentum).with_dampening(0.0)),
                )
                .with_weight_decay(decay)
                .init(),
            OptimizerKind::Adam => AdamConfig::new().with_weight_decay(decay).init(),
            OptimizerKind::Adamw => AdamWConfig::new().with_weight_decay(self.weight_decay as f32).init(),
        }
    }

    /// Checks the rate, the decay and the momentum.
    pub(crate) fn validate(&self) -> Result<()> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::config("optimizer.lr", format!("must be a positive number, not {}", self.lr)));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::config("optimizer.weight_decay", "must be ≥ 0"));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(Error::config("optimizer.momentum", "must be in [0, 1)"));
        }
        self.schedule.validate()
    }
}
