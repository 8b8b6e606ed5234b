//! Where `predict`'s rows go and how a stopped run continues: text, CSV or JSON Lines written
//! row by row (to standard output, or appended to the `--skip-done` file), and the files that
//! file already answers.
//!
//! A run killed with `kill -9` leaves its file ending in the middle of a row at worst: the
//! rows are flushed one by one, so only the last line can be cut short, and `--skip-done`
//! cuts it off before appending. The files already answered are kept as 64-bit hashes of
//! their names (8 bytes a file: 8 MB for a million).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use imgclass::bundle::Bundle;
use imgclass::data::targets::TaskKind;
use imgclass::infer::{Answer, FilePrediction};

/// The row formats that stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Csv,
    Jsonl,
}

/// A 64-bit FNV-1a hash of a file's name as a row writes it.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3))
}

/// The rows' header (CSV): `file` then the task's columns.
pub fn csv_header(bundle: &Bundle, top_k: usize) -> Vec<String> {
    let names = bundle.meta().labels();
    let columns: Vec<String> = match bundle.meta().task().kind() {
        TaskKind::SingleLabel => {
            let k = top_k.min(names.len());
            (1..=k).flat_map(|i| [format!("label_{i}"), format!("probability_{i}")]).collect()
        }
        TaskKind::MultiLabel => std::iter::once("labels".to_string()).chain(names.iter().cloned()).collect(),
        TaskKind::Count if names.len() == 1 => vec![names[0].clone(), "expected".into()],
        _ => names.to_vec(),
    };
    std::iter::once("file".to_string()).chain(columns).collect()
}

/// One answer's CSV cells after `file`: the top classes with their probabilities, the labels
/// predicted and one probability per label, or the numbers (a count and its expected value).
pub fn csv_cells(names: &[String], answer: &Answer) -> Vec<String> {
    match answer {
        Answer::Top { top } => top.iter().flat_map(|t| [t.label.clone(), format!("{:.6}", t.probability)]).collect(),
        Answer::Labels { labels, all } => {
            let said: Vec<&str> = labels.iter().map(|l| l.label.as_str()).collect();
            let every = all.as_deref().unwrap_or(labels);
            let probability = |name: &String| {
                every.iter().find(|l| &l.label == name).map_or(String::new(), |l| format!("{:.6}", l.probability))
            };
            std::iter::once(said.join(" ")).chain(names.iter().map(probability)).collect()
        }
        Answer::Value { value } => vec![format!("{value:.6}")],
        Answer::Values { values } => values.iter().map(|(_, v)| format!("{v:.6}")).collect(),
        Answer::Count { value, rate } => vec![value.to_string(), format!("{rate:.6}")],
    }
}

/// Writes rows as they come, each flushed.
pub struct Rows {
    out: Box<dyn Write>,
    format: Format,
    names: Vec<String>,
    text: fn(&Answer) -> String,
}

impl Rows {
    /// Rows of `format` to `out`, the CSV header first unless `headed` (a file that has it).
    pub fn new(
        out: Box<dyn Write>,
        format: Format,
        bundle: &Bundle,
        top_k: usize,
        headed: bool,
        text: fn(&Answer) -> String,
    ) -> Result<Rows> {
        let mut rows = Rows { out, format, names: bundle.meta().labels().to_vec(), text };
        if format == Format::Csv && !headed {
            rows.csv_line(&csv_header(bundle, top_k))?;
        }
        Ok(rows)
    }

    fn csv_line(&mut self, cells: &[String]) -> std::io::Result<()> {
        let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(&mut self.out);
        w.write_record(cells)?;
        w.flush()
    }

    /// Writes one answer and flushes it. The error is the output's own (a closed pipe stays
    /// a `BrokenPipe`, which `main` treats as the reader having had enough).
    pub fn write(&mut self, p: &FilePrediction) -> std::io::Result<()> {
        match self.format {
            Format::Csv => {
                let cells: Vec<String> =
                    std::iter::once(p.file.clone()).chain(csv_cells(&self.names, &p.answer)).collect();
                self.csv_line(&cells)?;
            }
            Format::Jsonl => writeln!(self.out, "{}", serde_json::to_string(p)?)?,
            Format::Text => writeln!(self.out, "{}: {}", crate::show::esc(&p.file), (self.text)(&p.answer))?,
        }
        self.out.flush()
    }
}

/// What a `--skip-done` file already holds.
pub struct Done {
    /// Hashes of the files answered.
    pub files: HashSet<u64>,
    /// The file has its CSV header (or, for JSON Lines, any row).
    pub headed: bool,
}

impl Done {
    /// Whether the file named `name` was answered.
    pub fn has(&self, name: &str) -> bool {
        self.files.contains(&name_hash(name))
    }
}

/// Cuts `path` after its last line break (a row cut short by a kill), then reads the names
/// of the files its rows answer. The CSV header must be `header`: another model's or
/// options' output is not continued.
pub fn read_done(path: &Path, format: Format, header: &[String]) -> Result<Done> {
    let mut done = Done { files: HashSet::new(), headed: false };
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(done),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot open it to continue", path.display())),
    };
    cut_partial_line(&mut file).with_context(|| format!("{}: cannot cut its last, partial line", path.display()))?;
    file.seek(SeekFrom::Start(0))?;
    let reader = BufReader::new(file);
    if format == Format::Jsonl {
        for (i, line) in reader.lines().enumerate() {
            let line = line?;
            let row: serde_json::Value = serde_json::from_str(&line)
                .with_context(|| format!("{}:{}: not a JSON line of predict --jsonl", path.display(), i + 1))?;
            let Some(name) = row["file"].as_str() else {
                bail!("{}:{}: the row has no \"file\"", path.display(), i + 1);
            };
            done.files.insert(name_hash(name));
            done.headed = true;
        }
        return Ok(done);
    }
    let mut csv = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(reader);
    for (i, record) in csv.records().enumerate() {
        let record = record.with_context(|| format!("{}: not predict's CSV", path.display()))?;
        if i == 0 {
            if record.iter().ne(header.iter().map(String::as_str)) {
                let found: Vec<&str> = record.iter().collect();
                bail!(
                    "{}: its header ({}) is not this model's with these options ({}); give another file to --skip-done",
                    path.display(),
                    found.join(","),
                    header.join(",")
                );
            }
            done.headed = true;
        } else if let Some(name) = record.get(0) {
            done.files.insert(name_hash(name));
        }
    }
    Ok(done)
}

/// Truncates `file` after its last `\n` when it does not end with one.
fn cut_partial_line(file: &mut File) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    let mut end = len;
    let mut buf = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let part = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(part)?;
        if let Some(i) = part.iter().rposition(|&b| b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep < len {
                file.set_len(keep)?;
            }
            return Ok(());
        }
        end = start;
    }
    file.set_len(0)
}

/// The file to append rows to.
pub fn append(path: &Path) -> Result<Box<dyn Write>> {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("{}: cannot open it to append predictions", path.display()))?;
    Ok(Box::new(std::io::BufWriter::new(f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_last_line_is_cut_and_a_whole_file_is_kept() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("out.csv");
        for (before, after) in [
            ("file,a\nx.png,1\ny.pn", "file,a\nx.png,1\n"),
            ("file,a\nx.png,1\n", "file,a\nx.png,1\n"),
            ("file,a", ""),
            ("", ""),
        ] {
            std::fs::write(&p, before).unwrap();
            let mut f = OpenOptions::new().read(true).write(true).open(&p).unwrap();
            cut_partial_line(&mut f).unwrap();
            assert_eq!(std::fs::read_to_string(&p).unwrap(), after, "{before:?}");
        }
    }

    #[test]
    fn another_header_is_refused_and_rows_are_found_by_name() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("out.csv");
        let header = ["file".to_string(), "label_1".into(), "probability_1".into()];
        std::fs::write(&p, "file,label_1,probability_1\n\"a,b.png\",cat,0.9\nc.png,dog,0.8\nd.p").unwrap();
        let done = read_done(&p, Format::Csv, &header).unwrap();
        assert!(done.headed && done.has("a,b.png") && done.has("c.png") && !done.has("d.png"));
        assert_eq!(done.files.len(), 2);
        let e = read_done(&p, Format::Csv, &header[..2]).err().unwrap().to_string();
        assert!(e.contains("is not this model's"), "{e}");
        let missing = read_done(&t.path().join("new.csv"), Format::Csv, &header).unwrap();
        assert!(!missing.headed && missing.files.is_empty());
    }
}
