//! Command-line arguments → the library's [`TrainConfig`], in one place: every option given
//! is applied over a base config (the library's defaults, or a resumed run's saved config);
//! nothing here repeats a default. [`crate::help`] goes the other direction.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use imgclass::config::{DataConfig, Mix, Schedule, TrainConfig, TransformConfig, Weights};
use imgclass::data::Labels;
use imgclass::infer::TtaOptions;
use imgclass::models::{Arch, ArchKind, CnnConfig, MlpConfig};
use imgclass::transforms::{Augment, ERASE_MAX_AREA};

use crate::args::{
    DataArgs, FitArgs, LoaderArgs, LossArgs, ModelArgs, RunArgs, SplitArgs, TaskArgs, TransformArgs, TtaArgs,
};

/// The config of a run: `base` with every option of `a` that was given applied over it.
pub fn run_config(a: &RunArgs, base: TrainConfig) -> Result<TrainConfig> {
    let mut c = a.preset.map_or(base, TrainConfig::preset);
    if a.source.data.is_some()
        || a.source.labels.is_some()
        || a.source.label_regex.is_some()
        || a.source.files.is_some()
    {
        let (split, loader, max_pixels) = (c.data.split, c.data.loader, c.data.max_pixels);
        c.data = DataConfig { split, loader, max_pixels, ..data_config(&a.source, true)? };
    }
    set(&mut c.data.max_pixels, a.source.max_pixels);
    split(&a.split, &mut c);
    loader(&a.loader, &mut c);
    transforms(&a.transform, &mut c.transforms);
    model(&a.model, &mut c)?;
    fit(&a.fit, &mut c);
    loss(&a.loss, &mut c);
    task(&a.task, &mut c);
    Ok(c)
}

/// Where the data comes from. With `absolute`, paths are made absolute, so a saved config
/// reopens the same data from any folder.
pub fn data_config(a: &DataArgs, absolute: bool) -> Result<DataConfig> {
    let fix = |p: &Path| -> PathBuf {
        if absolute { std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()) } else { p.into() }
    };
    let labels = match (&a.labels, &a.label_regex, &a.files) {
        (Some(csv), _, _) => Labels::Csv(fix(csv)),
        (None, Some(re), _) => Labels::NameRegex(re.clone()),
        (None, None, Some(list)) => Labels::FileList(fix(list)),
        (None, None, None) => Labels::Folders,
    };
    let mut c = DataConfig { path: a.data.as_deref().map(fix), labels, ..DataConfig::default() };
    set(&mut c.max_pixels, a.max_pixels);
    Ok(c)
}

/// Applies the split options to `c`.
pub fn split(a: &SplitArgs, c: &mut TrainConfig) {
    set(&mut c.data.split.valid_pct, a.valid_pct);
    set(&mut c.data.split.test_pct, a.test_pct);
    set(&mut c.seed, a.seed);
}

/// Applies the loader options to `c`.
pub fn loader(a: &LoaderArgs, c: &mut TrainConfig) {
    set(&mut c.data.loader.workers, a.workers);
    set(&mut c.data.loader.images_in, a.images_in);
    set(&mut c.data.loader.memory_mb, a.memory_mb);
}

/// Applies the transform options to `t`.
pub fn transforms(a: &TransformArgs, t: &mut TransformConfig) {
    if a.size.is_some() {
        t.size = a.size;
    }
    if a.presize.is_some() {
        t.presize = a.presize;
    }
    set(&mut t.resize, a.resize);
    set(&mut t.normalize, a.normalize);
    set(&mut t.background, a.background);
    if let Some(preset) = a.aug {
        t.augment = Augment::preset(preset);
    }
    if let Some(p) = a.erase {
        t.augment.p_erase = p;
        t.augment.max_erase = if p > 0.0 { ERASE_MAX_AREA } else { 0.0 };
    }
}

/// The architecture of `--arch` (or the base's) with its options; an option of another
/// architecture is an error rather than silently ignored.
fn model(a: &ModelArgs, c: &mut TrainConfig) -> Result<()> {
    if let Some(kind) = a.arch {
        c.model.arch = kind.arch();
    }
    let kind = c.model.arch.kind();
    let (mlp, cnn) = (kind == ArchKind::Mlp, kind == ArchKind::Cnn);
    let flags = [
        ("--hidden", a.hidden.is_some(), mlp || cnn),
        ("--activation", a.activation.is_some(), mlp || cnn),
        ("--dropout", a.dropout.is_some(), mlp || cnn),
        ("--channels", a.channels.is_some(), cnn),
        ("--convs-per-block", a.convs_per_block.is_some(), cnn),
        ("--kernel-size", a.kernel_size.is_some(), cnn),
        ("--padding", a.padding.is_some(), cnn),
        ("--stride", a.stride.is_some(), cnn),
        ("--pool", a.pool.is_some(), cnn),
        ("--no-batch-norm", a.no_batch_norm, cnn),
    ];
    if let Some((flag, _, _)) = flags.iter().find(|(_, given, applies)| *given && !applies) {
        bail!("{flag} does not apply to --arch {}", c.model.arch.name());
    }
    match &mut c.model.arch {
        Arch::Mlp(m) => mlp_options(a, m),
        Arch::Cnn(m) => cnn_options(a, m),
        _ => {}
    }
    if let Some(file) = &a.weights {
        c.model.weights = Weights::File(std::path::absolute(file).unwrap_or_else(|_| file.clone()));
    } else if a.pretrained {
        c.model.weights = Weights::Pretrained;
    }
    Ok(())
}

fn mlp_options(a: &ModelArgs, m: &mut MlpConfig) {
    set(&mut m.hidden, a.hidden.clone());
    set(&mut m.activation, a.activation);
    set(&mut m.dropout, a.dropout);
}

fn cnn_options(a: &ModelArgs, m: &mut CnnConfig) {
    set(&mut m.hidden, a.hidden.clone());
    set(&mut m.activation, a.activation);
    set(&mut m.dropout, a.dropout);
    set(&mut m.channels, a.channels.clone());
    set(&mut m.convs_per_block, a.convs_per_block);
    set(&mut m.kernel_size, a.kernel_size);
    set(&mut m.padding, a.padding);
    set(&mut m.stride, a.stride);
    set(&mut m.pool, a.pool);
    if a.no_batch_norm {
        m.batch_norm = false;
    }
}

fn fit(a: &FitArgs, c: &mut TrainConfig) {
    match (a.fine_tune, a.freeze_epochs) {
        (Some(epochs), Some(frozen)) => *c = std::mem::take(c).fastai_fine_tune(frozen, epochs.unwrap_or(1)),
        (Some(epochs), None) => *c = std::mem::take(c).probe_then_fine_tune(epochs),
        (None, frozen) => set(&mut c.fit.freeze_epochs, frozen),
    }
    set(&mut c.fit.epochs, a.epochs);
    set(&mut c.fit.batch_size, a.batch_size);
    set(&mut c.fit.unfrozen_bn, a.unfrozen_bn);
    c.fit.probe |= a.probe;
    set(&mut c.optimizer.lr, a.lr);
    set(&mut c.optimizer.kind, a.optimizer);
    set(&mut c.optimizer.weight_decay, a.weight_decay);
    set(&mut c.optimizer.momentum, a.momentum);
    if a.constant_lr {
        c.optimizer.schedule = Schedule::Constant;
    }
    if a.balance.is_some() {
        c.fit.balance = a.balance;
    }
    if a.patience.is_some() {
        c.fit.patience = a.patience;
    }
    if a.lr_range.is_some() {
        c.fit.lr_range = a.lr_range;
    }
    c.fit.unfreeze |= a.unfreeze;
    c.fit.cache_features &= !a.no_cache_features;
}

fn loss(a: &LossArgs, c: &mut TrainConfig) {
    set(&mut c.loss.label_smoothing, a.label_smoothing);
    match (a.mixup, a.cutmix) {
        (Some(alpha), _) => c.loss.mix = Mix::Mixup { alpha },
        (None, Some(alpha)) => c.loss.mix = Mix::Cutmix { alpha },
        (None, None) if a.no_mix => c.loss.mix = Mix::None,
        (None, None) => {}
    }
}

fn task(a: &TaskArgs, c: &mut TrainConfig) {
    let t = &mut c.task;
    let names = |s: &String| s.split(',').map(str::trim).filter(|n| !n.is_empty()).map(String::from).collect();
    if a.task.is_some() {
        t.kind = a.task;
    }
    if a.label_delim.is_some() {
        t.columns.label_delim = a.label_delim;
    }
    if let Some(cols) = &a.label_columns {
        t.columns.label_columns = Some(names(cols));
    }
    if let Some(cols) = &a.target {
        t.columns.targets = Some(names(cols));
    }
    set(&mut t.threshold, a.threshold);
    set(&mut t.loss, a.loss);
    if a.y_range.is_some() {
        t.y_range = a.y_range;
    }
    if a.tune_threshold.is_some() {
        t.tune_threshold = a.tune_threshold;
    }
}

/// The test-time augmentation of `evaluate` and `predict`.
pub fn tta(a: &TtaArgs) -> TtaOptions {
    let mut t = TtaOptions::new(a.tta.unwrap_or_default());
    set(&mut t.n, a.tta_n.map(usize::from));
    set(&mut t.beta, a.tta_beta);
    t
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use imgclass::config::{BnMode, FINE_TUNE_LR, FitConfig};

    /// The fit config `imgclass train --arch efficientnet_lite0 --pretrained ARGS…` makes.
    fn fit_of(args: &[&str]) -> (FitConfig, f64) {
        let base = ["imgclass", "train", "--arch", "efficientnet_lite0", "--pretrained"];
        let cli = crate::args::Cli::try_parse_from(base.iter().chain(args)).unwrap();
        let crate::args::Command::Train(t) = cli.command else { unreachable!() };
        let c = run_config(&t.run, TrainConfig::default()).unwrap();
        (c.fit, c.optimizer.lr)
    }

    #[test]
    fn fine_tune_probes_first_unless_frozen_epochs_ask_for_fastais_recipe() {
        let (fit, lr) = fit_of(&["--fine-tune"]);
        assert!(fit.probe && fit.unfreeze && fit.epochs_from_data && fit.freeze_epochs == 0 && fit.patience == Some(2));
        assert_eq!(lr, TrainConfig::default().optimizer.lr);
        let (fit, _) = fit_of(&["--fine-tune", "4", "--unfrozen-bn", "train"]);
        assert!(fit.probe && !fit.epochs_from_data && fit.epochs == 4 && fit.unfrozen_bn == BnMode::Train);
        let (fit, lr) = fit_of(&["--fine-tune", "3", "--freeze-epochs", "2"]);
        assert!(!fit.probe && fit.unfreeze && (fit.freeze_epochs, fit.epochs, fit.patience) == (2, 3, None));
        assert_eq!(lr, FINE_TUNE_LR);
        let (fit, _) = fit_of(&["--probe", "--epochs", "0"]);
        assert!(fit.probe && !fit.unfreeze && fit.epochs == 0);
    }

    /// The config `imgclass train ARGS…` makes.
    fn config_of(args: &[&str]) -> TrainConfig {
        let cli = crate::args::Cli::try_parse_from(["imgclass", "train"].iter().chain(args)).unwrap();
        let crate::args::Command::Train(t) = cli.command else { unreachable!() };
        run_config(&t.run, TrainConfig::default()).unwrap()
    }

    #[test]
    fn a_preset_is_the_base_that_other_options_adjust() {
        let preset = TrainConfig::preset(imgclass::config::Preset::Fashion);
        assert_eq!(config_of(&["--preset", "fashion"]), preset);
        let c = config_of(&["--preset", "fashion", "--epochs", "3", "--label-smoothing", "0", "--mixup"]);
        assert_eq!((c.fit.epochs, c.loss.label_smoothing, c.loss.mix), (3, 0.0, Mix::MIXUP));
        assert_eq!((c.model, c.transforms), (preset.model, preset.transforms));
    }

    #[test]
    fn erase_adjusts_the_augmentation_that_aug_or_the_preset_chose() {
        let on = config_of(&["--preset", "fashion", "--erase", "0.5"]).transforms.augment;
        assert_eq!((on.p_erase, on.max_erase), (0.5, ERASE_MAX_AREA));
        assert_eq!(on.crop_pad, TrainConfig::preset(imgclass::config::Preset::Fashion).transforms.augment.crop_pad);
        let off = config_of(&["--aug", "strong", "--erase", "0"]).transforms.augment;
        assert_eq!((off.p_erase, off.max_erase, off.flip), (0.0, 0.0, 0.5));
        let crop = config_of(&["--aug", "crop", "--erase", "0.25"]).transforms.augment;
        assert_eq!((crop.flip, crop.p_erase, crop.max_erase), (0.5, 0.25, ERASE_MAX_AREA));
    }

    #[test]
    fn mixup_and_cutmix_take_fastais_alpha_unless_given_one() {
        assert_eq!(config_of(&["--cutmix"]).loss.mix, Mix::CUTMIX);
        assert_eq!(config_of(&["--mixup", "0.2"]).loss.mix, Mix::Mixup { alpha: 0.2 });
        let both = crate::args::Cli::try_parse_from(["imgclass", "train", "--mixup", "--cutmix"]);
        assert!(both.is_err(), "one mix at a time");
        let c = config_of(&["--preset", "fashion", "--cutmix"]);
        assert_eq!(c.loss.mix, Mix::CUTMIX);
    }
}
