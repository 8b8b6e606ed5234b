//! Logistic regression and multi-layer perceptrons: the first models of every course
//! (a 784-16-10 network on MNIST is `--arch mlp --hidden 16`).

use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;

use super::activation::Activation;

use crate::kernels::{DropoutKey, dropout};

/// Configuration of a multi-layer perceptron; with no hidden layer it is logistic regression.
#[derive(Config, Debug, PartialEq)]
pub struct MlpConfig {
    /// Width of each hidden layer, in order (empty: logistic regression).
    #[config(default = "vec![128]")]
    pub hidden: Vec<usize>,
    /// Non-linearity after each hidden layer.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
    /// Dropout probability after each hidden layer.
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl MlpConfig {
    /// Checks the hidden widths and the dropout probability.
    pub fn validate(&self) -> crate::Result<()> {
        if self.hidden.contains(&0) {
            return Err(crate::Error::config("model.arch.hidden", "must be ≥ 1 for every hidden layer"));
        }
        super::cnn::check_dropout("model.arch.dropout", self.dropout)
    }

    /// Builds the network for `inputs` features and `classes` outputs.
    pub fn init(&self, inputs: usize, classes: usize, device: &Device) -> Mlp {
        let mut layers = Vec::new();
        let mut width = inputs;
        for &h in &self.hidden {
            layers.push(LinearConfig::new(width, h).init(device));
            width = h;
        }
        Mlp {
            hidden: layers,
            output: LinearConfig::new(width, classes).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: self.activation,
            dropout_key: DropoutKey::default(),
        }
    }
}

/// A stack of dense layers over the flattened image.
#[derive(Module, Debug)]
pub struct Mlp {
    /// Hidden layers.
    pub(crate) hidden: Vec<Linear>,
    /// The classifier layer.
    pub(crate) output: Linear,
    /// Dropout after each hidden layer.
    pub(crate) dropout: Dropout,
    /// Non-linearity after each hidden layer.
    #[module(skip)]
    pub(crate) activation: Activation,
    /// The current training step's dropout key (hidden layer `j` masks with site `j`).
    #[module(skip)]
    pub(crate) dropout_key: DropoutKey,
}

impl Mlp {
    /// # Shapes
    /// - `x`: `[batch, channels, height, width]`
    /// - output: `[batch, classes]` (logits)
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.output.forward(self.embed(x))
    }

    /// The output layer's input: the last hidden layer's activations (the flattened pixels
    /// for logistic regression).
    ///
    /// # Shapes
    /// `[batch, channels, height, width]` → `[batch, width of the last hidden layer]`
    pub fn embed(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x: Tensor<2> = x.flatten(1, 3); // [batch, channels·height·width]
        for (j, layer) in self.hidden.iter().enumerate() {
            x = dropout(&self.dropout, self.activation.forward(layer.forward(x)), self.dropout_key.site(j as u64));
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_784_16_10_network_has_the_lesson_parameter_count() {
        let m = MlpConfig::new().with_hidden(vec![16]).init(784, 10, &Device::flex());
        assert_eq!(m.num_params(), 784 * 16 + 16 + 16 * 10 + 10);
        let y = m.forward(Tensor::zeros([2, 1, 28, 28], &Device::flex()));
        assert_eq!(y.dims(), [2, 10]);
    }

    #[test]
    fn no_hidden_layer_is_logistic_regression() {
        let m = MlpConfig::new().with_hidden(vec![]).init(12, 3, &Device::flex());
        assert_eq!(m.num_params(), 12 * 3 + 3);
    }
}
