//! `imgclass data check`: prints what [`imgclass::data::check`] found, as text or JSON.

use std::process::ExitCode;

use anyhow::Result;
use imgclass::data::check::check as check_source;
use imgclass::data::SplitOptions;

use crate::args::DataCheckArgs;
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
    list(format!("unreadable ({}):", r.unreadable.len()), r.unreadable.iter().map(|s| format!("{}: {}", s.path.display(), s.reason)).collect());
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
