//! `imgclass data check` (what [`imgclass::data::check`] found, as text or JSON), `data show`
//! (a picture of a batch) and `data bench` (how fast batches are made).

use std::process::ExitCode;

use anyhow::Result;
use imgclass::config::TrainConfig;
use imgclass::data::check::check as check_source;
use imgclass::interpret::save_batch_picture;

use crate::args::{DataArgs, DataBenchArgs, DataCheckArgs, DataShowArgs};
use crate::common::report_skipped;
use crate::config::{data_config, loader, split, transforms};
use crate::help::name;
use crate::progress::bar;
use crate::show::esc;

/// At most this many files are listed per problem in the text output (`--json` lists all).
const SHOW: usize = 20;

/// The library's default config with the data of `source` and `edit`'s options, checked.
fn config_of(source: &DataArgs, edit: impl FnOnce(&mut TrainConfig)) -> Result<TrainConfig> {
    let mut c = TrainConfig { data: data_config(source, false)?, ..TrainConfig::default() };
    edit(&mut c);
    c.validate()?;
    Ok(c)
}

pub fn check(a: DataCheckArgs) -> Result<ExitCode> {
    let config = config_of(&a.source, |c| split(&a.split, c))?;
    let source = config.open_data()?;
    let pb = bar(source.len() as u64, "checking");
    let r = check_source(&source, config.split_options(), &|d, _| pb.set_position(d as u64));
    pb.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}: {} readable images, {} classes", esc(&r.source), r.images, r.classes.len());
    let width = r.classes.iter().map(|c| esc(&c.name).chars().count()).max().unwrap_or(5).max(5);
    println!("\n{:<width$}  images", "class");
    for c in &r.classes {
        println!("{:<width$}  {:>6}", esc(&c.name), c.images);
    }
    let [min_w, min_h, max_w, max_h] = r.size_range;
    let common: Vec<String> =
        r.sizes.iter().take(5).map(|s| format!("{}×{} ({})", s.width, s.height, s.images)).collect();
    println!("\nsizes: {min_w}×{min_h} smallest, {max_w}×{max_h} largest; most common {}", common.join(", "));
    let list = |title: String, lines: Vec<String>| {
        if lines.is_empty() {
            return;
        }
        println!("\n{title}");
        for l in lines.iter().take(SHOW) {
            println!("  {}", esc(l));
        }
        if lines.len() > SHOW {
            println!("  … and {} more (--json lists all)", lines.len() - SHOW);
        }
    };
    let formats: Vec<String> = r.formats.iter().map(|(f, n)| format!("{f} {n}")).collect();
    println!("formats: {}", formats.join(", "));
    list(
        format!("unreadable ({}):", r.unreadable.len()),
        r.unreadable.iter().map(|s| format!("{}: {}", s.path.display(), s.reason)).collect(),
    );
    list(
        format!("read after a conversion ({}):", r.converted.len()),
        r.converted.iter().map(|s| format!("{}: {}", s.path.display(), s.reason)).collect(),
    );
    list(
        format!("exact duplicates ({} groups):", r.duplicates.len()),
        r.duplicates
            .iter()
            .map(|d| {
                let files: Vec<String> = d
                    .files
                    .iter()
                    .zip(&d.classes)
                    .zip(&d.splits)
                    .map(|((f, c), s)| format!("{f} [{c}, {s}]"))
                    .collect();
                let tag = match (d.across_classes, d.across_splits) {
                    (true, _) => "different classes: ",
                    (false, true) => "train/valid leak: ",
                    _ => "",
                };
                format!("{tag}{}", files.join(" = "))
            })
            .collect(),
    );
    list(format!("tiny images ({}):", r.tiny.len()), r.tiny.clone());
    if r.warnings.is_empty() {
        println!("\nno problems found");
    } else {
        println!();
        for w in &r.warnings {
            println!("warning: {}", esc(w));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `imgclass data show`: a grid of training images (as `train` would split them), with
/// augmented versions under --aug.
pub fn show(a: DataShowArgs) -> Result<ExitCode> {
    let config = config_of(&a.source, |c| {
        split(&a.split, c);
        transforms(&a.transform, &mut c.transforms);
    })?;
    let source = config.open_data()?;
    let skipped = save_batch_picture(&config, &source, a.count.into(), a.versions.into(), &a.out)?;
    report_skipped(&skipped);
    println!("{}", a.out.display());
    Ok(ExitCode::SUCCESS)
}

/// `imgclass data bench`: one epoch of batches (decode, resize, augment, normalize) from the
/// image files, timed, without a model.
pub fn bench(a: DataBenchArgs) -> Result<ExitCode> {
    let config = config_of(&a.source, |c| {
        transforms(&a.transform, &mut c.transforms);
        loader(&a.loader, c);
    })?;
    let source = config.open_data()?;
    let size = config.input_size(&source);
    let pre = config.preprocess(&source, size);
    let stored = config.load_options(size).stored(&pre);
    let workers = config.data.loader.workers;
    let r =
        imgclass::bench::loader(&source, &stored, &pre, &config.transforms.augment, workers, a.batch_size as usize)?;
    let rate = r.images as f64 / r.seconds;
    let aug = name(a.transform.aug.unwrap_or_default());
    if a.json {
        let v = serde_json::json!({"images": r.images, "seconds": r.seconds, "images_per_second": rate, "workers": r.workers, "aug": aug});
        println!("{v}");
    } else {
        println!(
            "{} images in {:.2} s: {rate:.1} images/s ({} workers, --aug {aug}, {}×{} from {}×{})",
            r.images,
            r.seconds,
            r.workers,
            pre.height(),
            pre.width(),
            stored.height(),
            stored.width()
        );
    }
    Ok(ExitCode::SUCCESS)
}
