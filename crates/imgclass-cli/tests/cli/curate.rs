//! `clean apply` and `clean undo` on the user's files: killed at any moment, nothing is lost.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{bin, ok, run};

/// `n` files in `root/a/` with distinct contents, a clean.csv beside `root` moving every one
/// (even rows to class `b`, odd rows to the trash), and its clean.json.
fn dataset(t: &Path, n: usize) -> (PathBuf, PathBuf) {
    let root = t.join("data");
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::create_dir_all(root.join("b")).unwrap();
    let mut csv = String::from("file,label,suggested,score,issue,other,action\n");
    for i in 0..n {
        let file = root.join("a").join(format!("{i:05}.png"));
        std::fs::write(&file, format!("image {i}")).unwrap();
        let action = if i % 2 == 0 { "relabel:b" } else { "delete" };
        csv += &format!("{},a,b,0.9,label_error,,{action}\n", file.display());
    }
    let clean = t.join("clean.csv");
    std::fs::write(&clean, csv).unwrap();
    let sidecar = serde_json::json!({"store": {"layout": "class_folders", "root": root}, "classes": ["a", "b"]});
    std::fs::write(t.join("clean.json"), sidecar.to_string()).unwrap();
    (root, clean)
}

/// Every file of `root`'s class `a`, with its content.
fn contents(root: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(root.join("a"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    files.sort();
    files
}

/// Starts `imgclass clean ARGS`, kills it (SIGKILL) after `ms` milliseconds.
fn killed_after(ms: u64, args: &[&std::ffi::OsStr]) {
    let mut child = bin().arg("clean").args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn an_apply_and_an_undo_killed_at_any_moment_lose_no_file() {
    // How long a whole apply takes here; the kills fall at fractions of it.
    let t = tempfile::tempdir().unwrap();
    let (_, clean) = dataset(t.path(), 3000);
    let start = Instant::now();
    ok(run(bin().args(["clean", "apply"]).arg(&clean)));
    let whole = start.elapsed().as_millis() as u64;
    for (apply, undo) in [(0, 0), (20, 50), (50, 30), (80, 80), (150, 10)] {
        let (apply_ms, undo_ms) = (whole * apply / 100, whole * undo / 100);
        let t = tempfile::tempdir().unwrap();
        let (root, clean) = dataset(t.path(), 3000);
        let before = contents(&root);
        killed_after(apply_ms, &["apply".as_ref(), clean.as_os_str()]);
        killed_after(undo_ms, &["undo".as_ref(), root.as_os_str()]);
        let (stdout, _) = ok(run(bin().args(["clean", "undo"]).arg(&root)));
        assert!(stdout.contains("reverted") || stdout.contains("nothing to undo"), "{stdout}");
        assert_eq!(contents(&root), before, "killed after {apply_ms} ms, undo killed after {undo_ms} ms");
        assert_eq!(std::fs::read_dir(root.join("b")).unwrap().count(), 0);
    }
}

#[test]
fn apply_refuses_a_row_outside_the_data_folder_and_moves_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (root, clean) = dataset(t.path(), 4);
    std::fs::write(t.path().join("precious.txt"), "mine").unwrap();
    let text = std::fs::read_to_string(&clean).unwrap();
    std::fs::write(&clean, format!("{text}{},a,b,0.9,label_error,,delete\n", t.path().join("precious.txt").display()))
        .unwrap();
    let before = contents(&root);
    let err = super::fails(run(bin().args(["clean", "apply"]).arg(&clean)));
    assert!(err.contains("clean.csv:6") && err.contains("outside the data folder"), "{err}");
    assert_eq!(contents(&root), before);
    assert!(t.path().join("precious.txt").is_file() && !root.join(".imgclass-trash").exists());
}
