//! The options of how a run trains: its length, optimizer, phases, loss and task.

use clap::Args;
use imgclass::config::{Balance, BnMode, LrRange, OptimizerKind, ThresholdTuning, ValueLoss, YRange};
use imgclass::data::targets::TaskKind;

#[derive(Args, Debug, Clone)]
pub struct FitArgs {
    /// Number of epochs (of the whole network, after --freeze-epochs).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Images per training step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Peak learning rate of the one-cycle schedule.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Optimizer: sgd (with momentum), adam (L2 decay) or adamw (decoupled decay).
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    /// Weight decay (decoupled for adamw, L2 for sgd and adam).
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Momentum for sgd.
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Use a constant learning rate instead of one-cycle.
    #[arg(long)]
    pub constant_lr: bool,
    /// Counter class imbalance: weights (loss weighted by inverse class frequency) or
    /// oversample (rare classes drawn more often).
    #[arg(long)]
    pub balance: Option<Balance>,
    /// Stop after this many epochs without a better validation loss.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Fine-tune a pretrained body: the head fitted first as a linear probe (--probe), then E
    /// epochs of the whole network with discriminative learning rates (lr/200 … lr/20), early
    /// stopping after 2 epochs without a better validation loss. Without E: 3 epochs, 2 from
    /// 20,000 training images. With --freeze-epochs N: fastai's fine_tune (N epochs training
    /// the head, then E, base rate 2e-3, no early stopping).
    #[arg(long, value_name = "E", num_args = 0..=1, conflicts_with_all = ["epochs", "unfreeze"])]
    pub fine_tune: Option<Option<usize>>,
    /// Fit the head first as a logistic regression on the frozen body's features (to
    /// convergence, its L2 strength chosen on the validation images); with --epochs 0 that is all.
    #[arg(long)]
    pub probe: bool,
    /// Epochs with the pretrained body frozen before --epochs of the whole network.
    #[arg(long)]
    pub freeze_epochs: Option<usize>,
    /// Batch norms of the body once the whole network trains: train (batch statistics) or
    /// inference (running statistics, fixed) [default: inference after a head fitted on cached features].
    #[arg(long)]
    pub unfrozen_bn: Option<BnMode>,
    /// Train the whole pretrained network (without it, only the head and batch norms train).
    #[arg(long)]
    pub unfreeze: bool,
    /// Discriminative learning rates for the unfrozen network: earliest layers, head (e.g. 1e-6:1e-4).
    #[arg(long, value_name = "LOW:HIGH")]
    pub lr_range: Option<LrRange>,
    /// While the body is frozen, run it every epoch instead of caching its features (its
    /// batch norms then train, as fastai does; slower).
    #[arg(long)]
    pub no_cache_features: bool,
}

#[derive(Args, Debug, Clone)]
pub struct LossArgs {
    /// Label smoothing ε: targets of 1 − ε on the label and ε spread over every class (0.1 is
    /// usual).
    #[arg(long, value_name = "EPS")]
    pub label_smoothing: Option<f64>,
    /// mixup: blend each training image with another, targets blended alike; ALPHA is Beta's
    /// α, fastai's 0.4 when left out.
    #[arg(long, value_name = "ALPHA", num_args = 0..=1, default_missing_value = "0.4", conflicts_with = "cutmix")]
    pub mixup: Option<f64>,
    /// CutMix: paste a random rectangle of another training image, targets blended by its
    /// area; ALPHA is Beta's α, fastai's 1 when left out.
    #[arg(long, value_name = "ALPHA", num_args = 0..=1, default_missing_value = "1")]
    pub cutmix: Option<f64>,
    /// Neither mixup nor CutMix (to take one out of a preset).
    #[arg(long, conflicts_with_all = ["mixup", "cutmix"])]
    pub no_mix: bool,
}

/// What the model answers, for labels from a CSV beyond one class per image.
#[derive(Args, Debug, Clone)]
pub struct TaskArgs {
    /// The task [default: multi-label when a row of the labels CSV holds several labels,
    /// regression with --target, else single-label].
    #[arg(long)]
    pub task: Option<TaskKind>,
    /// Multi-label: the delimiter between a row's labels in the label column [default: a space].
    #[arg(long, value_name = "CHAR")]
    pub label_delim: Option<char>,
    /// Multi-label as one 0/1 column per class: these columns of the labels CSV, by header
    /// name, comma-separated [without a value: every column but the first].
    #[arg(long, value_name = "COLS", num_args = 0..=1, default_missing_value = "")]
    pub label_columns: Option<String>,
    /// Regression or count: the numeric column(s) of the labels CSV, by header name,
    /// comma-separated [without a value: the second column].
    #[arg(long, value_name = "COLS", num_args = 0..=1, default_missing_value = "", conflicts_with = "label_columns")]
    pub target: Option<String>,
    /// Multi-label: a class is predicted when its probability reaches T [default: 0.5].
    #[arg(long, value_name = "T")]
    pub threshold: Option<f64>,
    /// Multi-label: after training, choose the threshold that maximizes the validation F1 —
    /// one for every class (global), or one per class (per-class) — and save it in the model.
    #[arg(long, value_name = "HOW", num_args = 0..=1, default_missing_value = "global")]
    pub tune_threshold: Option<ThresholdTuning>,
    /// Regression or count: the loss [default: mse for regression, poisson for counts].
    #[arg(long)]
    pub loss: Option<ValueLoss>,
    /// Regression: squash predictions into LOW:HIGH with a scaled sigmoid (fastai's y_range).
    #[arg(long, value_name = "LOW:HIGH")]
    pub y_range: Option<YRange>,
}
