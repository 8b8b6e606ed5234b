//! The models predictions use: the one `--model` names, loaded at start, and each project
//! run's `model.imgclass`, loaded when first asked for and again when its file changes (a run
//! trained or resumed since). Loaded bundles are shared by concurrent requests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use imgclass::bundle::Bundle;

use crate::error::{ApiError, ApiResult};
use crate::names::Root;
use crate::store::RUNS;

/// The file a training run writes its final model to.
pub const MODEL_FILE: &str = "model.imgclass";

/// Loaded models.
pub struct Models {
    default: Option<Arc<Bundle>>,
    cache: Mutex<HashMap<PathBuf, (SystemTime, Arc<Bundle>)>>,
    max_pixels: u64,
}

impl Models {
    /// The `--model` bundle (if any) as the default; images declaring more than `max_pixels`
    /// pixels are refused by every model.
    pub fn new(default: Option<Bundle>, max_pixels: u64) -> Models {
        let default = default.map(|b| Arc::new(b.with_max_pixels(max_pixels)));
        Models { default, cache: Mutex::new(HashMap::new()), max_pixels }
    }

    /// The default model, if the server was started with one.
    pub fn default_model(&self) -> Option<&Arc<Bundle>> {
        self.default.as_ref()
    }

    /// The model a request names: a project's run (the newest run with a model when `run` is
    /// `None`), or the default model when no project is named.
    pub fn get(&self, root: &Root, project: Option<&str>, run: Option<&str>) -> ApiResult<Arc<Bundle>> {
        let Some(project) = project else {
            if run.is_some() {
                return Err(ApiError::BadRequest("`run` needs `project`".into()));
            }
            return self.default.clone().ok_or_else(|| {
                ApiError::Unprocessable(
                    "the server has no default model; name a project (and run), or start it with --model".into(),
                )
            });
        };
        let path = match run {
            Some(run) => root
                .existing_file(&root.run_dir(project, run)?, MODEL_FILE)
                .map_err(|_| ApiError::NotFound(format!("run {run:?} of {project:?} has no model yet")))?,
            None => newest_model(root, project)?,
        };
        self.load(&path)
    }

    /// The bundle at `path`, from the cache unless the file changed since it was loaded.
    fn load(&self, path: &Path) -> ApiResult<Arc<Bundle>> {
        let modified =
            std::fs::metadata(path).and_then(|m| m.modified()).map_err(|e| ApiError::internal("reading a model", e))?;
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((when, bundle)) = cache.get(path)
            && *when == modified
        {
            return Ok(bundle.clone());
        }
        let bundle = Arc::new(Bundle::load(path, &imgclass::default_device())?.with_max_pixels(self.max_pixels));
        cache.insert(path.to_path_buf(), (modified, bundle.clone()));
        Ok(bundle)
    }
}

/// The newest `model.imgclass` among a project's runs.
pub fn newest_model(root: &Root, project: &str) -> ApiResult<PathBuf> {
    let runs = root.project_dir(project)?.join(RUNS);
    let newest = std::fs::read_dir(&runs)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path().join(MODEL_FILE))
        .filter_map(|p| {
            let m = std::fs::symlink_metadata(&p).ok().filter(|m| m.is_file())?;
            Some((m.modified().ok()?, p))
        })
        .max();
    newest
        .map(|(_, p)| p)
        .ok_or_else(|| ApiError::NotFound(format!("project {project:?} has no trained model yet; train it first")))
}
