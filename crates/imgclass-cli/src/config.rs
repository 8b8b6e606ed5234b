//! Command-line arguments → the library's [`TrainConfig`], in one place: every option given
//! is applied over a base config (the library's defaults, or a resumed run's saved config);
//! nothing here repeats a default. Also the other direction: the library names config fields
//! in its messages (`fit.batch_size`), and [`spell`] shows them as the flags that set them.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::{Command, ValueEnum};
use imgclass::config::{DataConfig, FINE_TUNE_LR, Mix, Schedule, TrainConfig, TransformConfig, Weights};
use imgclass::data::Labels;
use imgclass::models::{Arch, ArchKind, CnnConfig, MlpConfig};
use imgclass::train::LrFindConfig;
use imgclass::transforms::{AugPreset, Augment};

use crate::args::{DataArgs, FitArgs, LoaderArgs, LossArgs, ModelArgs, RunArgs, SplitArgs, TransformArgs};

/// The config of a run: `base` with every option of `a` that was given applied over it.
pub fn run_config(a: &RunArgs, base: TrainConfig) -> Result<TrainConfig> {
    let mut c = a.preset.map_or(base, TrainConfig::preset);
    if a.source.data.is_some()
        || a.source.labels.is_some()
        || a.source.label_regex.is_some()
        || a.source.files.is_some()
    {
        c.data = DataConfig { split: c.data.split, loader: c.data.loader, ..data_config(&a.source, true)? };
    }
    split(&a.split, &mut c);
    loader(&a.loader, &mut c);
    transforms(&a.transform, &mut c.transforms);
    model(&a.model, &mut c)?;
    fit(&a.fit, &mut c);
    loss(&a.loss, &mut c);
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
    Ok(DataConfig { path: a.data.as_deref().map(fix), labels, ..DataConfig::default() })
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
        (Some(epochs), Some(frozen)) => *c = std::mem::take(c).fine_tune_fastai(frozen, epochs.unwrap_or(1)),
        (Some(epochs), None) => *c = std::mem::take(c).fine_tune(epochs),
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

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// `--background`: white, black, grey or R,G,B.
pub fn parse_background(s: &str) -> Result<[u8; 3], String> {
    let rgb: Option<Vec<u8>> = match s {
        "white" => Some(vec![255; 3]),
        "black" => Some(vec![0; 3]),
        "grey" | "gray" => Some(vec![128; 3]),
        _ => s.split(',').map(|v| v.trim().parse::<u8>().ok()).collect(),
    };
    match rgb.as_deref() {
        Some(&[r, g, b]) => Ok([r, g, b]),
        _ => Err("use white, black, grey or R,G,B with each in 0..=255".into()),
    }
}

/// `--lr-range LOW:HIGH`.
pub fn parse_lr_range(s: &str) -> Result<(f64, f64), String> {
    let parse = |v: &str| v.trim().parse::<f64>().ok();
    match s.split_once(':').map(|(l, h)| (parse(l), parse(h))) {
        Some((Some(l), Some(h))) => Ok((l, h)),
        _ => Err("use LOW:HIGH, e.g. 1e-6:1e-4".into()),
    }
}

/// Config fields and the flags that set them (the library's messages name the fields).
const FLAGS: &[(&str, &str)] = &[
    ("data.path", "DATA"),
    ("data.labels.name_regex", "--label-regex"),
    ("data.split.valid_pct", "--valid-pct"),
    ("data.split.test_pct", "--test-pct"),
    ("data.loader.workers", "--workers"),
    ("data.loader.memory_mb", "--memory-mb"),
    ("transforms.size", "--size"),
    ("transforms.presize", "--presize"),
    ("transforms.normalize", "--normalize"),
    ("transforms.augment", "--aug"),
    ("model.arch", "--arch"),
    ("model.arch.hidden", "--hidden"),
    ("model.arch.dropout", "--dropout"),
    ("model.arch.channels", "--channels"),
    ("model.arch.convs_per_block", "--convs-per-block"),
    ("model.arch.kernel_size", "--kernel-size"),
    ("model.arch.padding", "--padding"),
    ("model.arch.stride", "--stride"),
    ("model.weights", "--pretrained or --weights FILE"),
    ("optimizer.lr", "--lr"),
    ("optimizer.weight_decay", "--weight-decay"),
    ("optimizer.momentum", "--momentum"),
    ("fit.epochs", "--epochs"),
    ("fit.batch_size", "--batch-size"),
    ("fit.patience", "--patience"),
    ("fit.freeze_epochs", "--freeze-epochs"),
    ("fit.probe", "--probe"),
    ("fit.unfreeze", "--unfreeze"),
    ("fit.lr_range", "--lr-range"),
    ("loss.label_smoothing", "--label-smoothing"),
    ("loss.mix", "--mixup or --cutmix"),
    ("start_lr", "--start-lr"),
    ("end_lr", "--end-lr"),
    ("num_it", "--num-it"),
    ("device", "--device"),
];

/// `text` with every config field it names spelled as the flag that sets it.
pub fn spell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_lowercase()) {
        out.push_str(&rest[..start]);
        let word_len = rest[start..]
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_' || c == '.'))
            .unwrap_or(rest.len() - start);
        let word = &rest[start..start + word_len];
        let field = word.trim_end_matches('.');
        match FLAGS.iter().find(|(f, _)| *f == field) {
            Some((_, flag)) => {
                out.push_str(flag);
                out.push_str(&word[field.len()..]);
            }
            None => out.push_str(word),
        }
        rest = &rest[start + word_len..];
    }
    out.push_str(rest);
    out
}

/// How the command line spells an enumerated value.
pub fn name(v: impl ValueEnum) -> String {
    v.to_possible_value().map(|p| p.get_name().to_string()).unwrap_or_default()
}

/// `cmd` with the library's default shown in the help of each run option that has one.
pub fn with_defaults(cmd: Command) -> Command {
    let d = TrainConfig::default();
    let (cnn, mlp) = (CnnConfig::new(), MlpConfig::new());
    let join = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let t = &d.transforms;
    let defaults: Vec<(&str, String)> = vec![
        ("arch", name(d.model.arch.kind())),
        ("epochs", d.fit.epochs.to_string()),
        ("batch_size", d.fit.batch_size.to_string()),
        ("lr", format!("{:e}; with --fine-tune E --freeze-epochs N fastai's {:e}", d.optimizer.lr, FINE_TUNE_LR)),
        ("optimizer", name(d.optimizer.kind)),
        ("weight_decay", d.optimizer.weight_decay.to_string()),
        ("momentum", d.optimizer.momentum.to_string()),
        ("resize", name(t.resize)),
        ("aug", if t.augment.is_identity() { name(AugPreset::None) } else { "custom".into() }),
        ("normalize", name(t.normalize)),
        ("background", if t.background == [255; 3] { "white".into() } else { format!("{:?}", t.background) }),
        ("workers", d.data.loader.workers.to_string()),
        ("images_in", name(d.data.loader.images_in)),
        ("memory_mb", d.data.loader.memory_mb.to_string()),
        ("valid_pct", d.data.split.valid_pct.to_string()),
        ("test_pct", d.data.split.test_pct.to_string()),
        ("seed", d.seed.to_string()),
        ("freeze_epochs", d.fit.freeze_epochs.to_string()),
        ("label_smoothing", d.loss.label_smoothing.to_string()),
        ("channels", join(&cnn.channels)),
        ("hidden", format!("cnn {}, mlp {}", join(&cnn.hidden), join(&mlp.hidden))),
        ("kernel_size", cnn.kernel_size.to_string()),
        ("convs_per_block", cnn.convs_per_block.to_string()),
        ("stride", cnn.stride.to_string()),
        ("dropout", format!("cnn {}, mlp {}", cnn.dropout, mlp.dropout)),
        ("padding", name(cnn.padding)),
        ("pool", name(cnn.pool)),
        ("activation", name(cnn.activation)),
        ("start_lr", format!("{:e}", LrFindConfig::default().start_lr)),
        ("end_lr", LrFindConfig::default().end_lr.to_string()),
        ("num_it", LrFindConfig::default().num_it.to_string()),
    ];
    let show = move |mut sub: Command| {
        for (id, value) in &defaults {
            if sub.get_arguments().any(|a| a.get_id() == *id) {
                sub = sub.mut_arg(*id, |arg| {
                    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                    arg.help(format!("{help} [default: {value}]"))
                });
            }
        }
        sub
    };
    let show_data = show.clone();
    cmd.mut_subcommand("train", show.clone()).mut_subcommand("lr-find", show).mut_subcommand("data", move |data| {
        data.mut_subcommand("check", show_data.clone())
            .mut_subcommand("show", show_data.clone())
            .mut_subcommand("bench", show_data.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use imgclass::config::{BnMode, FitConfig};

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
    fn mixup_and_cutmix_take_fastais_alpha_unless_given_one() {
        assert_eq!(config_of(&["--cutmix"]).loss.mix, Mix::CUTMIX);
        assert_eq!(config_of(&["--mixup", "0.2"]).loss.mix, Mix::Mixup { alpha: 0.2 });
        let both = crate::args::Cli::try_parse_from(["imgclass", "train", "--mixup", "--cutmix"]);
        assert!(both.is_err(), "one mix at a time");
        let c = config_of(&["--preset", "fashion", "--cutmix"]);
        assert_eq!(c.loss.mix, Mix::CUTMIX);
    }

    #[test]
    fn config_fields_in_a_message_are_spelled_as_flags() {
        assert_eq!(spell("fit.batch_size must be at least 1"), "--batch-size must be at least 1");
        assert_eq!(
            spell("data.split.valid_pct and data.split.test_pct (1.5 and 0) must be in [0, 1)."),
            "--valid-pct and --test-pct (1.5 and 0) must be in [0, 1)."
        );
        assert_eq!(spell("the model.arch padding (model.arch)."), "the --arch padding (--arch).");
        assert_eq!(spell("unrelated.words stay"), "unrelated.words stay");
    }
}
