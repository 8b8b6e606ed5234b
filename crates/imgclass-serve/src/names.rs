//! Names that become folders and files, and paths that must stay inside the root.
//!
//! A project, class or run name is one path component a person would type: 1–64 characters,
//! no separator, no control character, none of `<>:"|?*` (so that the folder also works on
//! Windows), not starting with a dot or a space. An uploaded file's name is the last component
//! of the path the browser sends (a folder upload sends `folder/sub/file.jpg`); a path that
//! climbs (`..`) or starts at a root is refused, not cleaned. Every folder the server opens
//! is checked to be a real folder under the root's canonical path, so a symbolic link that
//! points out of the root is refused, whoever made it.

use std::path::{Component, Path, PathBuf};

use crate::error::{ApiError, ApiResult};

/// The longest project, class or run name.
pub const MAX_NAME: usize = 64;

/// The longest stored file name (bytes), extension included.
const MAX_FILE_NAME: usize = 120;

/// Characters refused in names besides separators and control characters.
const FORBIDDEN: &[char] = &['<', '>', ':', '"', '|', '?', '*', '/', '\\'];

/// Checks that `name` can be a project's, class's or run's folder name; `what` names it in the error.
pub fn check_name<'a>(what: &str, name: &'a str) -> ApiResult<&'a str> {
    let bad = |why: &str| ApiError::BadRequest(format!("{what} name {name:?} {why}"));
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(bad(&format!("must have 1 to {MAX_NAME} characters")));
    }
    if name.starts_with('.') || name.starts_with(' ') || name.ends_with(' ') || name.ends_with('.') {
        return Err(bad("may not start with a dot or a space, nor end with one"));
    }
    if let Some(c) = name.chars().find(|c| c.is_control() || FORBIDDEN.contains(c)) {
        return Err(bad(&format!("may not contain {c:?}; use letters, digits, spaces, '-', '_' or '.'")));
    }
    Ok(name)
}

/// The file name to store an upload under, from the path the client sent: its last component,
/// with characters a name may not hold replaced by `_`, shortened to a safe length. A path
/// with `..`, a root or a drive is an error.
pub fn upload_name(sent: &str) -> ApiResult<String> {
    let normalized = sent.replace('\\', "/");
    let path = Path::new(&normalized);
    for part in path.components() {
        match part {
            Component::Normal(_) | Component::CurDir => {}
            _ => return Err(ApiError::BadRequest(format!("file name {sent:?} leaves its folder; send plain names"))),
        }
    }
    if normalized.split('/').next().is_some_and(|first| first.ends_with(':')) {
        return Err(ApiError::BadRequest(format!("file name {sent:?} names a drive; send plain names")));
    }
    let base = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let mut name: String =
        base.chars().map(|c| if c.is_control() || FORBIDDEN.contains(&c) { '_' } else { c }).collect();
    name = name.trim_start_matches(['.', ' ']).trim_end().to_string();
    if name.is_empty() {
        name = "image".into();
    }
    Ok(shorten(&name))
}

/// `name` cut to [`MAX_FILE_NAME`] bytes at a character boundary, its extension kept.
fn shorten(name: &str) -> String {
    if name.len() <= MAX_FILE_NAME {
        return name.to_string();
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if e.len() <= 8 => (s, format!(".{e}")),
        _ => (name, String::new()),
    };
    let mut cut = MAX_FILE_NAME - ext.len();
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &stem[..cut])
}

/// The folder everything is kept in, by its canonical path.
#[derive(Debug, Clone)]
pub struct Root {
    path: PathBuf,
}

impl Root {
    /// The root at `path`, created when missing.
    pub fn open(path: &Path) -> std::io::Result<Root> {
        std::fs::create_dir_all(path)?;
        Ok(Root { path: path.canonicalize()? })
    }

    /// The canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `relative` (components already checked by the caller) under the root, if it exists as a
    /// real folder there: no component may be a link, and the result must be inside the root.
    pub fn existing_dir(&self, relative: &Path, what: &str) -> ApiResult<PathBuf> {
        let joined = self.path.join(relative);
        let not_found = || ApiError::NotFound(format!("no {what} {:?}", relative.display().to_string()));
        let canonical = joined.canonicalize().map_err(|_| not_found())?;
        if canonical != joined || !canonical.starts_with(&self.path) {
            return Err(ApiError::Forbidden(format!(
                "{what} {:?} is a link out of the projects' folder",
                relative.display().to_string()
            )));
        }
        if !canonical.is_dir() {
            return Err(not_found());
        }
        Ok(canonical)
    }

    /// A file directly in `dir` (a folder [`Root::existing_dir`] gave), if it is a regular file
    /// and not a link.
    pub fn existing_file(&self, dir: &Path, name: &str) -> ApiResult<PathBuf> {
        let path = dir.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_file() => Ok(path),
            Ok(m) if m.file_type().is_symlink() => Err(ApiError::Forbidden(format!("{name:?} is a link"))),
            _ => Err(ApiError::NotFound(format!("no file {name:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_a_person_would_type_are_accepted() {
        for ok in ["cats", "Santa Claus", "not-santa_2", "été", "v1.2", "猫"] {
            assert_eq!(check_name("class", ok).unwrap(), ok);
        }
    }

    #[test]
    fn names_that_could_escape_or_hide_are_refused() {
        let long = "a".repeat(65);
        for bad in ["", ".", "..", ".hidden", "a/b", "a\\b", "../x", " x", "x ", "x.", "a\0b", "a:b", "a\nb", &long] {
            assert!(check_name("project", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_upload_keeps_its_last_component_and_refuses_climbing() {
        assert_eq!(upload_name("cat.jpg").unwrap(), "cat.jpg");
        assert_eq!(upload_name("photos/cats/cat 1.jpg").unwrap(), "cat 1.jpg");
        assert_eq!(upload_name("photos\\cats\\a.png").unwrap(), "a.png");
        assert_eq!(upload_name(".hidden.png").unwrap(), "hidden.png");
        assert_eq!(upload_name("a:b?.png").unwrap(), "a_b_.png");
        for bad in ["../x.png", "a/../../x.png", "/etc/passwd", "\\\\server\\x.png", "C:\\x.png", "c:/x.png"] {
            assert!(upload_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_long_upload_name_is_cut_at_a_character_and_keeps_its_extension() {
        let name = upload_name(&format!("{}.jpeg", "é".repeat(100))).unwrap();
        assert!(name.len() <= MAX_FILE_NAME && name.ends_with(".jpeg"), "{name}");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_out_of_the_root_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::open(&t.path().join("root")).unwrap();
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.path().join("p")).unwrap();
        let e = root.existing_dir(Path::new("p"), "project").unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::FORBIDDEN);
        std::fs::create_dir(root.path().join("q")).unwrap();
        assert!(root.existing_dir(Path::new("q"), "project").is_ok());
        assert_eq!(
            root.existing_dir(Path::new("nope"), "project").unwrap_err().status(),
            axum::http::StatusCode::NOT_FOUND
        );
    }
}
