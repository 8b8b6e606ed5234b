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
