//! Activation functions that model configs name: `relu`, `leaky_relu`, `elu`, `sigmoid`, `tanh`.

use burn::prelude::*;
use burn::tensor::activation;
use serde::{Deserialize, Serialize};

/// A pointwise non-linearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "clap", value(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Activation {
    /// max(0, x).
    #[default]
    Relu,
    /// x for x > 0, 0.01·x otherwise (PyTorch's default slope).
    #[cfg_attr(feature = "clap", value(alias = "leaky-relu"))]
    LeakyRelu,
    /// x for x > 0, eˣ − 1 otherwise (α = 1).
    Elu,
    /// 1 / (1 + e⁻ˣ).
    Sigmoid,
    /// tanh(x).
    Tanh,
}

impl Activation {
    /// Applies the function.
    pub fn forward<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu => activation::relu(x),
            Activation::LeakyRelu => activation::leaky_relu(x, 0.01),
            Activation::Elu => activation::elu(x, 1.0),
            Activation::Sigmoid => activation::sigmoid(x),
            Activation::Tanh => activation::tanh(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_activation_matches_its_formula_at_minus_one() {
        let d = Device::flex();
        let x = Tensor::<1>::from_floats([-1.0], &d);
        let at = |a: Activation| a.forward(x.clone()).into_scalar::<f32>();
        assert_eq!(at(Activation::Relu), 0.0);
        assert!((at(Activation::LeakyRelu) + 0.01).abs() < 1e-7);
        assert!((at(Activation::Elu) - ((-1f32).exp() - 1.0)).abs() < 1e-6);
        assert!((at(Activation::Sigmoid) - 1.0 / (1.0 + 1f32.exp())).abs() < 1e-6);
        assert!((at(Activation::Tanh) - (-1f32).tanh()).abs() < 1e-6);
    }
}
