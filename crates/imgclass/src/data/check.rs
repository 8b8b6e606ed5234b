//! `imgclass data check`: what a folder really holds before training on it — images per class,
//! image sizes, unreadable files, exact duplicates (across classes: contradictory labels;
//! across train / valid: a leak that flatters validation), tiny images and class imbalance.

use std::collections::HashMap;

use serde::Serialize;

use super::targets::{TaskKind, target_text};
use super::{Origin, Skipped, Source, SplitOptions, describe};

/// Images with a side shorter than this many pixels are reported as tiny (and any image
/// whose shorter side is under a quarter of the median one).
pub const TINY_SIDE: u32 = 16;
/// Most / fewest images per class above which the classes are called imbalanced.
pub const IMBALANCE_RATIO: f64 = 3.0;

/// Images of one class.
#[derive(Debug, Clone, Serialize)]
pub struct ClassCount {
    /// Class name.
    pub name: String,
    /// Readable images.
    pub images: usize,
}

/// How many images have one size.
#[derive(Debug, Clone, Serialize)]
pub struct SizeCount {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Images of this size.
    pub images: usize,
}

/// Files with identical content.
#[derive(Debug, Clone, Serialize)]
pub struct Duplicate {
    /// The files (or `file#index` inside IDX files).
    pub files: Vec<String>,
    /// The class of each file.
    pub classes: Vec<String>,
    /// The split of each file under the checked split options (`train`, `valid`, `test`).
    pub splits: Vec<String>,
    /// The copies carry different labels.
    pub across_classes: bool,
    /// The copies fall into different splits.
    pub across_splits: bool,
}

/// Everything `data check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The checked folder.
    pub source: String,
    /// Readable images.
    pub images: usize,
    /// Readable images per class.
    pub classes: Vec<ClassCount>,
    /// Files that could not be read, with the reason.
    pub unreadable: Vec<Skipped>,
    /// Readable files per format (`JPEG`, `PNG`, …), most frequent first.
    pub formats: Vec<(String, usize)>,
    /// Files that are read, but only after a conversion (the `reason` says which).
    pub converted: Vec<Skipped>,
    /// The most common image sizes (at most 10), most frequent first.
    pub sizes: Vec<SizeCount>,
    /// Smallest and largest width and height: `[min_w, min_h, max_w, max_h]`.
    pub size_range: [u32; 4],
    /// Images with a side shorter than [`TINY_SIDE`] or than a quarter of the median shorter side.
    pub tiny: Vec<String>,
    /// Groups of identical files.
    pub duplicates: Vec<Duplicate>,
    /// Most / fewest images per class.
    pub imbalance: f64,
    /// One line per problem worth acting on.
    pub warnings: Vec<String>,
}

/// An image's width, height, content hash, and (files) format and conversion notes.
type Described = (u32, u32, u64, Option<(String, Vec<String>)>);

/// Checks every item of `source`, in parallel; `split` is what `train` would use, for finding
/// duplicates that cross the train / valid boundary. `progress(done, total)` as images finish.
pub fn check(source: &Source, split: SplitOptions, progress: &(dyn Fn(usize, usize) + Sync)) -> CheckReport {
    let decoded = decode_all(source, progress);
    let (formats, converted) = formats_and_conversions(source, &decoded);
    let t = tally(source, &decoded);
    let (tiny, median) = tiny_images(source, &decoded);
    let duplicates = duplicates(source, t.by_hash, &source.split(split));
    let images = decoded.iter().filter(|r| r.is_ok()).count();
    let (most, fewest) = (t.counts.iter().copied().max().unwrap_or(0), t.counts.iter().copied().min().unwrap_or(0));
    let imbalance = if fewest == 0 { f64::INFINITY } else { most as f64 / fewest as f64 };
    let classes: Vec<ClassCount> =
        source.classes.iter().zip(&t.counts).map(|(n, &c)| ClassCount { name: n.clone(), images: c }).collect();
    let mut report = CheckReport {
        source: source.root.display().to_string(),
        images,
        classes,
        unreadable: t.unreadable,
        formats,
        converted,
        sizes: t.sizes,
        size_range: if images == 0 { [0; 4] } else { t.range },
        tiny,
        duplicates,
        imbalance,
        warnings: Vec::new(),
    };
    report.warnings = warnings(&report, median, (most, fewest));
    report
}

/// Decodes every item; each readable file's format and conversions come with its decoding
/// (IDX images need none).
fn decode_all(source: &Source, progress: &(dyn Fn(usize, usize) + Sync)) -> Vec<Result<Described, String>> {
    let all: Vec<usize> = (0..source.items.len()).collect();
    source.par_decode(&all, progress, |i, r| {
        r.map(|(img, hash)| {
            let described = match &source.items[i].origin {
                Origin::File(p) => {
                    describe(p, &img).map(|(format, notes)| (format!("{format:?}").to_uppercase(), notes))
                }
                Origin::Idx { .. } => None,
            };
            (img.width(), img.height(), hash, described)
        })
        .map_err(|e| e.reason())
    })
}

/// Readable files per format (most frequent first), and every conversion note by file.
fn formats_and_conversions(
    source: &Source,
    decoded: &[Result<Described, String>],
) -> (Vec<(String, usize)>, Vec<Skipped>) {
    let mut formats: HashMap<String, usize> = HashMap::new();
    let mut converted = Vec::new();
    for (i, d) in decoded.iter().enumerate() {
        if let Ok((_, _, _, Some((format, notes)))) = d {
            *formats.entry(format.clone()).or_default() += 1;
            converted.extend(notes.iter().map(|n| Skipped { path: source.name(i).into(), reason: n.clone() }));
        }
    }
    let mut formats: Vec<(String, usize)> = formats.into_iter().collect();
    formats.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    (formats, converted)
}

/// Counts per class and per size, the size range, the unreadable files, items by content hash.
struct Tally {
    counts: Vec<usize>,
    unreadable: Vec<Skipped>,
    sizes: Vec<SizeCount>,
    range: [u32; 4],
    by_hash: HashMap<u64, Vec<usize>>,
}

fn tally(source: &Source, decoded: &[Result<Described, String>]) -> Tally {
    let mut t = Tally {
        counts: vec![0; source.classes.len()],
        unreadable: source.problems.clone(),
        sizes: Vec::new(),
        range: [u32::MAX, u32::MAX, 0, 0],
        by_hash: HashMap::new(),
    };
    let mut sizes: HashMap<(u32, u32), usize> = HashMap::new();
    for (i, r) in decoded.iter().enumerate() {
        match r {
            Ok((w, h, hash, _)) => {
                let item = &source.items[i];
                match source.task {
                    TaskKind::SingleLabel => t.counts[item.label] += 1,
                    TaskKind::MultiLabel => {
                        item.values.iter().zip(&mut t.counts).for_each(|(v, c)| *c += usize::from(*v == 1.0))
                    }
                    // Numbers: every image has a value of every target.
                    _ => t.counts.iter_mut().for_each(|c| *c += 1),
                }
                *sizes.entry((*w, *h)).or_default() += 1;
                t.range = [t.range[0].min(*w), t.range[1].min(*h), t.range[2].max(*w), t.range[3].max(*h)];
                t.by_hash.entry(*hash).or_default().push(i);
            }
            Err(reason) => t.unreadable.push(Skipped { path: source.name(i).into(), reason: reason.clone() }),
        }
    }
    t.sizes = sizes.into_iter().map(|((width, height), images)| SizeCount { width, height, images }).collect();
    t.sizes.sort_by(|a, b| b.images.cmp(&a.images).then((a.width, a.height).cmp(&(b.width, b.height))));
    t.sizes.truncate(10);
    t
}

/// The tiny images (a side under [`TINY_SIDE`] or a quarter of the median shorter side), and
/// that median.
fn tiny_images(source: &Source, decoded: &[Result<Described, String>]) -> (Vec<String>, u32) {
    let mut short: Vec<u32> = decoded.iter().flatten().map(|(w, h, _, _)| (*w).min(*h)).collect();
    short.sort_unstable();
    let median = short.get(short.len() / 2).copied().unwrap_or(0);
    let tiny = decoded
        .iter()
        .enumerate()
        .filter(|(_, r)| r.as_ref().is_ok_and(|(w, h, _, _)| (*w).min(*h) < TINY_SIDE || 4 * (*w).min(*h) < median))
        .map(|(i, _)| source.name(i))
        .collect();
    (tiny, median)
}

/// Groups of identical files: those across classes first, then those across splits.
fn duplicates(source: &Source, by_hash: HashMap<u64, Vec<usize>>, splits: &[super::Split]) -> Vec<Duplicate> {
    let label = |i: usize| {
        let item = &source.items[i];
        target_text(source.task, &source.classes, item.label, &item.values)
    };
    let mut duplicates: Vec<Duplicate> = by_hash
        .into_values()
        .filter(|v| v.len() > 1)
        .map(|mut v| {
            v.sort_unstable();
            Duplicate {
                files: v.iter().map(|&i| source.name(i)).collect(),
                classes: v.iter().map(|&i| label(i)).collect(),
                splits: v.iter().map(|&i| splits[i].name().to_string()).collect(),
                across_classes: v.iter().any(|&i| label(i) != label(v[0])),
                across_splits: v.iter().any(|&i| splits[i] != splits[v[0]]),
            }
        })
        .collect();
    duplicates.sort_by(|a, b| {
        (!a.across_classes, !a.across_splits, &a.files).cmp(&(!b.across_classes, !b.across_splits, &b.files))
    });
    duplicates
}

/// One line per problem worth acting on.
fn warnings(r: &CheckReport, median: u32, (most, fewest): (usize, usize)) -> Vec<String> {
    let mut warnings = Vec::new();
    if !r.unreadable.is_empty() {
        warnings.push(format!("{} file(s) cannot be read and will be skipped", r.unreadable.len()));
    }
    let count = |f: fn(&Duplicate) -> bool| r.duplicates.iter().filter(|d| f(d)).count();
    if count(|d| d.across_classes) > 0 {
        warnings.push(format!(
            "{} image(s) appear under more than one class: contradictory labels",
            count(|d| d.across_classes)
        ));
    }
    if count(|d| d.across_splits) > 0 {
        warnings.push(format!(
            "{} image(s) appear in more than one split: validation would score images the model trained on",
            count(|d| d.across_splits)
        ));
    }
    if !r.tiny.is_empty() {
        warnings.push(format!(
            "{} image(s) are tiny (a side under {TINY_SIDE} px or under a quarter of the median {median} px): upscaled, they carry little detail",
            r.tiny.len()
        ));
    }
    for c in r.classes.iter().filter(|c| c.images == 0) {
        warnings.push(format!("class {:?} has no readable image", c.name));
    }
    if r.imbalance > IMBALANCE_RATIO && fewest > 0 {
        warnings.push(format!(
            "classes are imbalanced: {most} images in the largest, {fewest} in the smallest ({:.1}×); accuracy will favour the large classes",
            r.imbalance
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::IdxSplit;

    #[test]
    fn duplicates_across_classes_and_imbalance_are_reported() {
        // Images 0 and 1 are identical but labelled 0 and 1; class 0 has 8 images, class 1 has 2.
        let mut pixels = vec![7u8; 4 * 2];
        pixels.extend((0..8u8).flat_map(|i| [i * 10 + 1, 2, 3, 4]));
        let labels = vec![0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        let part = IdxSplit { prefix: "train".into(), pixels, labels, height: 2, width: 2 };
        let source = Source::from_idx("mem".into(), vec![part], None);
        let r = check(&source, SplitOptions { valid_pct: 0.2, test_pct: 0.0, seed: 1 }, &|_, _| {});
        assert_eq!(r.images, 10);
        assert_eq!(r.duplicates.len(), 1);
        assert!(r.duplicates[0].across_classes);
        assert_eq!(r.imbalance, 4.0);
        assert!(r.warnings.iter().any(|w| w.contains("more than one class")), "{:?}", r.warnings);
        assert!(r.warnings.iter().any(|w| w.contains("imbalanced")), "{:?}", r.warnings);
        assert_eq!((r.sizes[0].width, r.sizes[0].height, r.sizes[0].images), (2, 2, 10));
    }
}
