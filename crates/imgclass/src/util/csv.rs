//! The one CSV writer of the library: every CSV file imgclass writes (metrics, confusion
//! matrices, losses, clean.csv, relabelled label rows) goes through the `csv` crate, so that
//! what it writes the `csv` reader reads back, whatever a class or file name holds.

/// The CSV text of `rows` (the header first, if any): RFC 4180 quoting, `\n` line ends.
pub(crate) fn csv_text<R, F>(rows: impl IntoIterator<Item = R>) -> String
where
    R: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let mut w =
        csv::WriterBuilder::new().flexible(true).terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    for row in rows {
        // Writing into memory cannot fail: the csv crate's errors are I/O errors and, with
        // `flexible`, no record length is checked.
        let _ = w.write_record(row);
    }
    String::from_utf8_lossy(&w.into_inner().unwrap_or_default()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_quotes_and_line_breaks_are_quoted_and_read_back() {
        let rows = vec![vec!["file", "label"], vec!["a, \"b\"\nc.png", "cat"]];
        let text = csv_text(rows.clone());
        assert_eq!(text, "file,label\n\"a, \"\"b\"\"\nc.png\",cat\n");
        let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
        let back: Vec<Vec<String>> = r.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect();
        assert_eq!(back, rows);
    }
}
