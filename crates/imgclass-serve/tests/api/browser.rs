//! The page in a real browser: Debian's chromium, headless, driven by Playwright for Python
//! (pip-installed into the cache when this Python lacks it; it downloads no browser). Skipped
//! with the reason where chromium or Playwright cannot be had, unless IMGCLASS_REQUIRE_NETWORK
//! is set (as in CI), where that fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// A PYTHONPATH under which `import playwright` works (`None`: this Python has it already).
fn python_with_playwright() -> Result<Option<PathBuf>, String> {
    let has = |path: Option<&Path>| {
        let mut c = Command::new("python3");
        c.args(["-c", "import playwright.sync_api"]);
        if let Some(p) = path {
            c.env("PYTHONPATH", p);
        }
        c.output().is_ok_and(|o| o.status.success())
    };
    if has(None) {
        return Ok(None);
    }
    let target = imgclass::models::pretrained::cache_dir().join("python-playwright");
    if has(Some(&target)) {
        return Ok(Some(target));
    }
    let out = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--target"])
        .arg(&target)
        .arg("playwright")
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !out.status.success() || !has(Some(&target)) {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("pip could not install playwright: {}", err.lines().last().unwrap_or("")));
    }
    Ok(Some(target))
}

fn skip_or_fail(why: String) {
    if std::env::var_os("IMGCLASS_REQUIRE_NETWORK").is_some() {
        panic!("{why} (IMGCLASS_REQUIRE_NETWORK is set)");
    }
    eprintln!("skipped the browser test: {why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_makes_a_project_imports_a_folder_trains_and_predicts_in_chromium() {
    if !Path::new("/usr/bin/chromium").exists() {
        return skip_or_fail("no /usr/bin/chromium (apt-get install chromium)".into());
    }
    let python_path = match tokio::task::spawn_blocking(python_with_playwright).await.unwrap() {
        Ok(p) => p,
        Err(why) => return skip_or_fail(why),
    };
    let s = Server::new(|c| c.port = 0);
    let listener = imgclass_serve::bind(&s.state).await.unwrap();
    let url = imgclass_serve::url(&listener);
    tokio::spawn(imgclass_serve::run(listener, s.state.clone()));
    let shots =
        std::env::var_os("IMGCLASS_SCREENSHOTS").map(PathBuf::from).unwrap_or_else(|| s.dir.path().join("shots"));
    std::fs::create_dir_all(&shots).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/drive.py");
    let mut c = Command::new("python3");
    c.arg(script).arg(&url).arg(samples()).arg(&shots);
    if let Some(p) = python_path {
        c.env("PYTHONPATH", p);
    }
    let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    eprintln!("{text}");
    assert!(shots.join("3-test.png").is_file());
}
