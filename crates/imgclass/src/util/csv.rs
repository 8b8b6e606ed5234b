//! The one CSV writer of the library: every CSV file imgclass writes (metrics, confusion
//! matrices, losses, clean.csv, relabelled label rows) goes through the `csv` crate, so that
//! what it writes the `csv` reader reads back, whatever a class or file name holds.

/// The CSV text of `header` then `rows`: RFC 4180 quoting, `\n` line ends.
pub(crate) fn csv_table<R, F>(header: &[&str], rows: impl IntoIterator<Item = R>) -> String
where
    R: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let mut w = writer();
    // Writing into memory cannot fail: the csv crate's errors are I/O errors and, with
    // `flexible`, no record length is checked.
    let _ = w.write_record(header);
    for row in rows {
        let _ = w.write_record(row);
    }
    text(w)
}

/// The CSV text of `rows` alone (no header), as [`csv_table`] writes them.
pub(crate) fn csv_records<R, F>(rows: impl IntoIterator<Item = R>) -> String
where
    R: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let mut w = writer();
    for row in rows {
        let _ = w.write_record(row);
    }
    text(w)
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().flexible(true).terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new())
}

fn text(w: csv::Writer<Vec<u8>>) -> String {
    String::from_utf8_lossy(&w.into_inner().unwrap_or_default()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_quotes_and_line_breaks_are_quoted_and_read_back() {
        let rows = vec![vec!["file", "label"], vec!["a, \"b\"\nc.png", "cat"]];
        let text = csv_table(&rows[0], &rows[1..]);
        assert_eq!(csv_records(&rows), text);
        assert_eq!(text, "file,label\n\"a, \"\"b\"\"\nc.png\",cat\n");
        let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
        let back: Vec<Vec<String>> = r.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect();
        assert_eq!(back, rows);
    }
}
