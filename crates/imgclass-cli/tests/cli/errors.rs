//! Bad input of every kind ends in one line that names the file or flag and says what to do.

use super::*;

#[test]
fn bad_inputs_give_one_line_errors_that_say_what_to_do() {
    let t = tempfile::tempdir().unwrap();
    let err = fails(run(bin().current_dir(t.path()).args(["train", "no/such/folder"])));
    assert!(err.contains("no/such/folder") && err.contains("no such file or folder"), "{err}");

    let one = t.path().join("one");
    draw(&one.join("cat/a.png"), 0, 0, (8, 8));
    let err = fails(run(bin().current_dir(t.path()).arg("train").arg(&one)));
    assert!(err.contains("at least 2 classes"), "{err}");

    let empty = t.path().join("empty_class");
    draw(&empty.join("cat/a.png"), 0, 0, (8, 8));
    std::fs::create_dir_all(empty.join("dog")).unwrap();
    let err = fails(run(bin().current_dir(t.path()).arg("train").arg(&empty)));
    assert!(err.contains("dog") && err.contains("no images"), "{err}");

    let not_model = t.path().join("model.imgclass");
    std::fs::write(&not_model, b"hello").unwrap();
    let err = fails(run(bin().arg("predict").arg(&not_model).arg(one.join("cat/a.png"))));
    assert!(err.contains("not an imgclass model bundle"), "{err}");
    let err = fails(run(bin().arg("evaluate").arg(t.path().join("missing.imgclass")).arg(&one)));
    assert!(err.contains("missing.imgclass") && err.contains("imgclass train"), "{err}");

    let err = fails(run(bin().current_dir(t.path()).args(["train", "--valid-pct", "1.5"])));
    assert!(err.contains("valid"), "{err}");
    for (args, needle) in [
        (&["--dropout", "1"][..], "dropout must be in [0, 1)"),
        (&["--size", "0"][..], "--size must be 1..=4096 pixels"),
        (&["--patience", "0"][..], "--patience must be at least 1"),
        (&["--arch", "resnet18", "--hidden", "16"][..], "--hidden does not apply to --arch resnet18"),
        (&["--kernel-size", "4"][..], "--kernel-size must be odd with same padding, not 4"),
    ] {
        let err = fails(run(bin().current_dir(t.path()).arg("train").args(args)));
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let two = t.path().join("two");
    class_folder(&two, 4);
    let m = t.path().join("m");
    let (json, _, _) = train_tiny(t.path(), &two, &["--arch", "logreg", "--out", m.to_str().unwrap()]);
    let no_images = t.path().join("no_images");
    std::fs::create_dir_all(&no_images).unwrap();
    let err = fails(run(bin().arg("predict").arg(json["model"].as_str().unwrap()).arg(&no_images)));
    assert!(err.contains("no image file to predict"), "{err}");
}

#[test]
fn out_of_range_values_and_a_missing_device_are_one_line_errors_naming_the_flag() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    class_folder(&data, 4);
    let mut cases = vec![
        (vec!["--workers", "100000"], "--workers must be at most 256"),
        (vec!["--batch-size", "0"], "--batch-size must be at least 1"),
        (vec!["--epochs", "0"], "--epochs (with the frozen epochs, or the probe) must be at least 1"),
        (vec!["--presize", "100000"], "--presize must be 1..=4096 pixels"),
        (vec!["--lr=-1"], "--lr must be a positive number"),
        (vec!["--channels", "0"], "--channels"),
    ];
    if !cfg!(feature = "cuda") {
        cases.push((vec!["--device", "cuda"], "--features cuda"));
    }
    for (args, needle) in cases {
        let err = fails(run(bin().current_dir(t.path()).arg("train").arg(&data).args(&args)));
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let err = fails(run(bin().args(["data", "bench"]).arg(&data).args(["--workers", "100000"])));
    assert!(err.contains("--workers must be at most 256"), "{err}");
}

#[test]
fn an_edited_bundle_is_a_one_line_error_not_a_panic() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    class_folder(&data, 4);
    let (json, _, _) = train_tiny(t.path(), &data, &["--arch", "logreg"]);
    let model = PathBuf::from(json["model"].as_str().unwrap());
    let bytes = std::fs::read(&model).unwrap();
    // Inside the header the metadata is a JSON string, its quotes escaped.
    for (from, to, needle) in [
        (&br#"\"channels\":3"#[..], &br#"\"channels\":2"#[..], "channels is 2"),
        (&br#"\"labels\":[\"horizontal\""#[..], &br#"\"labels\":[\"vertical\"  "#[..], "twice"),
    ] {
        let at = bytes.windows(from.len()).position(|w| w == from).expect("the field is in the header");
        let mut edited = bytes.clone();
        edited[at..at + from.len()].copy_from_slice(to);
        let bad = t.path().join("edited.imgclass");
        std::fs::write(&bad, &edited).unwrap();
        let err = fails(run(bin().arg("predict").arg(&bad).arg(data.join("vertical/01.png"))));
        assert!(err.contains("edited.imgclass") && err.contains(needle), "{err}");
    }
}

#[test]
fn resume_takes_only_loader_options_and_needs_a_run_folder() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    class_folder(&data, 4);
    let (json, _, _) = train_tiny(t.path(), &data, &["--arch", "logreg"]);
    let run_dir = json["run_dir"].as_str().unwrap();
    let err = fails(run(bin().args(["train", "--resume", run_dir, "--epochs", "9"])));
    assert!(err.contains("--resume") && err.contains("only --workers"), "{err}");
    let err = fails(run(bin().args(["train", "--resume"]).arg(&data)));
    assert!(err.contains("not a run folder"), "{err}");
    // A finished run resumes to its report: nothing left to train, the same accuracy.
    let (stdout, _) = ok(run(bin().args(["train", "--resume", run_dir, "--workers", "1", "--json"])));
    let again = last_json(&stdout);
    assert_eq!(
        (again["accuracy"].clone(), again["epochs"].clone()),
        (json["accuracy"].clone(), json["epochs"].clone())
    );
}

#[test]
fn clean_with_more_folds_than_images_is_refused_before_training_any_fold() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    class_folder(&data, 10);
    let err =
        fails_last(run(bin().arg("clean").arg(&data).args(["--folds", "25", "--size", "12", "--out"]).arg(t.path())));
    assert!(err.contains("--folds (25) is more than the 20 images"), "{err}");
}
