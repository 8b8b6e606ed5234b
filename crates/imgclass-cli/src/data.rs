//! `imgclass data check` (what [`imgclass::data::check`] found, as text or JSON), `data show`
//! (a picture of a batch) and `data bench` (how fast batches are made).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use imgclass::data::check::check as check_source;
use imgclass::data::{Loader, Split, SplitOptions, chunks, worker_pool};
use imgclass::interpret::show::batch_grid;
use imgclass::rng::Rng;
use imgclass::train::TrainConfig;

use crate::args::{DataBenchArgs, DataCheckArgs, DataShowArgs, TransformArgs};
use crate::progress::bar;

/// At most this many files are listed per problem in the text output (`--json` lists all).
const SHOW: usize = 20;

pub fn check(a: DataCheckArgs) -> Result<ExitCode> {
    let split = SplitOptions { valid_pct: a.split.valid_pct, test_pct: a.split.test_pct, seed: a.split.seed };
    split.validate()?;
    let source = crate::train::open_source(&a.source)?;
    let pb = bar(source.items.len() as u64, "checking");
    let r = check_source(&source, split, &|d, _| pb.set_position(d as u64));
    pb.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}: {} readable images, {} classes", r.source, r.images, r.classes.len());
    let width = r.classes.iter().map(|c| c.name.chars().count()).max().unwrap_or(5).max(5);
    println!("\n{:<width$}  images", "class");
    for c in &r.classes {
        println!("{:<width$}  {:>6}", c.name, c.images);
    }
    let [min_w, min_h, max_w, max_h] = r.size_range;
    let common: Vec<String> = r.sizes.iter().take(5).map(|s| format!("{}×{} ({})", s.width, s.height, s.images)).collect();
    println!("\nsizes: {min_w}×{min_h} smallest, {max_w}×{max_h} largest; most common {}", common.join(", "));
    let list = |title: String, lines: Vec<String>| {
        if lines.is_empty() {
            return;
        }
        println!("\n{title}");
        for l in lines.iter().take(SHOW) {
            println!("  {l}");
        }
        if lines.len() > SHOW {
            println!("  … and {} more (--json lists all)", lines.len() - SHOW);
        }
    };
    let formats: Vec<String> = r.formats.iter().map(|(f, n)| format!("{f} {n}")).collect();
    println!("formats: {}", formats.join(", "));
    list(format!("unreadable ({}):", r.unreadable.len()), r.unreadable.iter().map(|s| format!("{}: {}", s.path.display(), s.reason)).collect());
    list(format!("read after a conversion ({}):", r.converted.len()), r.converted.iter().map(|s| format!("{}: {}", s.path.display(), s.reason)).collect());
    list(
        format!("exact duplicates ({} groups):", r.duplicates.len()),
        r.duplicates
            .iter()
            .map(|d| {
                let files: Vec<String> = d.files.iter().zip(&d.classes).zip(&d.splits).map(|((f, c), s)| format!("{f} [{c}, {s}]")).collect();
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
            println!("warning: {w}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The training config's view of the transform flags, for the size, preprocessing and
/// presizing that `train` would use.
fn transform_config(t: &TransformArgs) -> Result<TrainConfig> {
    let config = crate::train::with_transform(TrainConfig::new(), t)?;
    config.augment.validate().map_err(anyhow::Error::msg)?;
    Ok(config)
}

/// `imgclass data show`: a grid of training images (as `train` would split them), with
/// augmented versions under --aug.
pub fn show(a: DataShowArgs) -> Result<ExitCode> {
    let config = transform_config(&a.transform)?.with_valid_pct(a.split.valid_pct).with_test_pct(a.split.test_pct).with_seed(a.split.seed);
    config.split_options().validate()?;
    let source = crate::train::open_source(&a.source)?;
    let size = config.input_size(&source);
    let pre = config.preprocess(&source, size);
    let splits = source.split(config.split_options());
    let mut train: Vec<usize> = (0..splits.len()).filter(|&i| splits[i] == Split::Train).collect();
    Rng::new(a.split.seed).shuffle(&mut train);
    // Decode a few more than shown, in case some cannot be read.
    train.truncate(a.count + a.count / 2 + 4);
    let stored = config.load_options(size).stored(&pre);
    let loaded = source.load(&train, &stored, true, &|_, _| {});
    crate::train::report_skipped(&loaded.skipped);
    let shown: Vec<usize> = (0..loaded.data.len().min(a.count)).collect();
    if shown.is_empty() {
        bail!("no readable training image in {}", source.root.display());
    }
    let augment = (!config.augment.is_identity()).then_some(&config.augment);
    let canvas = batch_grid(&loaded.data, &pre, &source.classes, &shown, augment, a.versions, a.split.seed);
    canvas.save_png(&a.out)?;
    println!("{}", a.out.display());
    Ok(ExitCode::SUCCESS)
}

/// `imgclass data bench`: one epoch of batches (decode, resize, augment, normalize) from the
/// image files, timed, without a model.
pub fn bench(a: DataBenchArgs) -> Result<ExitCode> {
    let config = transform_config(&a.transform)?;
    let source = crate::train::open_source(&a.source)?;
    let size = config.input_size(&source);
    let pre = config.preprocess(&source, size);
    let stored = config.load_options(size).stored(&pre);
    let mut order: Vec<usize> = (0..source.items.len()).collect();
    Rng::new(1).shuffle(&mut order);
    let start = Instant::now();
    let data = source.streamed(&order, &stored);
    let pool = worker_pool(a.loader.workers);
    let workers = pool.current_num_threads();
    let loader = Loader::new(&data, &pre).on_pool(&pool).augmented(&config.augment, 1, 1);
    let all: Vec<usize> = (0..data.len()).collect();
    let mut images = 0;
    loader.for_each(&chunks(&all, a.batch_size), |b| {
        images += b.shape[0];
        true
    });
    let seconds = start.elapsed().as_secs_f64();
    let rate = images as f64 / seconds;
    if a.json {
        println!("{}", serde_json::json!({"images": images, "seconds": seconds, "images_per_second": rate, "workers": workers, "aug": a.transform.aug}));
    } else {
        println!("{images} images in {seconds:.2} s: {rate:.1} images/s ({workers} workers, --aug {}, {}×{} from {}×{})", a.transform.aug, pre.height, pre.width, stored.height, stored.width);
    }
    Ok(ExitCode::SUCCESS)
}
