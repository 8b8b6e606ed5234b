//! The other direction from [`crate::config`]: the library's config errors carry the field at
//! fault (`Error::Config { field: "fit.batch_size", .. }`), and [`chain`] shows it as the flag
//! that sets it (`--batch-size`), by the error's type, never by scanning its text; the help
//! shows each option's library default.

use clap::{Command, ValueEnum};
use imgclass::config::{FINE_TUNE_LR, TrainConfig};
use imgclass::infer::TtaOptions;
use imgclass::models::{CnnConfig, MlpConfig};
use imgclass::train::LrFindConfig;
use imgclass::transforms::AugPreset;

/// Config fields and the flags (or arguments) that set them.
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
    ("data.max_pixels", "--max-pixels"),
    ("data.labels", "--labels CSV"),
    ("fit.balance", "--balance"),
    ("task.kind", "--task"),
    ("task.threshold", "--threshold"),
    ("task.loss", "--loss"),
    ("task.y_range", "--y-range"),
    ("task.tune_threshold", "--tune-threshold"),
    ("task.columns", "--label-columns or --target"),
    ("start_lr", "--start-lr"),
    ("device", "--device"),
    ("folds", "--folds"),
    ("shard", "--shard"),
    ("tta", "--tta"),
    ("tta_n", "--tta-n"),
    ("tta_beta", "--tta-beta"),
    ("cam", "--cam"),
    ("cam_layer", "--cam-layer"),
    ("class", "--class"),
    ("kernel", "--kernel"),
    ("model", "MODEL"),
];

/// The flag that sets config `field` (the field itself when no flag does).
fn flag(field: &'static str) -> &'static str {
    FLAGS.iter().find(|(f, _)| *f == field).map_or(field, |(_, flag)| flag)
}

/// `err`'s chain on one line, as `{:#}` prints it, with a config error's field shown as the
/// flag that sets it.
pub fn chain(err: &anyhow::Error) -> String {
    let shown: Vec<String> = err
        .chain()
        .map(|e| match e.downcast_ref::<imgclass::Error>() {
            Some(e) => e.spelled(flag),
            None => e.to_string(),
        })
        .collect();
    shown.join(": ")
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
        ("background", t.background.to_string()),
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
        ("max_pixels", d.data.max_pixels.to_string()),
    ];
    let show = move |mut sub: Command| {
        for (id, value) in &defaults {
            if sub.get_arguments().any(|a| a.get_id() == *id) {
                sub = sub.mut_arg(*id, |arg| with_default(arg, value));
            }
        }
        sub
    };
    let show_data = show.clone();
    let tta = TtaOptions::default();
    let shown = move |mut sub: Command| {
        for (id, value) in [("tta_n", tta.n.to_string()), ("tta_beta", tta.beta.to_string())] {
            sub = sub.mut_arg(id, |arg| with_default(arg, &value));
        }
        sub
    };
    let serve = imgclass_serve::config::ServeConfig::default();
    let served = move |mut sub: Command| {
        let values = [
            ("root", serve.root.display().to_string()),
            ("host", serve.host.to_string()),
            ("port", serve.port.to_string()),
            ("max_upload_mb", (serve.limits.body_bytes >> 20).to_string()),
            ("max_pixels", serve.limits.max_pixels.to_string()),
        ];
        for (id, value) in values {
            sub = sub.mut_arg(id, |arg| with_default(arg, &value));
        }
        sub
    };
    cmd.mut_subcommand("train", show.clone())
        .mut_subcommand("serve", served)
        .mut_subcommand("lr-find", show)
        .mut_subcommand("data", move |data| {
            data.mut_subcommand("check", show_data.clone())
                .mut_subcommand("show", show_data.clone())
                .mut_subcommand("bench", show_data.clone())
        })
        .mut_subcommand("evaluate", shown)
        .mut_subcommand("predict", shown)
}

/// `arg` with `[default: value]` after its help.
fn with_default(arg: clap::Arg, value: &str) -> clap::Arg {
    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
    arg.help(format!("{help} [default: {value}]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_error_shows_its_field_as_the_flag_that_sets_it() {
        let mut config = TrainConfig::default();
        config.fit.batch_size = 0;
        let e = config.validate().unwrap_err();
        assert_eq!(
            chain(&anyhow::Error::new(e).context("training failed")),
            "training failed: --batch-size must be at least 1"
        );
    }

    /// Every string literal of the library's non-test code that is a dotted config path, or is
    /// the field of an `Error::config(` call.
    fn fields_named_by_the_library() -> std::collections::BTreeSet<String> {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    out.push(text.split("#[cfg(test)]").next().unwrap_or_default().to_string());
                }
            }
        }
        let mut sources = Vec::new();
        walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../imgclass/src"), &mut sources);
        let sections = ["data.", "transforms.", "model.", "optimizer.", "fit.", "loss.", "task."];
        let mut fields = std::collections::BTreeSet::new();
        for text in &sources {
            let parts: Vec<&str> = text.split('"').collect();
            for (before, literal) in parts.iter().zip(&parts[1..]).step_by(2) {
                // A file name such as "loss.png" or "model.imgclass" is not a field.
                let file = [".png", ".json", ".csv", ".html", ".imgclass"].iter().any(|e| literal.ends_with(e));
                let dotted = sections.iter().any(|s| literal.starts_with(s))
                    && !file
                    && literal.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.');
                if dotted || before.trim_end().ends_with("Error::config(") {
                    fields.insert(literal.to_string());
                }
            }
        }
        fields
    }

    #[test]
    fn every_field_the_library_names_has_a_flag_or_is_set_only_through_the_library() {
        // Set by presets and library callers; the CLI has no flag for them.
        let no_flag = ["optimizer.schedule", "model.arch.head_grid", "model.arch.head_dropout"];
        let fields = fields_named_by_the_library();
        assert!(fields.contains("fit.batch_size") && fields.contains("folds"), "the scan finds fields: {fields:?}");
        for field in &fields {
            let known = FLAGS.iter().any(|(f, _)| f == field) || no_flag.contains(&field.as_str());
            assert!(known, "{field} has no flag in help::FLAGS");
        }
    }

    #[test]
    fn a_path_or_cause_that_spells_a_field_is_shown_unchanged_and_once() {
        let path = std::path::PathBuf::from("/data/device/fit.epochs/cat.png");
        let source = std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device");
        let io = anyhow::Error::new(imgclass::Error::Io { path: path.clone(), source });
        assert_eq!(chain(&io), "/data/device/fit.epochs/cat.png: No space left on device");
        let shown = chain(&anyhow::Error::new(imgclass::Error::DataNotFound(path)));
        assert!(shown.starts_with("/data/device/fit.epochs/cat.png: no such file"), "{shown}");
    }

    #[test]
    fn a_config_error_shows_its_field_and_the_fields_it_points_to_as_flags() {
        let mut config = TrainConfig::default();
        config.fit.freeze_epochs = 1;
        config.model.arch = imgclass::models::ArchKind::Resnet18.arch();
        let err = anyhow::Error::new(config.validate().unwrap_err());
        assert_eq!(
            chain(&err),
            "--freeze-epochs (like probing and unfreezing) only makes sense for a pretrained body \
             (see --pretrained or --weights FILE)"
        );
        assert!(err.to_string().ends_with("(see model.weights)"), "the library's own spelling: {err}");
    }
}
