//! Files sent by the page: a multipart form's file fields, and the images inside zips.
//!
//! A zip is opened in memory (the body limit bounds it) and held to [`Limits`]: at most
//! `zip_entries` entries, and at most `zip_bytes` inflated bytes, counted while inflating (a
//! zip's declared sizes are not trusted). An entry whose path leaves the zip's folder
//! (`../x.jpg`, `/etc/x`: "zip slip") makes the whole request a 400, before anything is kept.
//! Folders, hidden files and macOS's `__MACOSX` copies are passed over.

use std::io::{Cursor, Read};

use axum::extract::Multipart;

use crate::config::Limits;
use crate::error::{ApiError, ApiResult};
use crate::store::Upload;

/// The files of a multipart form (every field with a file name), in order.
pub async fn form_files(mut form: Multipart) -> ApiResult<Vec<Upload>> {
    let mut files = Vec::new();
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        let Some(name) = field.file_name().map(str::to_string) else { continue };
        let bytes = field.bytes().await.map_err(multipart_error)?;
        files.push(Upload { name, bytes: bytes.to_vec() });
    }
    if files.is_empty() {
        return Err(ApiError::BadRequest(
            "the form has no file; send images in multipart fields with a file name".into(),
        ));
    }
    Ok(files)
}

/// A multipart error: a body over the limit is a 413 (whichever layer counted it), anything else a 400.
fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut over_limit = e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE;
    while let Some(c) = cause {
        over_limit |= c.is::<http_body_util::LengthLimitError>();
        cause = c.source();
    }
    if over_limit {
        ApiError::TooLarge(format!("{}; the page sends large folders in several requests", e.body_text()))
    } else {
        ApiError::BadRequest(format!("malformed upload: {}", e.body_text()))
    }
}

/// Whether `file` is a zip (by its content, or its name when it is too short to tell).
fn is_zip(file: &Upload) -> bool {
    file.bytes.starts_with(b"PK\x03\x04")
        || file.bytes.starts_with(b"PK\x05\x06")
        || file.name.to_ascii_lowercase().ends_with(".zip")
}

/// `files` with every zip replaced by the files inside it, each named by its path in the zip.
pub fn expand_zips(files: Vec<Upload>, limits: &Limits) -> ApiResult<Vec<Upload>> {
    let mut out = Vec::new();
    let mut inflated = 0u64;
    for file in files {
        if is_zip(&file) {
            unzip(&file, limits, &mut inflated, &mut out)?;
        } else {
            out.push(file);
        }
    }
    Ok(out)
}

/// Appends the files of the zip `file` to `out`, counting inflated bytes in `inflated`.
fn unzip(file: &Upload, limits: &Limits, inflated: &mut u64, out: &mut Vec<Upload>) -> ApiResult<()> {
    let bad = |why: String| ApiError::BadRequest(format!("{}: {why}", file.name));
    let mut archive =
        zip::ZipArchive::new(Cursor::new(&file.bytes[..])).map_err(|e| bad(format!("not a readable zip ({e})")))?;
    if archive.len() > limits.zip_entries {
        return Err(ApiError::TooLarge(format!(
            "{} holds {} entries, over the limit of {}; split it",
            file.name,
            archive.len(),
            limits.zip_entries
        )));
    }
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| bad(format!("entry {i} cannot be read ({e})")))?;
        let raw = entry.name().map_err(|e| bad(format!("entry {i} has no readable name ({e})")))?.replace('\\', "/");
        let climbs = raw.starts_with('/') || raw.split('/').any(|p| p == ".." || p.ends_with(':'));
        let name = match entry.enclosed_name() {
            Some(path) if !climbs => path.to_string_lossy().replace('\\', "/"),
            _ => return Err(bad(format!("entry {raw:?} leaves the zip's folder; nothing was kept"))),
        };
        let hidden = name.split('/').any(|part| part.starts_with('.') || part == "__MACOSX");
        if entry.is_dir() || hidden {
            continue;
        }
        let budget = limits.zip_bytes.saturating_sub(*inflated);
        let mut bytes = Vec::new();
        let read = (&mut entry).take(budget + 1).read_to_end(&mut bytes);
        read.map_err(|e| bad(format!("entry {name:?} cannot be inflated ({e})")))?;
        *inflated += bytes.len() as u64;
        if *inflated > limits.zip_bytes {
            return Err(ApiError::TooLarge(format!(
                "{} inflates to more than {} MB, the limit; split it",
                file.name,
                limits.zip_bytes >> 20
            )));
        }
        out.push(Upload { name, bytes });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A zip of `(name, bytes)` entries, names written as given (even unsafe ones).
    pub(crate) fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            w.start_file(*name, options).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn one(name: &str, bytes: Vec<u8>) -> Vec<Upload> {
        vec![Upload { name: name.into(), bytes }]
    }

    #[test]
    fn a_zips_files_come_out_with_their_paths_and_its_clutter_is_dropped() {
        let z = zip_of(&[
            ("cat/1.png", b"a"),
            ("__MACOSX/cat/._1.png", b"b"),
            ("cat/.DS_Store", b"c"),
            ("dog/2.png", b"d"),
        ]);
        let files = expand_zips(one("pets.zip", z), &Limits::default()).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["cat/1.png", "dog/2.png"]);
        assert_eq!(files[1].bytes, b"d");
    }

    #[test]
    fn a_zip_slip_entry_refuses_the_whole_zip() {
        for evil in ["../evil.png", "a/../../evil.png", "/etc/evil.png"] {
            let z = zip_of(&[("ok.png", b"a"), (evil, b"b")]);
            let e = expand_zips(one("x.zip", z), &Limits::default()).unwrap_err();
            assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST, "{evil}");
            assert!(e.to_string().contains("leaves"), "{e}");
        }
    }

    #[test]
    fn a_zip_bomb_stops_at_the_inflated_limit() {
        let zeros = vec![0u8; 1 << 20];
        let z = zip_of(&[("a.png", &zeros), ("b.png", &zeros)]);
        assert!(z.len() < 10_000, "{}", z.len());
        let limits = Limits { zip_bytes: 1 << 20, ..Limits::default() };
        let e = expand_zips(one("bomb.zip", z), &limits).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE, "{e}");
    }

    #[test]
    fn a_zip_with_too_many_entries_is_refused() {
        let z = zip_of(&[("a.png", b"a"), ("b.png", b"b"), ("c.png", b"c")]);
        let limits = Limits { zip_entries: 2, ..Limits::default() };
        assert_eq!(
            expand_zips(one("x.zip", z), &limits).unwrap_err().status(),
            axum::http::StatusCode::PAYLOAD_TOO_LARGE
        );
    }

    #[test]
    fn a_damaged_zip_is_a_bad_request() {
        let e = expand_zips(one("x.zip", b"PK\x03\x04garbage".to_vec()), &Limits::default()).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST);
    }
}
