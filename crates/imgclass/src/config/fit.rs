//! How long and in which phases a run trains: epochs, batches, early stopping, the phases of
//! transfer learning (probe, frozen epochs, unfrozen epochs, batch-norm mode) and class balance.

use serde::{Deserialize, Serialize};

use super::LrRange;

/// How long and in which phases to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FitConfig {
    /// Passes over the training data (of the whole network, after `freeze_epochs`).
    pub epochs: usize,
    /// Images per training step.
    pub batch_size: usize,
    /// Stop after this many epochs without a better validation loss.
    pub patience: Option<usize>,
    /// Before anything else, fit the head as a logistic regression on the frozen body's
    /// features, to convergence, its L2 strength chosen on the validation images (a linear
    /// probe; one epoch in the history). Then `epochs` train the whole network when
    /// `unfreeze` is set (LP-FT,
    /// [`TrainConfig::probe_then_fine_tune`](super::TrainConfig::probe_then_fine_tune)), else
    /// the head.
    pub probe: bool,
    /// Epochs with the pretrained body frozen (the head and batch norms train) before the
    /// `epochs` epochs of the whole network (fastai's `fine_tune`:
    /// [`TrainConfig::fastai_fine_tune`](super::TrainConfig::fastai_fine_tune)).
    pub freeze_epochs: usize,
    /// With a pretrained body and no `freeze_epochs`: train the whole network in `epochs`
    /// (else only the head and batch norms train, as in fastai's frozen `vision_learner`).
    pub unfreeze: bool,
    /// Discriminative learning rates `(earliest layers, head)` for the unfrozen epochs; layer
    /// groups between get rates evenly spaced on a log scale.
    pub lr_range: Option<LrRange>,
    /// While the body is frozen, compute its features once and train the head on them (the
    /// body then runs in inference mode: its batch norms do not train).
    pub cache_features: bool,
    /// Counter class imbalance: weight the loss, or oversample rare classes.
    pub balance: Option<Balance>,
    /// How the body's batch norms run once the whole pretrained network trains.
    pub unfrozen_bn: BnMode,
    /// Set `epochs` from the number of training images when the data is loaded
    /// ([`fine_tune_epochs`]); the saved config then holds the number chosen.
    pub epochs_from_data: bool,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self {
            epochs: 5,
            batch_size: 64,
            patience: None,
            probe: false,
            freeze_epochs: 0,
            unfreeze: false,
            lr_range: None,
            cache_features: true,
            balance: None,
            unfrozen_bn: BnMode::default(),
            epochs_from_data: false,
        }
    }
}

/// How the body's batch-norm layers run while the whole pretrained network trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BnMode {
    /// In inference mode after a head fitted on cached (inference-mode) features, as Keras
    /// advises; else training mode.
    #[default]
    Auto,
    /// Training mode: batch statistics, running statistics and affine weights updated.
    Train,
    /// Inference mode: running statistics, affine weights fixed.
    Inference,
}

/// The unfrozen epochs of
/// [`TrainConfig::probe_then_fine_tune`](super::TrainConfig::probe_then_fine_tune) for
/// `train_images` training images when none are given: 3, and 2 from 20,000 images.
///
/// Measured (`bench/small_data.sh`, `bench/transfer_fmnist.sh`): on 384 photos (after a head
/// trained 40 epochs) 3 unfrozen epochs beat 2 and 5; on 2,000 Fashion-MNIST images 3 beat 5 (which stopped early, its best
/// epoch the second). Past 20,000 images an epoch holds 300+ steps, two epochs are already a
/// long schedule at these gentle rates, and each one costs most of a CPU run's time; that
/// threshold is a judgement, not a measurement. Early stopping guards a schedule too long.
pub fn fine_tune_epochs(train_images: usize) -> usize {
    if train_images < 20_000 { 3 } else { 2 }
}

/// How class imbalance is countered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Balance {
    /// Weight the training loss of class c by n / (classes · n_c).
    Weights,
    /// Sample each epoch's images with replacement, each class equally likely.
    Oversample,
}
