//! Names from the user's files (class folders, file names, labels) as they are printed to a
//! terminal: a name may hold control characters — an escape sequence that retitles the window
//! (`\e]0;…\a`) or clears the screen (`\e[2J`), a newline that forges an output line — so every
//! control character is printed escaped, as Rust's `escape_debug` writes it (`\u{1b}`, `\n`),
//! while other text, accented or not Latin (é, 日本), is printed as it is.
//!
//! `--json` and `--csv` output is not passed through here: those formats escape by their own
//! rules.

use std::borrow::Cow;
use std::path::Path;

/// `text` with each control character escaped (`\u{1b}`, `\u{7}`, `\n`, `\r`, `\t`).
pub fn esc(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `path` as displayed, with each control character escaped.
pub fn esc_path(path: &Path) -> String {
    esc(&path.display().to_string()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_line_breaks_are_escaped_and_other_text_is_kept() {
        assert_eq!(esc("\u{1b}]0;pwned\u{7}cat"), "\\u{1b}]0;pwned\\u{7}cat");
        assert_eq!(esc("a\u{1b}[2J\nb\r\t"), "a\\u{1b}[2J\\nb\\r\\t");
        assert_eq!(esc("café 日本 🐈"), "café 日本 🐈");
        assert!(matches!(esc("plain"), Cow::Borrowed("plain")));
        assert_eq!(esc_path(Path::new("dogs/\u{1b}[2J.png")), "dogs/\\u{1b}[2J.png");
    }
}
