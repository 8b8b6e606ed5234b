//! Optimizers: SGD with momentum, Adam (L2 weight decay added to the gradient) and AdamW
//! (decoupled weight decay, Loshchilov & Hutter 2019), built from Burn's implementations.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

/// Which optimizer updates the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Stochastic gradient descent with (PyTorch-style, undampened) momentum.
    Sgd,
    /// Adam; weight decay is L2 regularisation added to the gradient.
    Adam,
    /// AdamW; weight decay is decoupled from the gradient (fastai's default).
    #[default]
    Adamw,
}

impl std::str::FromStr for OptimizerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "sgd" => Ok(Self::Sgd),
            "adam" => Ok(Self::Adam),
            "adamw" => Ok(Self::Adamw),
            other => Err(format!("unknown optimizer {other:?}: use sgd, adam or adamw")),
        }
    }
}

impl OptimizerKind {
    /// Builds the optimizer with `weight_decay` and (for SGD) `momentum`.
    pub fn init(self, weight_decay: f64, momentum: f64) -> ModuleOptimizer {
        let decay = (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32));
        match self {
            OptimizerKind::Sgd => SgdConfig::new()
                .with_momentum((momentum > 0.0).then(|| MomentumConfig::new().with_momentum(momentum).with_dampening(0.0)))
                .with_weight_decay(decay)
                .init(),
            OptimizerKind::Adam => AdamConfig::new().with_weight_decay(decay).init(),
            OptimizerKind::Adamw => AdamWConfig::new().with_weight_decay(weight_decay as f32).init(),
        }
    }
}
