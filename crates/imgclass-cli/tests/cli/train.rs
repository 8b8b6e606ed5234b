//! `imgclass train` and `lr-find`: run folders, reproducibility, interrupting and resuming, options end to end.

use super::*;

#[test]
fn train_on_a_class_folder_writes_a_complete_run_folder_and_json() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 20);
    let (json, stdout, stderr) = train_tiny(t.path(), &data, &[]);
    assert!(stdout.contains("epoch  train_loss  valid_loss  accuracy  error_rate"), "{stdout}");
    assert!(stderr.contains("input 3×12×12"), "colour images give 3 channels: {stderr}");
    // 8 validation images of two classes a horizontal or a vertical bar tells apart.
    assert!(json["accuracy"].as_f64().unwrap() >= 0.75, "{json}");
    let epochs = assert_run(&json, 3);
    let loss = |e: usize| epochs[e]["train_loss"].as_f64().unwrap();
    assert!(loss(2) < loss(0), "the training loss went down: {epochs:?}");
    let model = PathBuf::from(json["model"].as_str().unwrap());
    assert!(model.is_file());
    let run = t.path().join("run");
    for f in [
        "config.json",
        "split.json",
        "metrics.csv",
        "metrics.json",
        "confusion.csv",
        "report.json",
        "checkpoints/best.imgclass",
    ] {
        assert!(run.join(f).is_file(), "missing {f}");
    }
    assert_picture(&run.join("confusion.png"));
    assert_picture(&run.join("loss.png"));
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 4, "{metrics}");
    let split: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("split.json")).unwrap()).unwrap();
    assert_eq!((split["train"].as_array().unwrap().len(), split["valid"].as_array().unwrap().len()), (32, 8));
}

#[test]
fn the_same_seed_reproduces_the_same_split_and_metrics() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 10);
    let a = train_tiny(t.path(), &data, &["--arch", "mlp", "--out", "a"]);
    let split_a = std::fs::read(t.path().join("a/split.json")).unwrap();
    let b = train_tiny(t.path(), &data, &["--arch", "mlp", "--out", "b"]);
    assert_eq!(split_a, std::fs::read(t.path().join("b/split.json")).unwrap());
    assert_eq!(a.0["valid_loss"], b.0["valid_loss"]);
}

#[test]
fn ctrl_c_stops_training_and_still_writes_the_bundle() {
    use std::io::{BufRead, BufReader};
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("run");
    let mut child = bin()
        .arg("train")
        .args(["--epochs", "50", "--json", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the epoch table's header: the first epoch has started, so the Ctrl-C handler
    // (set before training starts) is in place; a signal from now on stops after a step.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 && !line.contains("train_loss") {
        line.clear();
    }
    assert!(line.contains("train_loss"), "no epoch table before the output ended");
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{rest}\n{stderr}");
    assert!(stderr.contains("stopping after this step"), "{stderr}");
    let json = last_json(&rest);
    assert_eq!(json["interrupted"], true);
    assert!(out.join("model.imgclass").is_file());
    // The interrupted model is a complete bundle.
    ok(run(bin()
        .arg("predict")
        .arg(out.join("model.imgclass"))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/fashion-samples/Bag"))));
}

#[test]
fn lr_find_suggests_a_rate_and_writes_its_plot() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 20);
    let out = t.path().join("lrf");
    let (stdout, _) = ok(run(bin()
        .arg("lr-find")
        .arg(&data)
        .args(["--size", "12", "--batch-size", "8", "--num-it", "40", "--json", "--out"])
        .arg(&out)));
    let v = last_json(&stdout);
    // The valley is a rate the sweep tried, inside it, where the smoothed loss has fallen
    // below where it started (a suggestion at either end, or on the flat start, fails).
    let valley = v["valley"].as_f64().unwrap();
    let curve: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("lr_find.json")).unwrap()).unwrap();
    let series = |k: &str| -> Vec<f64> { curve[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect() };
    let (lrs, smoothed) = (series("lrs"), series("smoothed"));
    let i = lrs.iter().position(|&lr| lr == valley).unwrap_or_else(|| panic!("{valley} is not a rate tried: {v}"));
    assert!(i > 0 && i + 1 < lrs.len(), "valley at step {i} of {}: {v}", lrs.len());
    assert!(smoothed[i] < smoothed[0], "the loss at the valley has not fallen: {v}");
    assert!(stdout.contains("suggested learning rates: valley"), "{stdout}");
    assert!(out.join("lr_find.json").is_file());
    assert_picture(&out.join("lr_find.png"));
}

#[test]
fn augmentation_balancing_streaming_and_a_file_list_train_end_to_end() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    class_folder(&data, 8);
    let extra = [
        "--aug",
        "strong",
        "--balance",
        "oversample",
        "--images-in",
        "disk",
        "--workers",
        "1",
        "--resize",
        "pad_reflect",
    ];
    let (json, _, _) = train_tiny(t.path(), &data, &extra);
    assert_run(&json, 3);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("run/config.json")).unwrap()).unwrap();
    let train = &config["train"];
    assert_eq!(
        (train["transforms"]["augment"]["max_rotate"].as_f64(), train["fit"]["balance"].as_str()),
        (Some(20.0), Some("oversample")),
        "{config}"
    );
    assert_eq!(train["data"]["loader"]["images_in"], "disk");
    let out = t.path().join("weighted");
    let (json, _, _) = train_tiny(
        t.path(),
        &data,
        &["--balance", "weights", "--normalize", "imagenet", "--background", "0,0,0", "--out", out.to_str().unwrap()],
    );
    assert_run(&json, 3);
    let list = data.join("chosen.txt");
    std::fs::write(&list, "horizontal/00.png\nhorizontal/01.png\nhorizontal/02.png\nvertical/00.png\nvertical/01.png\nvertical/02.png\nvertical/gone.png\n").unwrap();
    let (stdout, stderr) = ok(run(bin().args(["data", "check", "--files"]).arg(&list)));
    assert!(stdout.contains("6 readable images, 2 classes") && stdout.contains("gone.png"), "{stdout}\n{stderr}");
    let (stdout, _) =
        ok(run(bin().args(["data", "bench"]).arg(&data).args(["--size", "12", "--aug", "default", "--json"])));
    assert_eq!(last_json(&stdout)["images"], 16);
    let err = fails(run(bin().args(["train", "--aug", "wild"]).arg(&data)));
    assert!(err.contains("possible values: none, light, default, strong"), "{err}");
}

#[test]
fn a_run_stopped_with_ctrl_c_continues_with_resume_to_its_last_epoch() {
    use std::io::{BufRead, BufReader};
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 20);
    let out = t.path().join("run");
    let mut child = bin()
        .arg("train")
        .arg(&data)
        .args(["--epochs", "60", "--size", "12", "--batch-size", "8", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Stop it once the first epoch's row is printed.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 && !line.trim_start().starts_with("1 ") {
        line.clear();
    }
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{rest}");
    assert!(out.join("checkpoints/resume.ckpt").is_file());

    let (stdout, stderr) = ok(run(bin().arg("train").arg("--resume").arg(&out).arg("--json")));
    assert!(stderr.contains("resuming after epoch") || stderr.contains("resuming in epoch"), "{stderr}");
    let json = last_json(&stdout);
    assert_eq!((json["epochs"].as_u64(), json["ending"].as_str()), (Some(60), Some("completed")), "{json}");
    let history: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    let epochs: Vec<u64> = history.as_array().unwrap().iter().map(|m| m["epoch"].as_u64().unwrap()).collect();
    assert_eq!(epochs, (1..=60).collect::<Vec<u64>>(), "every epoch once, none partial");
}

#[test]
fn the_fashion_preset_trains_with_cutmix_or_mixup_and_its_config_records_the_recipe() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    class_folder(&data, 8);
    let preset = ["--preset", "fashion", "--valid-pct", "0.25"];
    let (json, _, _) = train_tiny(t.path(), &data, &[&preset[..], &["--cutmix"]].concat());
    assert_run(&json, 3); // --epochs adjusts the preset
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("run/config.json")).unwrap()).unwrap();
    let train = &config["train"];
    assert_eq!(train["loss"]["label_smoothing"], 0.1, "{config}");
    assert_eq!(train["loss"]["mix"]["cutmix"]["alpha"], 1.0, "{config}");
    assert_eq!(train["transforms"]["augment"]["crop_pad"], 0.04, "{config}");
    let out = t.path().join("mixup");
    let (json, _, _) =
        train_tiny(t.path(), &data, &[&preset[..], &["--mixup", "--out", out.to_str().unwrap()]].concat());
    assert_run(&json, 3);
}

#[test]
fn a_second_train_into_the_same_out_is_refused_unless_overwrite_and_a_locked_folder_is_in_use() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 4);
    let out = t.path().join("run");
    train_tiny(t.path(), &data, &["--arch", "logreg"]);
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let mlp = || {
        let mut cmd = bin();
        cmd.arg("train").arg(&data).args(["--arch", "mlp", "--epochs", "1", "--size", "12", "--out"]).arg(&out);
        cmd
    };
    let err = fails_last(run(&mut mlp()));
    assert!(err.contains("already holds a run") && err.contains("--resume") && err.contains("--overwrite"), "{err}");
    ok(run(mlp().arg("--overwrite")));
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 2, "the new run's one epoch only: {metrics}");
    assert!(out.join("notes.txt").is_file(), "a file no run writes stays");
    // lr-find writes its plot beside the run's model and keeps it.
    ok(run(bin().arg("lr-find").arg(&data).args(["--size", "12", "--num-it", "3", "--out"]).arg(&out)));
    assert!(out.join("lr_find.png").is_file() && out.join("model.imgclass").is_file());

    // Another process holds the folder's lock (this test, as a running `train` would).
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(out.join(".lock")).unwrap();
    lock.try_lock().unwrap();
    let err = fails_last(run(mlp().arg("--overwrite")));
    assert!(err.contains("run is in use by another imgclass run"), "{err}");
    let err = fails_last(run(bin().arg("train").arg("--resume").arg(&out)));
    assert!(err.contains("in use by another imgclass run"), "{err}");
    assert!(out.join("model.imgclass").is_file(), "untouched while in use");
}

/// Rewrites the header of the resume checkpoint `path` with `edit`.
fn edit_checkpoint_header(path: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let bytes = std::fs::read(path).unwrap();
    let (magic, rest) = bytes.split_at(16);
    let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&rest[8..8 + len]).unwrap();
    edit(&mut header);
    let json = serde_json::to_vec(&header).unwrap();
    let mut out = magic.to_vec();
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&rest[8 + len..]);
    std::fs::write(path, out).unwrap();
}

#[test]
fn a_resume_checkpoint_whose_header_no_run_of_its_config_reaches_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 4);
    train_tiny(t.path(), &data, &["--arch", "logreg"]);
    let ckpt = t.path().join("run/checkpoints/resume.ckpt");
    type Edit = fn(&mut serde_json::Value);
    let edits: [(Edit, &str); 2] = [
        (
            |h| (h["progress"]["step"], h["progress"]["ended"]) = (1_000_000_000_000_000u64.into(), None::<u8>.into()),
            "step",
        ),
        (
            |h| (h["progress"]["epochs_done"], h["progress"]["ended"]) = (100.into(), None::<u8>.into()),
            "100 epochs done",
        ),
    ];
    let original = std::fs::read(&ckpt).unwrap();
    for (edit, needle) in edits {
        std::fs::write(&ckpt, &original).unwrap();
        edit_checkpoint_header(&ckpt, edit);
        let err = fails_last(run(bin().arg("train").arg("--resume").arg(t.path().join("run"))));
        assert!(err.contains("resume.ckpt") && err.contains("cannot resume") && err.contains(needle), "{err}");
    }
}
