//! The other direction from [`crate::config`]: the library names config fields in its
//! messages (`fit.batch_size`), and [`spell`] shows them as the flags that set them; the help
//! shows each option's library default.

use clap::{Command, ValueEnum};
use imgclass::config::{FINE_TUNE_LR, TrainConfig};
use imgclass::models::{CnnConfig, MlpConfig};
use imgclass::train::LrFindConfig;
use imgclass::transforms::AugPreset;

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
    ("transforms.augment.p_erase", "--erase"),
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
    ("folds", "--folds"),
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
