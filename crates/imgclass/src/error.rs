//! The one error type of the library.
//!
//! Every variant that comes from a file names the file, and its message says what the user
//! can do about it. The binary prints the chain with `{:#}`; nothing here panics on bad input.

use std::path::PathBuf;

/// Errors returned by every fallible function of `imgclass`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error while reading or writing `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The data path given on the command line does not exist.
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
    /// An image could not be decoded.
    #[error("{path}: cannot decode image: {message}")]
    Decode {
        /// The image file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// A file is not an imgclass model bundle, or is one this version cannot read.
    #[error("{path}: {message}")]
    BadBundle {
        /// The file that was read.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Loading or saving tensors failed.
    #[error("{path}: weights: {message}")]
    Weights {
        /// The file involved.
        path: PathBuf,
        /// The store's message.
        message: String,
    },
    /// A JSON document could not be read or written.
    #[error("{path}: {source}")]
    Json {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// Evaluating a model on the data it was trained on would report a leaked score.
    #[error("{0}")]
    Leakage(String),
    /// Training diverged (the loss became NaN or infinite).
    #[error("training diverged: {0}")]
    Diverged(String),
}

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
