//! Prediction over as many files as a folder holds, in constant memory: the files are listed
//! lazily (folder by folder, each folder's names sorted, depth first: a stable order), read
//! and predicted a chunk at a time — the next chunk decoded while the network runs on this
//! one — and every answer handed to the caller as soon as it is known.
//!
//! [`Shard`] splits the files between processes that do not talk to each other: each takes
//! the files whose stable hash of the name relative to the input folder falls in its shard,
//! so N processes on N machines (a Slurm array, a Kubernetes Indexed Job) cover a folder
//! exactly once between them.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::bundle::Bundle;
use crate::data::folder::{is_image_path, walk_problem};
use crate::data::{Loaded, Skipped, Source};
use crate::error::{Error, Result};
use crate::infer::{FilePrediction, TtaOptions};
use crate::transforms::Preprocess;
use crate::util::rng::{FNV_OFFSET, fnv1a};

/// Files read and decoded together (one chunk is in memory while the next is decoded).
const CHUNK: usize = 256;

/// Shard `index` of `count` (`I/N` on the command line, 0 ≤ I < N).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// Shard `index` of `count`; `Err` unless 0 ≤ index < count.
    pub fn new(index: u64, count: u64) -> Result<Shard> {
        if count == 0 || index >= count {
            return Err(Error::config("shard", format!("{index}/{count} must be I/N with 0 ≤ I < N")));
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard takes the file named `relative` (its path below the input folder,
    /// `/`-separated): FNV-1a of the name's bytes, mixed by SplitMix64's finalizer, modulo N.
    /// The function is part of the format: a version that changed it would split a folder
    /// differently from an earlier run's shards.
    pub fn takes(&self, relative: &str) -> bool {
        let mut z = fnv1a(FNV_OFFSET, relative.as_bytes());
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = Error;

    fn from_str(s: &str) -> Result<Shard> {
        let bad = || Error::config("shard", format!("\"{s}\" is not I/N (as 0/4, the first of four shards)"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        Shard::new(i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A file of the inputs, or an input that could not be read.
pub type Listed = std::result::Result<PathBuf, Skipped>;

/// The image files of some inputs, lazily: files as given, folders searched recursively for
/// image files (sorted by name folder by folder, depth first), only those of a shard.
pub struct InputFiles {
    inputs: Vec<PathBuf>,
    next_input: usize,
    walk: Option<(PathBuf, walkdir::IntoIter)>,
    shard: Option<Shard>,
    found: usize,
}

impl InputFiles {
    /// The files of `inputs`, all of them or those of `shard`.
    pub fn new(inputs: &[PathBuf], shard: Option<Shard>) -> InputFiles {
        InputFiles { inputs: inputs.to_vec(), next_input: 0, walk: None, shard, found: 0 }
    }

    /// How many image files were listed so far, in every shard.
    pub fn found(&self) -> usize {
        self.found
    }

    fn take(&mut self, path: PathBuf, relative: &Path) -> Option<Listed> {
        self.found += 1;
        let name = relative.iter().map(|c| c.to_string_lossy()).collect::<Vec<_>>().join("/");
        self.shard.is_none_or(|s| s.takes(&name)).then_some(Ok(path))
    }

    fn next_in_walk(&mut self) -> Option<Option<Listed>> {
        let (root, walk) = self.walk.as_mut()?;
        let root = root.clone();
        Some(match walk.next()? {
            Ok(e) if e.file_type().is_file() && is_image_path(e.path()) => {
                let path = e.into_path();
                let relative = path.strip_prefix(&root).unwrap_or(&path).to_path_buf();
                self.take(path, &relative)
            }
            Ok(_) => None,
            Err(err) => {
                let (path, reason) = walk_problem(&err, &root);
                Some(Err(Skipped { path, reason }))
            }
        })
    }
}

impl Iterator for InputFiles {
    type Item = Listed;

    fn next(&mut self) -> Option<Listed> {
        loop {
            match self.next_in_walk() {
                Some(Some(item)) => return Some(item),
                Some(None) => continue,
                None => self.walk = None,
            }
            let input = self.inputs.get(self.next_input)?.clone();
            self.next_input += 1;
            if input.is_dir() {
                let walk = walkdir::WalkDir::new(&input).follow_links(true).sort_by_file_name().into_iter();
                self.walk = Some((input, walk));
            } else if input.exists() {
                if let Some(item) = self.take(input.clone(), &input) {
                    return Some(item);
                }
            } else {
                return Some(Err(Skipped { path: input, reason: "no such file".into() }));
            }
        }
    }
}

/// What the caller is handed, file by file.
#[derive(Debug)]
pub enum Streamed {
    /// A file's answer.
    Answer(FilePrediction),
    /// A file or folder that could not be read.
    Skipped(Skipped),
}

/// How answers are computed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct StreamOptions {
    /// Classes per answer (single-label).
    pub k: usize,
    /// Multi-label: every label's probability too.
    pub all: bool,
    /// Test-time augmentation.
    pub tta: TtaOptions,
}

impl StreamOptions {
    /// The top `k` classes, every label's probability with `all`, views of `tta`.
    pub fn new(k: usize, all: bool, tta: TtaOptions) -> StreamOptions {
        StreamOptions { k, all, tta }
    }
}

impl Bundle {
    /// Predicts every file `files` lists, a chunk at a time, handing each answer (and each
    /// file that could not be read) to `sink` in the listing's order, skipped files first
    /// within a chunk. Memory does not grow with the number of files; `sink`'s error stops
    /// the stream and is returned; so is a `tta` the model cannot use, before any file is read.
    pub fn predict_stream(
        &self,
        files: impl Iterator<Item = Listed>,
        options: StreamOptions,
        sink: &mut dyn FnMut(Streamed) -> Result<()>,
    ) -> Result<()> {
        let views = self.views(options.tta)?;
        let (pre, max_pixels) = (self.meta().preprocess(), self.max_pixels());
        let mut files = files.peekable();
        let mut chunk = next_chunk(&mut files, sink)?;
        let mut loaded = load_chunk(&chunk, pre, max_pixels);
        while !chunk.is_empty() {
            chunk = next_chunk(&mut files, sink)?;
            let (answers, next) = std::thread::scope(|s| {
                let next = s.spawn(|| load_chunk(&chunk, pre, max_pixels));
                let answers = self.answers_tta(&loaded.data, options.k, options.all, &views);
                (answers, next.join())
            });
            for s in std::mem::take(&mut loaded.skipped) {
                sink(Streamed::Skipped(s))?;
            }
            for a in answers {
                sink(Streamed::Answer(a))?;
            }
            // A panic while decoding is a bug: it goes on as it would have without the thread.
            loaded = next.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
        Ok(())
    }
}

/// The files decoded and prepared as the model expects (nothing for no files).
fn load_chunk(files: &[PathBuf], pre: &Preprocess, max_pixels: u64) -> Loaded {
    let source = Source::from_files(files.to_vec()).with_max_pixels(max_pixels);
    let all: Vec<usize> = (0..source.len()).collect();
    source.load(&all, pre, true, &|_, _| {})
}

/// The next chunk of readable-looking files; unlisted inputs go straight to `sink`.
fn next_chunk(
    files: &mut std::iter::Peekable<impl Iterator<Item = Listed>>,
    sink: &mut dyn FnMut(Streamed) -> Result<()>,
) -> Result<Vec<PathBuf>> {
    let mut chunk = Vec::with_capacity(CHUNK);
    while chunk.len() < CHUNK {
        match files.next() {
            Some(Ok(path)) => chunk.push(path),
            Some(Err(s)) => sink(Streamed::Skipped(s))?,
            None => break,
        }
    }
    Ok(chunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_from_i_of_n_and_refuse_anything_else() {
        assert_eq!("2/4".parse::<Shard>().unwrap(), Shard::new(2, 4).unwrap());
        assert_eq!(Shard::new(0, 1).unwrap().to_string(), "0/1");
        for bad in ["4/4", "1/0", "-1/4", "1", "a/b", "1/4/2", ""] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains("shard"), "{bad}: {e}");
        }
    }

    #[test]
    fn every_name_falls_in_exactly_one_shard_and_the_shards_are_even() {
        let names: Vec<String> = (0..20_000).map(|i| format!("class{}/img_{i:06}.jpg", i % 7)).collect();
        let shards: Vec<Shard> = (0..5).map(|i| Shard::new(i, 5).unwrap()).collect();
        let mut sizes = [0usize; 5];
        for n in &names {
            let takers: Vec<usize> = (0..5).filter(|&i| shards[i].takes(n)).collect();
            assert_eq!(takers.len(), 1, "{n}");
            sizes[takers[0]] += 1;
        }
        // 4,000 expected each; 5 binomial standard deviations is ±283.
        assert!(sizes.iter().all(|&s| s.abs_diff(4_000) < 283), "{sizes:?}");
        // Stable: the assignment is a fixed function of the name.
        assert!(Shard::new(3, 5).unwrap().takes("class0/img_000000.jpg") == shards[3].takes("class0/img_000000.jpg"));
    }

    #[test]
    fn listing_is_sorted_folder_by_folder_lazy_and_sharded_by_the_name_below_the_input() {
        let t = tempfile::tempdir().unwrap();
        for f in ["b/2.png", "b/10.png", "a/z.jpg", "a/notes.txt", "c.png"] {
            let p = t.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"x").unwrap();
        }
        let rel = |items: Vec<Listed>| -> Vec<String> {
            items.into_iter().map(|i| i.unwrap().strip_prefix(t.path()).unwrap().display().to_string()).collect()
        };
        let all = rel(InputFiles::new(&[t.path().to_path_buf()], None).collect());
        assert_eq!(all, ["a/z.jpg", "b/10.png", "b/2.png", "c.png"]);
        let mut union = vec![];
        for i in 0..3 {
            let shard = Shard::new(i, 3).unwrap();
            let mut files = InputFiles::new(&[t.path().to_path_buf()], Some(shard));
            let taken = rel(files.by_ref().collect());
            assert_eq!(files.found(), 4);
            assert!(taken.iter().all(|n| shard.takes(n)), "{taken:?}");
            union.extend(taken);
        }
        union.sort();
        assert_eq!(union, all);
        let missing = t.path().join("nope");
        let listed: Vec<Listed> = InputFiles::new(&[missing], None).collect();
        assert!(matches!(&listed[..], [Err(s)] if s.reason == "no such file"));
    }
}
