//! Files that are never left half-written: every write goes to a temporary file in the same
//! folder, is flushed to disk, then renamed over the target. And files that are never read
//! without bound: every read refuses what is not a regular file (a FIFO would block forever,
//! `/dev/zero` would fill memory) and stops at a maximum size for its kind of file.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, IoContext, Result};

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed to disk,
/// then renamed over `path`. An interrupted write never leaves a half-written file at `path`.
pub(crate) fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).at(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Unique per process and per write, so two threads writing the same file do not collide.
    let tmp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), WRITES.fetch_add(1, Ordering::Relaxed)));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.at(path)
}

/// Writes `value` as pretty JSON to `path`, atomically.
pub(crate) fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| Error::Json { path: path.into(), source })?;
    atomic_write(path, &bytes)
}

/// The most bytes read from one kind of file, and that kind's name for error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MaxRead {
    /// Bytes.
    pub(crate) bytes: u64,
    /// The kind of file, as in "the most imgclass reads from {what}".
    pub(crate) what: &'static str,
}

/// Image files: 256 MiB. The largest images imgclass decodes (see `data::decode::MAX_PIXELS`)
/// compress far below this; a bigger file is not a photo.
pub(crate) const MAX_IMAGE: MaxRead = MaxRead { bytes: 256 << 20, what: "an image file" };
/// JSON documents (configs, histories, split records): 64 MiB.
pub(crate) const MAX_JSON: MaxRead = MaxRead { bytes: 64 << 20, what: "a JSON file" };
/// Model bundles, resume checkpoints and pretrained weights: 8 GiB. An EfficientNet-Lite2
/// bundle is about 25 MB and a ResNet-152 checkpoint with its optimizer state under 1 GB.
pub(crate) const MAX_MODEL: MaxRead = MaxRead { bytes: 8 << 30, what: "a model or checkpoint file" };
/// Label CSVs, file lists and `classes.txt`: 1 GiB (tens of millions of rows).
pub(crate) const MAX_TEXT: MaxRead = MaxRead { bytes: 1 << 30, what: "a CSV or list file" };
/// IDX files, compressed or not: 8 GiB (MNIST-style data sets are tens of MB).
pub(crate) const MAX_IDX: MaxRead = MaxRead { bytes: 8 << 30, what: "an IDX file" };

/// Why a file was refused before reading it, or while reading it.
#[derive(Debug, thiserror::Error)]
enum Refused {
    /// A FIFO, a device, a socket or a folder.
    #[error("not a regular file but {0}; imgclass reads only regular files")]
    NotAFile(&'static str),
    /// More bytes than the kind of file may have.
    #[error("larger than {} MiB, the most imgclass reads from {}", .0.bytes >> 20, .0.what)]
    TooLarge(MaxRead),
}

impl From<Refused> for std::io::Error {
    fn from(r: Refused) -> Self {
        let kind = match r {
            Refused::NotAFile(_) => std::io::ErrorKind::InvalidInput,
            Refused::TooLarge(_) => std::io::ErrorKind::FileTooLarge,
        };
        std::io::Error::new(kind, r)
    }
}

/// What a file that is not a regular one is, in words.
fn kind_of(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        // POSIX's names.
        if t.is_char_device() {
            return "a character special file";
        }
        if t.is_block_device() {
            return "a block special file";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() { "a folder" } else { "a special file" }
}

/// Opens `path` for reading if it is a regular file (following links), never blocking: the
/// type is checked before opening (opening a FIFO waits for a writer), the file is opened
/// non-blocking where the platform allows, and the type is checked again on the open handle.
pub(crate) fn open_regular(path: &Path) -> std::io::Result<File> {
    let t = std::fs::metadata(path)?.file_type();
    if !t.is_file() {
        return Err(Refused::NotAFile(kind_of(t)).into());
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path)?;
    let t = file.metadata()?.file_type();
    if !t.is_file() {
        return Err(Refused::NotAFile(kind_of(t)).into());
    }
    Ok(file)
}

/// The bytes of the regular file at `path`, refusing one larger than `max`.
pub(crate) fn read_bounded(path: &Path, max: MaxRead) -> std::io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let len = file.metadata()?.len();
    if len > max.bytes {
        return Err(Refused::TooLarge(max).into());
    }
    // The file may grow while it is read: read one byte past the maximum to notice.
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max.bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max.bytes {
        return Err(Refused::TooLarge(max).into());
    }
    Ok(bytes)
}

/// [`read_bounded`], its error naming the file.
pub(crate) fn read_file(path: &Path, max: MaxRead) -> Result<Vec<u8>> {
    read_bounded(path, max).at(path)
}

/// The regular file at `path` as UTF-8 text, at most `max` bytes.
pub(crate) fn read_text(path: &Path, max: MaxRead) -> Result<String> {
    let bytes = read_file(path, max)?;
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)).at(path)
}

/// Errors unless `path` is a regular file of at most `max` bytes (for files a library reads
/// by itself, such as PyTorch checkpoints).
pub(crate) fn check_regular(path: &Path, max: MaxRead) -> Result<()> {
    let len = open_regular(path).and_then(|f| f.metadata()).at(path)?.len();
    if len > max.bytes {
        return Err(std::io::Error::from(Refused::TooLarge(max))).at(path);
    }
    Ok(())
}

/// Reads the JSON document at `path`.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = read_file(path, MAX_JSON)?;
    serde_json::from_slice(&bytes).map_err(|source| Error::Json { path: path.into(), source })
}

/// Makes a FIFO at `path`, for tests of what reading one does.
#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
pub(crate) fn make_fifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::chain;

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temporary_behind() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("m.bin");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_json_file_round_trips_and_a_broken_one_names_the_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("v.json");
        write_json(&p, &vec![1, 2, 3]).unwrap();
        assert_eq!(read_json::<Vec<u32>>(&p).unwrap(), vec![1, 2, 3]);
        std::fs::write(&p, "[1, 2").unwrap();
        let e = chain(&read_json::<Vec<u32>>(&p).unwrap_err());
        assert!(e.contains("v.json"), "{e}");
    }

    #[test]
    fn a_file_over_its_maximum_is_refused_naming_the_file_and_the_limit() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("big.csv");
        std::fs::write(&p, vec![b'x'; (1 << 20) + 1]).unwrap();
        let e = chain(&read_file(&p, MaxRead { bytes: 1 << 20, what: "a CSV" }).unwrap_err());
        assert!(e.contains("big.csv") && e.contains("larger than 1 MiB") && e.contains("a CSV"), "{e}");
        assert_eq!(read_file(&p, MAX_TEXT).unwrap().len(), (1 << 20) + 1);
    }

    #[test]
    fn a_folder_is_refused_as_not_a_regular_file() {
        let t = tempfile::tempdir().unwrap();
        let e = chain(&read_file(t.path(), MAX_JSON).unwrap_err());
        assert!(e.contains("not a regular file but a folder"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn dev_zero_is_refused_at_once_as_a_device() {
        let e = chain(&read_file(Path::new("/dev/zero"), MAX_MODEL).unwrap_err());
        assert!(e.starts_with("/dev/zero: not a regular file but a character special file"), "{e}");
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_fifo_is_refused_naming_the_file_without_waiting_for_a_writer() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("pipe.json");
        crate::util::fs::make_fifo(&p);
        let e = chain(&read_json::<Vec<u32>>(&p).unwrap_err());
        assert!(e.contains("pipe.json") && e.contains("not a regular file but a FIFO"), "{e}");
    }
}
