//! Real-world folders: unreadable and converted files, labels from CSV files and names, `data check` and `data show`.

use super::*;

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
    assert_run(&json, 3);
    assert!(stderr.contains("notes_about_data.png") && stderr.contains("does not match the label regex"), "{stderr}");
    let (stdout, _) = ok(run(bin().args(["data", "check", "--labels"]).arg(flat.join("labels.csv"))));
    assert!(stdout.contains("16 readable images, 2 classes") && stdout.contains("missing.png"), "{stdout}");
    let out = t.path().join("csv-run");
    let (json, _, _) = train_tiny(
        t.path(),
        &flat,
        &["--labels", flat.join("labels.csv").to_str().unwrap(), "--arch", "logreg", "--out", out.to_str().unwrap()],
    );
    assert_run(&json, 3);
    let err = fails(run(bin().args(["train", "--label-regex", "(x"]).arg(&flat)));
    assert!(err.contains("not a valid regular expression"), "{err}");
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
    assert_run(&json, 3);
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
    // Tiles of 96 px (12 px enlarged 8 times), 8 px apart, a 14-px caption under each, a 20-px title.
    assert_eq!(image::image_dimensions(&out).unwrap(), (2 * 104 + 8, 20 + 2 * 118 + 8));
    ok(run(bin()
        .args(["data", "show"])
        .arg(&data)
        .args(["--size", "12", "--aug", "default", "--count", "3", "--versions", "2", "--out"])
        .arg(&out)));
    assert_eq!(image::image_dimensions(&out).unwrap(), (3 * 104 + 8, 20 + 3 * 118 + 8));
}

include!("../../../imgclass/tests/support/bombs.rs");

#[test]
fn an_image_over_max_pixels_is_named_and_skipped_by_data_check() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    class_folder(&data, 4);
    RgbImage::from_pixel(40, 30, Rgb([9, 9, 9])).save(data.join("horizontal/big.png")).unwrap();
    let check = |limit: &str| ok(run(bin().args(["data", "check", "--max-pixels", limit]).arg(&data))).0;
    let stdout = check("1200");
    assert!(stdout.contains("9 readable images") && !stdout.contains("unreadable"), "{stdout}");
    let stdout = check("1199");
    assert!(stdout.contains("8 readable images") && stdout.contains("unreadable (1)"), "{stdout}");
    let line = stdout.lines().find(|l| l.contains("big.png")).unwrap_or_else(|| panic!("not named:\n{stdout}"));
    assert!(line.contains("40 × 30 pixels, more than the 1199 pixels"), "{line}");
    let err = fails(run(bin().args(["data", "check", "--max-pixels", "0"]).arg(&data)));
    assert!(err.contains("--max-pixels"), "{err}");
}

#[test]
fn decompression_bombs_a_fifo_and_dev_zero_are_named_and_skipped_by_data_check_train_and_predict() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    class_folder(&data, 6);
    std::fs::write(data.join("horizontal/bomb.png"), png_declaring(50_000, 50_000)).unwrap();
    std::fs::write(data.join("vertical/bomb_rgb.jpg"), jpeg_declaring(65_500, false)).unwrap();
    std::fs::write(data.join("vertical/bomb_grey.jpg"), jpeg_declaring(65_500, true)).unwrap();
    let bombs = ["bomb.png", "bomb_rgb.jpg", "bomb_grey.jpg"];
    let (stdout, _) = ok(run(bin().args(["data", "check"]).arg(&data)));
    assert!(stdout.contains("12 readable images") && stdout.contains("unreadable (3)"), "{stdout}");
    for b in bombs {
        let line = stdout.lines().find(|l| l.contains(b)).unwrap_or_else(|| panic!("{b} not named:\n{stdout}"));
        assert!(line.contains("pixels, more than the 178956970 pixels imgclass decodes"), "{line}");
    }
    let (json, _, stderr) = train_tiny(t.path(), &data, &["--arch", "logreg"]);
    assert!(bombs.iter().all(|b| stderr.contains(b)) && json["skipped"] == 3, "{stderr}");

    let fifo = t.path().join("pipe.png");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let model = json["model"].as_str().unwrap();
    let o = run(bin().arg("predict").arg(model).arg(&data).arg(&fifo).arg("/dev/zero"));
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "some inputs skipped:\n{stdout}\n{stderr}");
    assert_eq!(stdout.lines().count(), 12, "{stdout}");
    assert!(bombs.iter().all(|b| stderr.contains(b)), "{stderr}");
    assert!(stderr.contains("pipe.png: not a regular file but a FIFO"), "{stderr}");
    assert!(stderr.contains("/dev/zero: not a regular file but a character special file"), "{stderr}");
    for bad_model in [fifo.as_path(), Path::new("/dev/zero")] {
        let err = fails(run(bin().arg("predict").arg(bad_model).arg(&data)));
        assert!(err.contains("not a regular file"), "{err}");
    }
}

#[test]
fn class_names_holding_terminal_escape_sequences_are_printed_escaped() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    class_folder(&data, 3);
    for i in 0..3 {
        draw(&data.join("\u{1b}]0;x\u{7}").join(format!("{i}.png")), 0, 40 + i, (12, 12));
    }
    let (stdout, _) = ok(run(bin().args(["data", "check"]).arg(&data)));
    assert!(!stdout.contains('\u{1b}') && !stdout.contains('\u{7}'), "{stdout:?}");
    assert!(stdout.contains("\\u{1b}]0;x\\u{7}"), "{stdout}");
    assert!(stdout.contains("horizontal"), "{stdout}");
}
