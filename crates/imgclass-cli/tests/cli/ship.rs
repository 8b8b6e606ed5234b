//! Taking a model out of imgclass: `export`.

use super::*;

#[test]
fn export_writes_an_onnx_file_beside_the_model_and_says_how_to_feed_it() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 12);
    let (json, _, _) = train_tiny(t.path(), &data, &["--arch", "mlp"]);
    let model = PathBuf::from(json["model"].as_str().unwrap());

    let (stdout, _) = ok(run(bin().arg("export").arg(&model)));
    let onnx = model.with_extension("onnx");
    assert!(stdout.contains("ONNX opset 17") && stdout.contains("`probabilities` [batch, 2]"), "{stdout}");
    assert!(std::fs::metadata(&onnx).unwrap().len() > 1000, "{stdout}");

    let out = t.path().join("pixels.onnx");
    let (stdout, _) =
        ok(run(bin().arg("export").arg(&model).arg("-o").arg(&out).args(["--include-preprocessing", "--json"])));
    let v = last_json(&stdout);
    assert_eq!(v["opset"], 17);
    assert_eq!(v["inputs"]["input"], serde_json::json!(["batch", 3, 12, 12]), "{stdout}");
    let meta = &v["metadata"];
    assert_eq!(meta["labels"], serde_json::json!(["horizontal", "vertical"]));
    assert_eq!((meta["input"].as_str(), meta["task"].as_str()), (Some("pixels_0_255"), Some("single-label")));
    assert!(out.is_file());

    let not_a_model = t.path().join("notes.imgclass");
    std::fs::write(&not_a_model, "not a bundle").unwrap();
    let err = fails(run(bin().arg("export").arg(&not_a_model)));
    assert!(err.contains("notes.imgclass"), "{err}");
    assert!(!t.path().join("notes.onnx").exists());
}

/// predict's CSV rows by file, the header apart.
fn csv_rows(text: &str) -> (String, std::collections::BTreeMap<String, String>) {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().to_string();
    let rows = lines.map(|l| (l.split(',').next().unwrap().to_string(), l.to_string()));
    let mut map = std::collections::BTreeMap::new();
    for (file, row) in rows {
        assert!(map.insert(file.clone(), row).is_none(), "{file} twice");
    }
    (header, map)
}

#[test]
fn predict_streams_rows_splits_a_folder_into_shards_and_continues_a_cut_off_file() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 12);
    let (json, _, _) = train_tiny(t.path(), &data, &["--arch", "mlp"]);
    let model = json["model"].as_str().unwrap().to_string();
    let predict = |extra: &[&str]| ok(run(bin().args(["predict", &model]).arg(&data).args(extra))).0;
    let whole = predict(&["--csv"]);
    let (header, all) = csv_rows(&whole);
    assert_eq!(all.len(), 24, "{whole}");

    // Three shards: every file once, the same rows.
    let mut union = std::collections::BTreeMap::new();
    for i in 0..3 {
        let (h, rows) = csv_rows(&predict(&["--csv", "--shard", &format!("{i}/3")]));
        assert_eq!(h, header);
        for (file, row) in rows {
            assert!(union.insert(file, row).is_none(), "a file in two shards");
        }
    }
    assert_eq!(union, all);

    // A file cut off in the middle of a row, as by kill -9: continued, nothing twice.
    let out = t.path().join("out.csv");
    let cut = whole.len() / 2;
    std::fs::write(&out, &whole[..cut]).unwrap();
    let out_arg = out.to_str().unwrap();
    let (_, stderr) = ok(run(bin().args(["predict", &model]).arg(&data).args(["--csv", "--skip-done", out_arg])));
    let (h, rows) = csv_rows(&std::fs::read_to_string(&out).unwrap());
    assert_eq!((h, rows), (header.clone(), all.clone()), "{stderr}");
    let (_, stderr) = ok(run(bin().args(["predict", &model]).arg(&data).args(["--csv", "--skip-done", out_arg])));
    assert!(stderr.contains("0 file(s) predicted"), "{stderr}");

    // JSON Lines: one object per image, as they come.
    let jsonl = predict(&["--jsonl"]);
    let files: Vec<String> = jsonl
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["file"].as_str().unwrap().into())
        .collect();
    assert_eq!(files, all.keys().cloned().collect::<Vec<_>>());

    let err = fails(run(bin().args(["predict", &model]).arg(&data).args(["--shard", "3/3"])));
    assert!(err.contains("0 ≤ I < N"), "{err}");
    let err = fails(run(bin().args(["predict", &model]).arg(&data).args(["--skip-done", out_arg])));
    assert!(err.contains("add --csv or --jsonl"), "{err}");
}

/// The first probability of each row of predict's CSV, by file.
fn first_probabilities(csv: &str) -> Vec<f64> {
    csv_rows(csv).1.values().map(|row| row.split(',').nth(2).unwrap().parse::<f64>().unwrap()).collect()
}

#[test]
fn augmented_tta_draws_the_same_views_in_every_shard_and_needs_a_model_trained_with_augmentation() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 8);
    let (json, _, _) = train_tiny(t.path(), &data, &["--arch", "mlp", "--aug", "light"]);
    let model = json["model"].as_str().unwrap().to_string();
    let predict = |extra: &[&str]| ok(run(bin().args(["predict", &model]).arg(&data).args(extra))).0;
    let plain = predict(&["--csv"]);
    let aug = predict(&["--csv", "--tta", "aug"]);
    assert_ne!(first_probabilities(&aug), first_probabilities(&plain), "the views change the probabilities");
    let mut union = std::collections::BTreeMap::new();
    for i in 0..2 {
        union.extend(csv_rows(&predict(&["--csv", "--tta", "aug", "--shard", &format!("{i}/2")])).1);
    }
    assert_eq!(union, csv_rows(&aug).1, "a file gets the same views in any shard");
    // beta 1: the plain prediction alone.
    let beta1 = first_probabilities(&predict(&["--csv", "--tta", "aug", "--tta-n", "2", "--tta-beta", "1"]));
    for (a, b) in beta1.iter().zip(first_probabilities(&plain)) {
        assert!((a - b).abs() < 1e-4, "{beta1:?} vs {plain}");
    }
    let held_out = t.path().join("held_out");
    class_folder_from(&held_out, 101, 4);
    let (stdout, _) = ok(run(bin().args(["evaluate", &model]).arg(&held_out).args(["--tta", "aug", "--json"])));
    assert_eq!(last_json(&stdout)["n_images"], 8, "{stdout}");
    let err = fails(run(bin().args(["predict", &model]).arg(&data).args(["--tta", "aug", "--tta-beta", "2"])));
    assert!(err.contains("--tta-beta must be between 0 and 1"), "{err}");
    let err = fails(run(bin().args(["predict", &model]).arg(&data).args(["--tta-n", "3"])));
    assert!(err.contains("--tta"), "{err}");

    let (json, _, _) =
        train_tiny(t.path(), &data, &["--arch", "mlp", "--out", t.path().join("plain").to_str().unwrap()]);
    let model = json["model"].as_str().unwrap().to_string();
    let err = fails(run(bin().args(["evaluate", &model]).arg(&held_out).args(["--tta", "aug"])));
    assert!(err.contains("--tta aug draws its views") && err.contains("without augmentation"), "{err}");
}

#[test]
fn report_compares_a_sweeps_runs_in_one_table() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 8);
    let sweep = t.path().join("sweep");
    for (name, lr) in [("lr-a", "0.01"), ("lr-b", "0.001")] {
        let out = sweep.join(name);
        train_tiny(t.path(), &data, &["--arch", "logreg", "--lr", lr, "--out", out.to_str().unwrap()]);
    }
    let (stdout, _) = ok(run(bin().arg("report").arg(&sweep)));
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("run ") && lines[0].contains("optimizer.lr") && lines[0].contains("valid accuracy"));
    assert!(lines.len() == 4 && lines[3].ends_with("report.html"), "{stdout}");
    let html = std::fs::read_to_string(sweep.join("report.html")).unwrap();
    assert!(html.contains("lr-a") && html.contains("lr-b") && html.matches("<svg").count() == 2);

    let (stdout, _) = ok(run(bin().arg("report").arg(sweep.join("lr-a")).arg(sweep.join("lr-b")).arg("--json")));
    let v = last_json(&stdout);
    assert_eq!(v["varied"], serde_json::json!(["optimizer.lr"]), "{v}");
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    assert!(v["page"].is_null(), "no page unless asked for or a sweep folder given: {v}");
    let err = fails(run(bin().arg("report").arg(&data)));
    assert!(err.contains("not a run folder"), "{err}");
}
