//! Projects on disk, the layout `imgclass train` reads: `ROOT/PROJECT/data/CLASS/IMAGE` for
//! the images (one folder per class) and `ROOT/PROJECT/runs/RUN/` for what training writes.
//! Every image is decoded before it is kept, so a project holds only images the library can
//! read; every file is written to a temporary name beside its place and renamed there without
//! overwriting, so a file is either whole or absent, even after `kill -9`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::names::{Root, check_name, upload_name};

/// The folder of a project's images, one folder per class.
pub const DATA: &str = "data";
/// The folder of a project's training runs.
pub const RUNS: &str = "runs";
/// File names listed per class in a project's view (the page's thumbnails).
const SAMPLES: usize = 12;

/// One file sent by the client: the path it gave (a folder upload gives `folder/sub/name`) and its bytes.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The path or name the client sent.
    pub name: String,
    /// The file's content.
    pub bytes: Vec<u8>,
}

/// A project in the list.
#[derive(Debug, Serialize)]
pub struct ProjectSummary {
    /// Its name (its folder's).
    pub name: String,
    /// Class folders.
    pub classes: usize,
    /// Images, all classes together.
    pub images: usize,
    /// Run folders.
    pub runs: usize,
}

/// A class of a project.
#[derive(Debug, Serialize)]
pub struct ClassView {
    /// Its name (its folder's).
    pub name: String,
    /// Its images.
    pub count: usize,
    /// The first few image file names, sorted.
    pub samples: Vec<String>,
}

/// A project with its classes and runs.
#[derive(Debug, Serialize)]
pub struct ProjectView {
    /// Its name.
    pub name: String,
    /// Its classes, sorted by name.
    pub classes: Vec<ClassView>,
    /// Its run folders, sorted by name.
    pub runs: Vec<String>,
}

/// What happened to the files of an upload.
#[derive(Debug, Default, Serialize)]
pub struct AddReport {
    /// `class/file` for each image kept.
    pub added: Vec<String>,
    /// Files whose identical copy was there already under the same name.
    pub unchanged: Vec<String>,
    /// Files not kept, and why.
    pub rejected: Vec<Rejected>,
}

/// A file not kept.
#[derive(Debug, Serialize)]
pub struct Rejected {
    /// The name the client sent.
    pub file: String,
    /// Why.
    pub reason: String,
}

/// Sorted names of the entries of `dir` that are not hidden, not links, and real folders
/// (`folders`) or regular files.
fn entries(dir: &Path, folders: bool) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| if folders { t.is_dir() } else { t.is_file() }))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// Sorted names of the entries of `dir` that are real folders (not links) and not hidden.
fn sub_dirs(dir: &Path) -> Vec<String> {
    entries(dir, true)
}

/// Sorted names of the image files (by extension, not links) of `dir`.
pub fn image_files(dir: &Path) -> Vec<String> {
    entries(dir, false).into_iter().filter(|n| is_image_name(n)).collect()
}

fn is_image_name(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| imgclass::data::IMAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

impl Root {
    /// A project's folder, which must exist.
    pub fn project_dir(&self, project: &str) -> ApiResult<PathBuf> {
        self.existing_dir(Path::new(check_name("project", project)?), "project")
    }

    /// A class's folder, which must exist.
    pub fn class_dir(&self, project: &str, class: &str) -> ApiResult<PathBuf> {
        self.project_dir(project)?;
        let relative = Path::new(project).join(DATA).join(check_name("class", class)?);
        self.existing_dir(&relative, "class")
    }

    /// A run folder of a project, which must exist.
    pub fn run_dir(&self, project: &str, run: &str) -> ApiResult<PathBuf> {
        let relative = Path::new(check_name("project", project)?).join(RUNS).join(check_name("run", run)?);
        self.existing_dir(&relative, "run")
    }

    /// Every project, sorted by name.
    pub fn projects(&self) -> Vec<ProjectSummary> {
        sub_dirs(self.path())
            .into_iter()
            .filter_map(|name| self.project(&name).ok())
            .map(|p| ProjectSummary {
                classes: p.classes.len(),
                images: p.classes.iter().map(|c| c.count).sum(),
                runs: p.runs.len(),
                name: p.name,
            })
            .collect()
    }

    /// One project with its classes and runs.
    pub fn project(&self, name: &str) -> ApiResult<ProjectView> {
        let dir = self.project_dir(name)?;
        let classes = sub_dirs(&dir.join(DATA))
            .into_iter()
            .filter_map(|class| {
                let files = image_files(&self.class_dir(name, &class).ok()?);
                Some(ClassView { name: class, count: files.len(), samples: files.into_iter().take(SAMPLES).collect() })
            })
            .collect();
        Ok(ProjectView { name: name.to_string(), classes, runs: sub_dirs(&dir.join(RUNS)) })
    }

    /// Creates an empty project (409 when it exists).
    pub fn create_project(&self, name: &str) -> ApiResult<ProjectView> {
        let dir = self.path().join(check_name("project", name)?);
        create_new_dir(&dir, &format!("project {name:?}"))?;
        for sub in [DATA, RUNS] {
            std::fs::create_dir(dir.join(sub)).map_err(|e| ApiError::internal(format!("creating {sub}"), e))?;
        }
        self.project(name)
    }

    /// Creates an empty class in a project (409 when it exists).
    pub fn create_class(&self, project: &str, class: &str) -> ApiResult<ClassView> {
        let data = self.project_dir(project)?.join(DATA);
        std::fs::create_dir_all(&data).map_err(|e| ApiError::internal("creating data", e))?;
        create_new_dir(&data.join(check_name("class", class)?), &format!("class {class:?}"))?;
        Ok(ClassView { name: class.to_string(), count: 0, samples: Vec::new() })
    }

    /// Keeps each decodable image of `files` in the class, created when missing (and not
    /// created when no file is an image).
    pub fn add_images(&self, project: &str, class: &str, files: Vec<Upload>, max_pixels: u64) -> ApiResult<AddReport> {
        let mut report = AddReport::default();
        let mut images = Vec::new();
        for file in files {
            let name = upload_name(&file.name)?;
            match imgclass::data::decode_image(&file.bytes, Path::new(&file.name), max_pixels) {
                Ok(_) => images.push((with_image_extension(&name, &file.bytes), file)),
                Err(e) => report.rejected.push(Rejected { file: file.name, reason: crate::error::chain(&e) }),
            }
        }
        if images.is_empty() {
            return Ok(report);
        }
        let dir = match self.class_dir(project, class) {
            Ok(dir) => dir,
            Err(ApiError::NotFound(_)) => {
                self.create_class(project, class)?;
                self.class_dir(project, class)?
            }
            Err(e) => return Err(e),
        };
        for (name, file) in images {
            keep_image(&dir, class, &name, file, &mut report)?;
        }
        Ok(report)
    }

    /// Keeps each image of `files` in the class its folder names: `photos/cat/1.jpg` goes
    /// to class `cat` (created when missing). A file outside any folder is rejected.
    pub fn import(&self, project: &str, files: Vec<Upload>, max_pixels: u64) -> ApiResult<AddReport> {
        let mut report = AddReport::default();
        let mut by_class: std::collections::BTreeMap<String, Vec<Upload>> = Default::default();
        for file in files {
            match class_of(&file.name) {
                Ok(class) => by_class.entry(class).or_default().push(file),
                Err(reason) => report.rejected.push(Rejected { file: file.name, reason }),
            }
        }
        for (class, files) in by_class {
            let part = self.add_images(project, &class, files, max_pixels)?;
            report.added.extend(part.added);
            report.unchanged.extend(part.unchanged);
            report.rejected.extend(part.rejected);
        }
        Ok(report)
    }
}

/// The class a file of an imported folder belongs to: the folder it is directly in.
fn class_of(sent: &str) -> Result<String, String> {
    let normalized = sent.replace('\\', "/");
    let mut parts: Vec<&str> = normalized.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    parts.pop();
    let class = parts.pop().ok_or("not inside a class folder (import folders named after their class)")?;
    check_name("class", class).map(str::to_string).map_err(|e| e.to_string())
}

/// Creates `dir`, a 409 naming `what` when it exists.
fn create_new_dir(dir: &Path, what: &str) -> ApiResult<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(ApiError::Conflict(format!("{what} exists already")))
        }
        Err(e) => Err(ApiError::internal(format!("creating {what}"), e)),
    }
}

/// Writes the image `file` into `dir` as `name` (or the first free `name-2.ext`,
/// `name-3.ext`, … when another file has that name).
fn keep_image(dir: &Path, class: &str, name: &str, file: Upload, report: &mut AddReport) -> ApiResult<()> {
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, "png"));
    for n in 1..=1000 {
        let candidate = if n == 1 { name.to_string() } else { format!("{stem}-{n}.{ext}") };
        let target = dir.join(&candidate);
        if std::fs::read(&target).is_ok_and(|old| old == file.bytes) {
            report.unchanged.push(format!("{class}/{candidate}"));
            return Ok(());
        }
        if write_new(dir, &target, &file.bytes)? {
            report.added.push(format!("{class}/{candidate}"));
            return Ok(());
        }
    }
    report.rejected.push(Rejected { file: file.name, reason: "1,000 files of that name are there already".into() });
    Ok(())
}

/// `name` with an image extension: its own when it has one, else the content's format's.
fn with_image_extension(name: &str, bytes: &[u8]) -> String {
    if is_image_name(name) {
        return name.to_string();
    }
    let ext = image::guess_format(bytes).ok().and_then(|f| f.extensions_str().first().copied()).unwrap_or("png");
    format!("{name}.{ext}")
}

/// A hidden temporary file in `dir` holding `bytes`, synced: renamed into place, it is whole.
pub(crate) fn written_temp(dir: &Path, bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    let mut tmp = tempfile::Builder::new().prefix(".partial-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

/// Writes `bytes` to `target` through a temporary file in `dir`; false when `target` exists.
fn write_new(dir: &Path, target: &Path, bytes: &[u8]) -> ApiResult<bool> {
    let failed = |e: std::io::Error| ApiError::internal(format!("writing {}", target.display()), e);
    match written_temp(dir, bytes).map_err(failed)?.persist_noclobber(target) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(failed(e.error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(shade: u8) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        image::GrayImage::from_pixel(4, 4, image::Luma([shade])).write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn upload(name: &str, bytes: Vec<u8>) -> Upload {
        Upload { name: name.into(), bytes }
    }

    #[test]
    fn images_are_kept_renamed_on_collision_and_not_kept_twice() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::open(t.path()).unwrap();
        root.create_project("p").unwrap();
        let files = vec![
            upload("a.png", png(1)),
            upload("x/a.png", png(2)),
            upload("a.png", png(1)),
            upload("b.txt", b"hi".to_vec()),
        ];
        let r = root.add_images("p", "cat", files, 1000).unwrap();
        assert_eq!(r.added, ["cat/a.png", "cat/a-2.png"]);
        assert_eq!(r.unchanged, ["cat/a.png"]);
        assert_eq!(r.rejected.len(), 1);
        assert!(r.rejected[0].reason.contains("b.txt"), "{}", r.rejected[0].reason);
        let view = root.project("p").unwrap();
        assert_eq!(view.classes[0].count, 2);
        assert!(
            std::fs::read_dir(t.path().join("p/data/cat")).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.'))
        );
    }

    #[test]
    fn an_image_without_an_extension_gets_its_formats() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::open(t.path()).unwrap();
        root.create_project("p").unwrap();
        let r = root.add_images("p", "dog", vec![upload("webcam", png(3))], 1000).unwrap();
        assert_eq!(r.added, ["dog/webcam.png"]);
    }

    #[test]
    fn an_image_declaring_too_many_pixels_is_rejected() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::open(t.path()).unwrap();
        root.create_project("p").unwrap();
        let r = root.add_images("p", "dog", vec![upload("big.png", png(3))], 15).unwrap();
        assert!(r.added.is_empty() && r.rejected[0].reason.contains("pixels"), "{:?}", r.rejected);
    }

    #[test]
    fn an_imported_folder_gives_each_file_the_class_of_its_folder() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::open(t.path()).unwrap();
        root.create_project("p").unwrap();
        let files =
            vec![upload("photos/cat/1.png", png(1)), upload("photos/dog/1.png", png(2)), upload("loose.png", png(3))];
        let r = root.import("p", files, 1000).unwrap();
        assert_eq!(r.added, ["cat/1.png", "dog/1.png"]);
        assert_eq!(r.rejected[0].file, "loose.png");
        let names: Vec<String> = root.project("p").unwrap().classes.into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["cat", "dog"]);
    }

    #[test]
    fn a_second_project_of_the_same_name_is_a_conflict() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::open(t.path()).unwrap();
        root.create_project("p").unwrap();
        assert_eq!(root.create_project("p").unwrap_err().status(), axum::http::StatusCode::CONFLICT);
        assert_eq!(root.projects().len(), 1);
    }
}
