//! The arguments of the commands that use a trained model or look at data through one:
//! `evaluate`, `predict`, `interpret`, `clean`, `filters` and `activations`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use imgclass::DeviceChoice;
use imgclass::infer::{Shard, Tta};

use super::{Pretrained, RunArgs};

#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// A model bundle written by `imgclass train`.
    pub model: PathBuf,
    /// Labelled data: a folder of class subfolders or of IDX files (or of images a labels
    /// CSV names, with --labels).
    pub data: PathBuf,
    /// Labels from a CSV file (paths relative to DATA), read as the model was trained: one
    /// label, several, numbers or counts. Needed for models beyond one class per image.
    #[arg(long, value_name = "CSV")]
    pub labels: Option<PathBuf>,
    /// Where to write the confusion matrix picture (default: confusion-eval.png beside the
    /// model, or confusion.png in --out).
    #[arg(long)]
    pub confusion: Option<PathBuf>,
    /// The folder for the pictures: confusion.png (one class per image), or scatter.png and
    /// residuals.png (predicted vs actual, and the errors' histogram: regression and counts)
    /// [default: beside the model, as confusion-eval.png, scatter-eval.png, residuals-eval.png].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Evaluate even on the data the model was trained from (the score is then not a test score).
    #[arg(long)]
    pub allow_training_data: bool,
    #[command(flatten)]
    pub tta: TtaArgs,
    /// Skip, as undecodable, images whose header declares more pixels (width × height) than
    /// this: a guard against decompression bombs.
    #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pixels: Option<u64>,
    /// Device to compute on [default: a GPU when the build has one (cuda, then a hardware wgpu adapter), else cpu].
    #[arg(long)]
    pub device: Option<DeviceChoice>,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CleanArgs {
    /// `apply` or `undo` the decisions of a clean.csv instead of finding suspects.
    #[command(subcommand)]
    pub then: Option<CleanCommand>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Folds of the cross-validation: each image is scored by a model trained on the others.
    #[arg(long, default_value_t = imgclass::interpret::clean::DEFAULT_FOLDS as u16, value_parser = clap::value_parser!(u16).range(2..))]
    pub folds: u16,
    /// Score with this trained model instead of cross-validation: faster, but the images it
    /// trained on look cleaner than they are (it has learnt their labels, right or wrong).
    #[arg(long, value_name = "BUNDLE")]
    pub model: Option<PathBuf>,
    /// How suspects are ranked.
    #[arg(long, value_enum, default_value_t = imgclass::interpret::clean::RankBy::SelfConfidence)]
    pub rank_by: imgclass::interpret::clean::RankBy,
    /// Near-duplicates: images whose perceptual hashes (256 bits) differ in at most this many
    /// bits are listed as duplicates (0: identical pictures only).
    #[arg(long, default_value_t = imgclass::interpret::clean::DEFAULT_DUPLICATE_BITS, value_parser = clap::value_parser!(u32).range(0..=64))]
    pub duplicate_bits: u32,
    /// How many suspects to draw in suspects.png.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u16).range(1..))]
    pub show: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FilterPadding {
    /// Zeros around the image so the output keeps its size (at stride 1).
    Same,
    /// No padding: the output shrinks by the kernel's size − 1.
    Valid,
}

#[derive(Subcommand, Debug)]
pub enum FiltersCommand {
    /// Convolve an image (its grey plane) with kernels and draw the results side by side,
    /// printing each output's size.
    Apply {
        /// The image.
        image: PathBuf,
        /// Kernels, repeatable: edge, sobel_x, sobel_y, laplacian, sharpen, box_blur,
        /// gaussian_blur, emboss, or square rows such as '[[0,-1,0],[-1,5,-1],[0,-1,0]]'.
        #[arg(long = "kernel", required = true)]
        kernels: Vec<String>,
        /// Step between windows.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        stride: u16,
        /// Padding.
        #[arg(long, value_enum, default_value_t = FilterPadding::Same)]
        padding: FilterPadding,
        /// The picture to write.
        #[arg(long, default_value = "filters.png")]
        out: PathBuf,
    },
    /// Draw a model's first-layer filters: what it learnt to look for in the pixels.
    Show {
        /// A model bundle.
        model: PathBuf,
        /// The picture to write.
        #[arg(long, default_value = "first_filters.png")]
        out: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct ActivationsArgs {
    /// A model bundle.
    pub model: PathBuf,
    /// The image.
    pub image: PathBuf,
    /// The layer (cnn: block1…; resnet: stem, layer1…; efficientnet_lite0/1/2: stem, block1…,
    /// head) [default: the first].
    #[arg(long)]
    pub layer: Option<String>,
    /// The picture to write.
    #[arg(long, default_value = "activations.png")]
    pub out: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum CleanCommand {
    /// Carry out the action column of an edited clean.csv: `relabel:CLASS` moves the image to
    /// that class's folder (or rewrites its row of a labels CSV), `delete` moves it into
    /// DATA/.imgclass-trash/ (never deletes), `keep` leaves it. Logs what it did for `undo`.
    Apply {
        /// The clean.csv written by `imgclass clean` (its clean.json beside it).
        csv: PathBuf,
    },
    /// Revert the last `apply` on a data folder.
    Undo {
        /// The data folder.
        data: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct InterpretArgs {
    /// A model bundle, or a training run's folder (then DATA defaults to the run's validation
    /// split, as its split.json lists it).
    pub model: PathBuf,
    /// Labelled data: a folder of class subfolders or of IDX files (or of images a labels CSV
    /// names, with --labels).
    pub data: Option<PathBuf>,
    /// Labels from a CSV file (paths relative to DATA), read as the model was trained: needed
    /// for models beyond one class per image.
    #[arg(long, value_name = "CSV", requires = "data")]
    pub labels: Option<PathBuf>,
    /// How many of the highest-loss images to draw.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub top: u16,
    /// Draw the Grad-CAM map of its predicted class (or most probable label, or number) over
    /// each top-loss image.
    #[arg(long)]
    pub cam: bool,
    /// With --cam: the layer to explain (see `imgclass predict --help`) [default: the last].
    #[arg(long, requires = "cam", value_name = "LAYER")]
    pub cam_layer: Option<String>,
    /// With --cam: the class, label or target whose map to draw [default: the predicted
    /// class, the most probable label, the first target].
    #[arg(long, requires = "cam", value_name = "NAME")]
    pub class: Option<String>,
    /// The folder for top_losses.png, losses.csv, and confusion.png (one class per image) or
    /// scatter.png and residuals.png (numbers) [default: interpret/ in the run folder, or
    /// beside the model].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object last.
    #[arg(long)]
    pub json: bool,
    /// Interpret even on the data the model was trained from (losses are then not test losses).
    #[arg(long)]
    pub allow_training_data: bool,
    /// Device to compute on [default: a GPU when the build has one (cuda, then a hardware wgpu adapter), else cpu].
    #[arg(long)]
    pub device: Option<DeviceChoice>,
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// MODEL (a bundle written by `imgclass train`), then image files or folders (searched
    /// recursively). With --imagenet, only images.
    #[arg(required = true, value_name = "MODEL IMAGE|FOLDER")]
    pub paths: Vec<PathBuf>,
    /// Classify with a pretrained EfficientNet-Lite's original ImageNet head (top-5 by default)
    /// instead of a bundle.
    #[arg(long)]
    pub imagenet: bool,
    /// With --imagenet: which network (Lite1 and Lite2 are larger and slower, at 240 and 260 px).
    #[arg(long, requires = "imagenet", default_value = "efficientnet_lite0")]
    pub arch: Pretrained,
    /// With --imagenet: the checkpoint file (default: the cached one, see `imgclass weights fetch`).
    #[arg(long, requires = "imagenet")]
    pub weights: Option<PathBuf>,
    /// How many classes to show per image (default 3, or 5 with --imagenet).
    #[arg(long, short = 'k', value_parser = clap::value_parser!(u16).range(1..))]
    pub top_k: Option<u16>,
    /// Skip, as undecodable, images whose header declares more pixels (width × height) than
    /// this: a guard against decompression bombs.
    #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pixels: Option<u64>,
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV: the file, then the top k labels with their probabilities (single-label),
    /// the labels predicted and a probability column per label (multi-label), or a column per
    /// target (regression, count).
    #[arg(long)]
    pub csv: bool,
    /// Multi-label: list every label's probability, not only the labels predicted.
    #[arg(long)]
    pub all: bool,
    /// Print one JSON object per image as it is predicted (JSON Lines; --json prints one
    /// document at the end).
    #[arg(long, conflicts_with_all = ["json", "csv", "cam"])]
    pub jsonl: bool,
    /// Take only shard I of N (0 ≤ I < N): the files whose stable hash of their path below the
    /// folder given falls in it, so N processes (a Slurm array, a Kubernetes Indexed Job) split
    /// a folder between them without talking to each other.
    #[arg(long, value_name = "I/N", conflicts_with = "cam")]
    pub shard: Option<Shard>,
    /// Continue a stopped run: with --csv or --jsonl, append the rows to FILE instead of
    /// printing them, leaving out the files FILE already answers (a last row cut short by a
    /// kill is removed first). FILE need not exist yet.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["json", "cam"])]
    pub skip_done: Option<PathBuf>,
    #[command(flatten)]
    pub tta: TtaArgs,
    /// Multi-label: predict each label whose probability reaches T [default: the model's
    /// threshold(s), 0.5 unless tuned].
    #[arg(long, value_name = "T")]
    pub threshold: Option<f32>,
    /// Explain each prediction with Grad-CAM: where in the image the model found the class.
    /// Writes a picture per image (the map over the image, a cross at its peak) into --out;
    /// the text output gives the peak, --json the peak and the map.
    #[arg(long, conflicts_with_all = ["csv", "tta"])]
    pub cam: bool,
    /// With --cam: the layer to explain (cnn: block1, block2…; resnet: stem, layer1…layer4;
    /// efficientnet_lite0: stem, block1…block16, head; efficientnet_lite1/2: block1…block21)
    /// [default: the last].
    #[arg(long, requires = "cam", value_name = "LAYER")]
    pub cam_layer: Option<String>,
    /// With --cam: explain this class instead of each image's predicted one.
    #[arg(long, requires = "cam", value_name = "LABEL")]
    pub class: Option<String>,
    /// With --cam: the folder for the pictures.
    #[arg(long, requires = "cam", value_name = "DIR", default_value = "cam")]
    pub out: PathBuf,
    /// Device to compute on [default: a GPU when the build has one (cuda, then a hardware wgpu adapter), else cpu].
    #[arg(long)]
    pub device: Option<DeviceChoice>,
}

/// Test-time augmentation (`evaluate`, `predict`).
#[derive(Args, Debug, Clone)]
pub struct TtaArgs {
    /// Test-time augmentation: flip averages each image's probabilities with its mirror
    /// image's (for models trained with flips), shift with its four one-pixel shifts' (for
    /// models trained with crops or shifts; measured -0.07 to +0.22 points), aug (fastai's
    /// tta) with --tta-n views drawn from the model's training augmentation, blended with the
    /// plain prediction [default: none].
    #[arg(long)]
    pub tta: Option<Tta>,
    /// With --tta aug: augmented views per image.
    #[arg(long, value_name = "N", requires = "tta", value_parser = clap::value_parser!(u16).range(1..=imgclass::infer::MAX_TTA_VIEWS as i64))]
    pub tta_n: Option<u16>,
    /// With --tta aug: the plain prediction's weight, 0 to 1: (1 - B) × the views' mean + B ×
    /// the plain prediction.
    #[arg(long, value_name = "B", requires = "tta")]
    pub tta_beta: Option<f32>,
}

/// `imgclass report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A run folder (train's --out); several, or a folder of them, to compare.
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// Comparing runs: print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Comparing runs: write the page (the table and the runs' curves) here [default:
    /// report.html in the folder of runs, when one is given].
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}
