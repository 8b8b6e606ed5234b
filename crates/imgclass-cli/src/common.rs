//! What several commands share: the device, loading a run's data with a progress bar, and
//! reporting files that were skipped.

use anyhow::Result;
use imgclass::DeviceChoice;
use imgclass::config::TrainConfig;
use imgclass::data::targets::TaskKind;
use imgclass::data::{DataSplits, Skipped};

use crate::progress::bar;
use crate::show::{esc, esc_path};

/// The device of `--device`, else the build's preferred one.
pub fn device(choice: Option<DeviceChoice>) -> Result<imgclass::Device> {
    Ok(choice.unwrap_or_default().device()?)
}

/// Opens, splits and decodes the data of `config` with a progress bar, reports skipped files
/// and prints what was loaded: what `train` and `lr-find` start with.
pub fn load_data(config: &TrainConfig) -> Result<DataSplits> {
    config.validate()?;
    let source = config.open_data()?;
    source.require_trainable()?;
    let what = match source.task() {
        TaskKind::SingleLabel => format!("{} classes", source.classes().len()),
        TaskKind::MultiLabel => format!("{} classes, any number per image (multi-label)", source.classes().len()),
        kind => format!("{} to predict ({})", source.classes().join(", "), kind.name()),
    };
    eprintln!("data: {} — {} images, {what}", esc_path(source.root()), source.len());
    if let Some(note) = source.task_note() {
        eprintln!("task: {} (say --task to choose another)", esc(note));
    }
    let pb = bar(source.len() as u64, "loading");
    let data = config.load(&source, &|d, _| pb.set_position(d as u64));
    pb.finish_and_clear();
    let data = data?;
    report_skipped(data.skipped());
    let p = data.preprocess();
    eprintln!(
        "split: {} train, {} valid{}; input {}×{}×{}",
        data.train().len(),
        data.valid().len(),
        data.test().map_or(String::new(), |t| format!(", {} test", t.len())),
        p.input_channels(),
        p.height(),
        p.width()
    );
    Ok(data)
}

/// Names a skipped file and why, on stderr.
pub fn warn_skipped(s: &Skipped) {
    eprintln!("warning: skipped {}: {}", esc_path(&s.path), esc(&s.reason));
}

/// Names each skipped file and why, then the count, on stderr.
pub fn report_skipped(skipped: &[Skipped]) {
    skipped.iter().for_each(warn_skipped);
    if !skipped.is_empty() {
        eprintln!("warning: {} file(s) skipped", skipped.len());
    }
}
