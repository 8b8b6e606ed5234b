//! `imgclass evaluate` and `predict`: scores on held-out data, refusals of training data, IDX test files, output formats.

use std::io::Write;

use super::*;

#[test]
fn evaluate_refuses_the_training_data_and_scores_held_out_data() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 16);
    let (json, _, _) = train_tiny(t.path(), &data, &["--arch", "logreg"]);
    let model = json["model"].as_str().unwrap().to_string();
    let err = fails(run(bin().args(["evaluate", &model]).arg(&data)));
    assert!(err.contains("32 of its 32 images were used to train") && err.contains("--allow-training-data"), "{err}");
    // Copies of training images elsewhere are recognised by content.
    let subset = t.path().join("subset");
    for class in ["horizontal", "vertical"] {
        std::fs::create_dir_all(subset.join(class)).unwrap();
        std::fs::copy(data.join(class).join("01.png"), subset.join(class).join("renamed.png")).unwrap();
    }
    let err = fails(run(bin().args(["evaluate", &model]).arg(&subset)));
    assert!(err.contains("2 of its 2 images"), "{err}");
    let (stdout, _) = ok(run(bin().args(["evaluate", &model]).arg(&subset).args(["--allow-training-data", "--json"])));
    assert_eq!(last_json(&stdout)["training_overlap"], 2);

    let held_out = t.path().join("held_out");
    class_folder_from(&held_out, 101, 5);
    let (stdout, _) = ok(run(bin().args(["evaluate", &model]).arg(&held_out).arg("--json")));
    let v = last_json(&stdout);
    assert_eq!(v["n_images"], 10);
    assert!(v["accuracy"].is_number() && v["per_class"].as_array().unwrap().len() == 2, "{v}");
    // Two classes: the second one's probability ranks its 5 images.
    let r = &v["ranking"];
    assert_eq!((r["class"].as_str(), r["positives"].as_u64()), (Some("vertical"), Some(5)), "{v}");
    let (auc, ap) = (r["roc_auc"].as_f64().unwrap(), r["average_precision"].as_f64().unwrap());
    assert!((0.0..=1.0).contains(&auc) && (0.0..=1.0).contains(&ap) && r["roc"].as_array().unwrap().len() >= 2, "{r}");
    let (stdout, _) = ok(run(bin().args(["evaluate", &model]).arg(&held_out).args(["--tta", "flip", "--json"])));
    let flipped = last_json(&stdout);
    assert_eq!(flipped["n_images"], 10);
    assert_ne!(flipped["loss"], v["loss"], "the mirror images change the probabilities: {flipped}");
    let (stdout, _) = ok(run(bin().args(["evaluate", &model]).arg(&held_out).args(["--tta", "shift", "--json"])));
    let shifted = last_json(&stdout);
    assert_eq!(shifted["n_images"], 10);
    assert_ne!(shifted["loss"], v["loss"], "the shifted images change the probabilities: {shifted}");
    let (stdout, _) = ok(run(bin().args(["evaluate", &model]).arg(&held_out)));
    for needle in
        ["accuracy", "ROC AUC", "average precision", "precision", "recall", "f1", "confusion matrix", "horizontal"]
    {
        assert!(stdout.contains(needle), "missing {needle}:\n{stdout}");
    }
}

#[test]
fn predict_prints_top_k_per_file_as_text_json_and_csv() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 12);
    let (json, _, _) = train_tiny(t.path(), &data, &["--arch", "mlp"]);
    let model = json["model"].as_str().unwrap().to_string();
    let one = data.join("vertical/03.png");
    let (stdout, _) = ok(run(bin().args(["predict", &model]).arg(&one).args(["-k", "2"])));
    assert!(stdout.contains("03.png: ") && stdout.contains('%'), "{stdout}");

    let (stdout, _) = ok(run(bin().args(["predict", &model]).arg(data.join("vertical")).arg("--json")));
    let v = last_json(&stdout);
    let preds = v["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 12);
    assert!(preds[0]["file"].as_str().unwrap().ends_with("00.png"));
    assert_eq!(preds[0]["top"].as_array().unwrap().len(), 2, "k is capped at the number of classes... or 3 by default");

    let (stdout, _) = ok(run(bin().args(["predict", &model]).arg(&one).arg("--csv").args(["-k", "1"])));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "file,label_1,probability_1");
    assert!(lines[1].contains("03.png,") && lines.len() == 2, "{stdout}");
}

#[test]
fn predict_cam_explains_each_image_with_a_picture_and_its_map() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 12);
    let (json, _, _) = train_tiny(t.path(), &data, &[]);
    let model = json["model"].as_str().unwrap().to_string();
    let images = [data.join("vertical/03.png"), data.join("horizontal/03.png")];
    let (stdout, _) = ok(run(bin().current_dir(t.path()).args(["predict", &model]).args(&images).arg("--cam")));
    assert!(stdout.contains("found at (") && stdout.contains("cam/03.cam.png"), "{stdout}");
    assert_picture(&t.path().join("cam/03.cam.png"));
    assert_picture(&t.path().join("cam/03-1.cam.png"));
    let picture = image::open(t.path().join("cam/03.cam.png")).unwrap();
    assert_eq!((picture.width(), picture.height()), (14, 12), "drawn over the original 14×12, not the 12×12 input");

    let out = t.path().join("maps");
    let (stdout, _) = ok(run(bin()
        .args(["predict", &model])
        .arg(&images[0])
        .args(["--cam", "--json", "--class", "horizontal", "--cam-layer", "block1", "--out"])
        .arg(&out)));
    let cam = &last_json(&stdout)["predictions"][0]["cam"];
    assert_eq!((cam["class"].as_str(), cam["layer"].as_str()), (Some("horizontal"), Some("block1")), "{cam}");
    let grid: Vec<Vec<f64>> = serde_json::from_value(cam["grid"].clone()).unwrap();
    assert_eq!((grid.len(), grid[0].len()), (6, 6), "block1 of a 12-pixel input: 6×6");
    assert!(grid.iter().flatten().all(|v| (0.0..=1.0).contains(v)));
    let peak: [f64; 2] = serde_json::from_value(cam["peak"].clone()).unwrap();
    assert!(peak.iter().all(|v| (0.0..=12.0).contains(v)), "{peak:?}");
    assert_picture(&out.join("03.cam.png"));

    let e = fails(run(bin().args(["predict", &model]).arg(&images[0]).args(["--cam", "--cam-layer", "conv9"])));
    assert!(e.contains("block1, block2"), "{e}");
    let mlp_run = t.path().join("mlp");
    let (json, _, _) = train_tiny(t.path(), &data, &["--arch", "mlp", "--out", mlp_run.to_str().unwrap()]);
    let mlp = json["model"].as_str().unwrap().to_string();
    let e = fails(run(bin().args(["predict", &mlp]).arg(&images[0]).arg("--cam")));
    assert!(e.contains("convolutional"), "{e}");
}

#[test]
fn interpret_ranks_the_validation_images_of_a_run_by_loss_and_draws_the_worst() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 12);
    let (json, _, _) = train_tiny(t.path(), &data, &[]);
    let run_dir = t.path().join("run");
    let (stdout, _) = ok(run(bin().arg("interpret").arg(&run_dir).args(["--top", "4", "--cam", "--json"])));
    let v = last_json(&stdout);
    let rows = v["losses"].as_array().unwrap();
    assert_eq!(rows.len() as u64, v["images"].as_u64().unwrap(), "a row for every image: {v}");
    let losses: Vec<f64> = rows.iter().map(|r| r["loss"].as_f64().unwrap()).collect();
    assert!(losses.windows(2).all(|w| w[0] >= w[1]), "worst first: {losses:?}");
    for r in rows {
        let (loss, p) = (r["loss"].as_f64().unwrap(), r["probability"].as_f64().unwrap());
        assert!((loss + p.ln()).abs() < 1e-4, "loss is −ln(p): {r}");
    }
    // The run's own validation loss, recomputed from its split.json.
    let valid_loss = json["valid_loss"].as_f64().unwrap();
    assert!((v["loss"].as_f64().unwrap() - valid_loss).abs() < 1e-4, "{} vs {valid_loss}", v["loss"]);
    assert!(run_dir.join("interpret/losses.csv").is_file());
    for f in ["top_losses.png", "confusion.png"] {
        assert_picture(&run_dir.join("interpret").join(f));
    }
    let csv = std::fs::read_to_string(run_dir.join("interpret/losses.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("rank,file,label,predicted,probability,loss"));
    assert_eq!(csv.lines().count(), 1 + v["images"].as_u64().unwrap() as usize, "a row per image");

    let model = json["model"].as_str().unwrap();
    let e = fails(run(bin().args(["interpret", model])));
    assert!(e.contains("give labelled data"), "{e}");
    let held_out = t.path().join("held-out");
    class_folder_from(&held_out, 40, 4);
    let out = t.path().join("look");
    let (stdout, _) = ok(run(bin().args(["interpret", model]).arg(&held_out).arg("--out").arg(&out)));
    assert!(stdout.contains("top losses") && stdout.contains("(8 images)"), "{stdout}");
    assert_picture(&out.join("top_losses.png"));
}

#[test]
fn clean_finds_images_filed_under_the_wrong_class() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 40);
    // Four vertical bars filed as horizontal.
    let moved: Vec<String> = (80..84).map(|i| format!("horizontal/{i:02}.png")).collect();
    for (k, m) in moved.iter().enumerate() {
        draw(&data.join(m), 1, 80 + k, (12, 12));
    }
    let out = t.path().join("clean");
    let (stdout, stderr) = ok(run(bin()
        .arg("clean")
        .arg(&data)
        .args(["--folds", "3", "--size", "12", "--batch-size", "8", "--epochs", "6", "--json", "--out"])
        .arg(&out)));
    assert!(stderr.contains("fold 3/3"), "{stderr}");
    let v = last_json(&stdout);
    assert_eq!(v["images"], 84);
    assert!(v["method"].as_str().unwrap().starts_with("3-fold out-of-fold"), "{v}");
    // Confident learning flags an image only when its other class clears that class's mean
    // self-confidence: most, not necessarily all, of the moved images; and nothing else.
    let all = v["suspects"].as_array().unwrap();
    let suspects: Vec<&serde_json::Value> = all.iter().filter(|s| s["issue"] == "label_error").collect();
    // The bars differ by a shade and a pixel: near-duplicates, each naming the image it repeats.
    assert!(all.iter().filter(|s| s["issue"] == "duplicate").all(|s| s["other"].is_string()), "{stdout}");
    let found = moved.iter().filter(|m| suspects.iter().any(|s| s["file"].as_str().unwrap().ends_with(*m))).count();
    assert!(found >= 2 && found == suspects.len(), "{found} of the moved images among {stdout}");
    let s = &suspects[0];
    assert_eq!(
        (s["label"].as_str(), s["suggested"].as_str(), s["issue"].as_str()),
        (Some("horizontal"), Some("vertical"), Some("label_error"))
    );
    let csv = std::fs::read_to_string(out.join("clean.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("file,label,suggested,score,issue,other,action"));
    assert!(csv.lines().skip(1).take(suspects.len()).all(|l| l.ends_with(",label_error,,keep")), "{csv}");
    assert_picture(&out.join("suspects.png"));

    // Relabel the first suspect, delete the second (if any), then undo.
    let mut rows: Vec<String> = csv.lines().map(String::from).collect();
    rows[1] = rows[1].replace(",keep", ",relabel:vertical");
    rows[2] = rows[2].replace(",keep", ",delete");
    std::fs::write(out.join("clean.csv"), rows.join("\n")).unwrap();
    let first = suspects[0]["file"].as_str().unwrap();
    let second = suspects[1]["file"].as_str().unwrap();
    let (stdout, _) = ok(run(bin().args(["clean", "apply"]).arg(out.join("clean.csv"))));
    assert!(stdout.contains("relabelled 1, moved 1 to the trash"), "{stdout}");
    let name = Path::new(first).file_name().unwrap();
    assert!(data.join("vertical").join(name).is_file() && !Path::new(first).exists());
    assert!(data.join(".imgclass-trash").join(Path::new(second).strip_prefix(&data).unwrap()).is_file());
    let (stdout, _) = ok(run(bin().args(["clean", "undo"]).arg(&data)));
    assert!(stdout.contains("reverted 2 changes"), "{stdout}");
    assert!(Path::new(first).is_file() && Path::new(second).is_file());
}

#[test]
fn clean_with_a_trained_model_scores_every_image_and_says_the_model_saw_them() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 20);
    draw(&data.join("horizontal/90.png"), 1, 90, (12, 12));
    train_tiny(t.path(), &data, &[]);
    let model = t.path().join("run/model.imgclass");
    let out = t.path().join("clean");
    let (stdout, _) =
        ok(run(bin().arg("clean").arg(&data).arg("--model").arg(&model).arg("--json").arg("--out").arg(&out)));
    let v = last_json(&stdout);
    assert_eq!(v["images"], 41);
    assert_eq!(v["classes"], serde_json::json!(["horizontal", "vertical"]));
    let method = v["method"].as_str().unwrap();
    assert!(method.starts_with("predictions of one model") && method.contains("training or validation"), "{method}");
    let kinds = ["label_error", "outlier", "duplicate"];
    assert!(v["suspects"].as_array().unwrap().iter().all(|s| kinds.contains(&s["issue"].as_str().unwrap())), "{v}");
    assert!(out.join("clean.csv").is_file());
    assert_picture(&out.join("suspects.png"));
}

#[test]
fn filters_show_kernels_learnt_filters_and_feature_maps_with_their_sizes() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 8);
    let image = data.join("vertical/01.png");
    let out = t.path().join("f.png");
    let (stdout, _) = ok(run(bin()
        .args(["filters", "apply"])
        .arg(&image)
        .args(["--kernel", "sobel_x", "--kernel", "[[1,0],[0,-1]]", "--stride", "2", "--padding", "valid", "--out"])
        .arg(&out)));
    assert!(stdout.contains("sobel_x: 12x12 -> 5x5") && stdout.contains("-> 6x6"), "{stdout}");
    assert!(out.is_file());
    let e = fails(run(bin().args(["filters", "apply"]).arg(&image).args(["--kernel", "[[1,2],[3]]"])));
    assert!(e.contains("not square"), "{e}");

    let (json, _, _) = train_tiny(t.path(), &data, &[]);
    let model = json["model"].as_str().unwrap();
    let (stdout, _) = ok(run(bin().args(["filters", "show", model, "--out"]).arg(t.path().join("ff.png"))));
    assert!(stdout.contains("32 first-layer filters"), "{stdout}");
    let (stdout, _) = ok(run(bin()
        .args(["activations", model])
        .arg(&image)
        .args(["--layer", "block2", "--out"])
        .arg(t.path().join("a.png"))));
    assert!(stdout.contains("block2: 64 feature maps of 3x3"), "{stdout}");
    assert_picture(&t.path().join("ff.png"));
    assert_picture(&t.path().join("a.png"));
}

#[test]
fn every_run_writes_a_self_contained_html_report_that_a_browser_draws() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 12);
    let (_, _, stderr) = train_tiny(t.path(), &data, &[]);
    let html_path = t.path().join("run/report.html");
    assert!(stderr.contains("report: ") && html_path.is_file(), "{stderr}");
    std::fs::remove_file(&html_path).unwrap();
    let (stdout, _) = ok(run(bin().arg("report").arg(t.path().join("run"))));
    assert!(stdout.trim().ends_with("report.html"), "{stdout}");
    let html = std::fs::read_to_string(&html_path).unwrap();
    for needle in ["Most confused", "Top losses", "Grad-CAM", "horizontal", "&quot;seed&quot;"] {
        assert!(html.contains(needle), "{needle} missing");
    }
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), 2, "confusion matrix, top losses");
    let flat = html.replace('\n', "");
    assert!(flat.contains("<svg") && flat.contains(">valid loss</text>"), "the loss curve, inline SVG");
    assert!(flat.contains("ROC AUC") && flat.contains(">false positive rate</text>"), "two classes: the ROC curve");
    assert!(!html.contains("src=\"http") && !html.contains("src=\"/"), "nothing outside the file");

    // A real browser draws it: Debian's chromium, headless.
    let Ok(chromium) = which("chromium") else {
        let _ = writeln!(std::io::stderr(), "skipped the browser check: no chromium (apt-get install chromium)");
        return;
    };
    let shot = t.path().join("report.png");
    let status = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,1400"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html_path.display()))
        .output()
        .unwrap();
    assert!(status.status.success() && shot.is_file(), "{}", String::from_utf8_lossy(&status.stderr));
    let png = image::open(&shot).unwrap().to_rgb8();
    let drawn = png.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(drawn * 100 > (png.width() * png.height()) as usize, "the page is (nearly) blank: {drawn} drawn pixels");
}

/// The path of `program` on `$PATH`.
fn which(program: &str) -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file()).ok_or(())
}

#[test]
fn idx_folders_train_on_train_files_and_test_on_t10k_files() {
    let t = tempfile::tempdir().unwrap();
    let full = t.path().join("mnist-like");
    std::fs::create_dir_all(&full).unwrap();
    let (imgs, lbls) = idx_images(60);
    write_idx(&full, "train", &imgs, &lbls);
    let (imgs, lbls) = idx_images(20);
    write_idx(&full, "t10k", &imgs, &lbls);
    let out = t.path().join("run");
    let (stdout, stderr) = ok(run(bin()
        .arg("train")
        .arg(&full)
        .args(["--arch", "logreg", "--epochs", "2", "--batch-size", "8", "--json", "--out"])
        .arg(&out)));
    assert!(stderr.contains("48 train, 12 valid, 20 test; input 1×4×4"), "{stderr}");
    let v = last_json(&stdout);
    assert!(v["test_accuracy"].is_number(), "{v}");

    // A folder holding only the t10k files is a test set the model never saw.
    let test_only = t.path().join("test-only");
    std::fs::create_dir_all(&test_only).unwrap();
    write_idx(&test_only, "t10k", &imgs, &lbls);
    let (stdout, _) = ok(run(bin().arg("evaluate").arg(v["model"].as_str().unwrap()).arg(&test_only).arg("--json")));
    assert_eq!(last_json(&stdout)["n_images"], 20);
}

#[test]
fn a_model_trained_on_a_lone_split_refuses_to_be_scored_on_that_split() {
    // The rule for the bundled sample (Fashion-MNIST's t10k files): never scored on them.
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("t10k-only");
    std::fs::create_dir_all(&d).unwrap();
    let (imgs, lbls) = idx_images(40);
    write_idx(&d, "t10k", &imgs, &lbls);
    let out = t.path().join("run");
    let (stdout, _) =
        ok(run(bin().arg("train").arg(&d).args(["--arch", "logreg", "--epochs", "1", "--json", "--out"]).arg(&out)));
    let model = last_json(&stdout)["model"].as_str().unwrap().to_string();
    let copy = t.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    write_idx(&copy, "t10k", &imgs, &lbls);
    let err = fails(run(bin().arg("evaluate").arg(&model).arg(&copy)));
    assert!(err.contains("IDX files are the data this model was trained on"), "{err}");
}

#[test]
fn a_copy_of_the_idx_test_files_in_a_folder_of_any_name_is_scored_by_label_index() {
    // As a new user would: a model trained on named IDX classes (the Fashion-MNIST names come
    // from the folder's name or a classes.txt), evaluated on a copy of the t10k files in a
    // folder whose name says nothing, e.g. ~/fm-test.
    let t = tempfile::tempdir().unwrap();
    let named = t.path().join("named");
    std::fs::create_dir_all(&named).unwrap();
    let (imgs, lbls) = idx_images(60);
    write_idx(&named, "train", &imgs, &lbls);
    let (test_imgs, test_lbls) = idx_images(20);
    write_idx(&named, "t10k", &test_imgs, &test_lbls);
    std::fs::write(named.join("classes.txt"), "top\nbottom\n").unwrap();
    let out = t.path().join("run");
    let (stdout, _) = ok(run(bin()
        .arg("train")
        .arg(&named)
        .args(["--arch", "logreg", "--epochs", "2", "--json", "--out"])
        .arg(&out)));
    let model = last_json(&stdout)["model"].as_str().unwrap().to_string();

    let copy = t.path().join("fm-test");
    std::fs::create_dir_all(&copy).unwrap();
    write_idx(&copy, "t10k", &test_imgs, &test_lbls);
    let (stdout, _) = ok(run(bin().args(["evaluate", &model]).arg(&copy).arg("--json")));
    let v = last_json(&stdout);
    assert_eq!(v["n_images"], 20);
    let classes: Vec<&str> = v["per_class"].as_array().unwrap().iter().map(|c| c["class"].as_str().unwrap()).collect();
    assert_eq!(classes, ["top", "bottom"], "label i is the model's i-th class");
    assert_eq!(v["per_class"][0]["support"], 10);
}
