//! Tasks beyond one class per image (issue 25): multi-label, regression and counts trained
//! from a labels CSV end to end, and the one-line errors of a malformed CSV.

use std::path::Path;

use image::{Rgb, RgbImage};

use super::*;

/// A 12×12 image on a background of brightness `grey`, with a horizontal bar, a vertical bar,
/// and `dots` single bright pixels in the bottom row, as asked.
fn picture(path: &Path, grey: u8, horizontal: bool, vertical: bool, dots: usize, i: usize) {
    let mut img = RgbImage::from_pixel(12, 12, Rgb([grey; 3]));
    for k in 0..12 {
        if horizontal {
            img.put_pixel(k, 4, Rgb([250, 40, 40]));
        }
        if vertical {
            img.put_pixel(7, k, Rgb([40, 250, 40]));
        }
    }
    for d in 0..dots as u32 {
        img.put_pixel(1 + 3 * d, 10, Rgb([255, 255, 255]));
        img.put_pixel(1 + 3 * d, 11, Rgb([255, 255, 255]));
    }
    img.put_pixel(0, 0, Rgb([i as u8, 0, 1])); // every image unique
    img.save(path).unwrap();
}

/// `n` images in `dir` with `labels.csv`: multi-label tags (`h`, `v`, both or none), the
/// background brightness as a number with a fraction, and a dot count.
fn task_folder(dir: &Path, n: usize) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut csv = String::from("file,tags,brightness,dots\n");
    for i in 0..n {
        let (h, v, dots) = (i % 2 == 1, (i / 2) % 2 == 1, (i / 4) % 4);
        let grey = 20 + (i * 37 % 200) as u8;
        picture(&dir.join(format!("{i:03}.png")), grey, h, v, dots, i);
        let tags = [(h, "h"), (v, "v")].iter().filter(|(on, _)| *on).map(|(_, t)| *t).collect::<Vec<_>>().join(" ");
        csv += &format!("{i:03}.png,{tags},{:.1},{dots}\n", f64::from(grey) / 10.0);
    }
    let path = dir.join("labels.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

/// Trains 8 epochs of a small dense network on 12-pixel inputs into `dir/out`.
fn train_task(dir: &Path, data: &Path, out: &str, extra: &[&str]) -> (serde_json::Value, String, String) {
    let mut cmd = bin();
    cmd.current_dir(dir).arg("train").arg(data);
    cmd.args(["--arch", "mlp", "--epochs", "8", "--size", "12", "--batch-size", "8", "--json", "--out"])
        .arg(dir.join(out));
    let (stdout, stderr) = ok(run(cmd.args(extra)));
    (last_json(&stdout), stdout, stderr)
}

fn report_json(json: &serde_json::Value) -> serde_json::Value {
    let run = PathBuf::from(json["run_dir"].as_str().unwrap());
    serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap()
}

#[test]
fn a_csv_of_several_labels_trains_a_multi_label_model_and_reports_its_metrics_by_name() {
    let t = tempfile::tempdir().unwrap();
    let csv = task_folder(&t.path().join("data"), 96);
    let labels_csv = csv.to_str().unwrap();
    let (json, stdout, stderr) = train_task(t.path(), &t.path().join("data"), "run", &["--labels", labels_csv]);
    assert!(stderr.contains("multi-label"), "{stderr}");
    assert_eq!(json["task"], "multi-label", "{json}");
    assert!(
        stdout.contains("accuracy_multi") && stdout.contains("f1_micro"),
        "the epoch table names the task's metrics:\n{stdout}"
    );
    for k in ["accuracy_multi", "f1_micro", "f1_macro", "f1_samples", "map"] {
        let v = json[k].as_f64().unwrap_or_else(|| panic!("{k} in {json}"));
        assert!((0.0..=1.0).contains(&v), "{k} {v}");
    }
    assert!(json["accuracy_multi"].as_f64().unwrap() > 0.8, "bars are easy to see: {json}");
    let run = PathBuf::from(json["run_dir"].as_str().unwrap());
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(metrics.starts_with("epoch,train_loss,valid_loss,accuracy_multi,f1_micro"), "{metrics}");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("average precision") && html.contains("<td>h<"), "per-class table");
    let per_class = &report_json(&json)["final_metrics"]["task"]["multi_label"]["per_class"];
    assert_eq!(per_class.as_array().map(Vec::len), Some(2), "{per_class}");
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["train"]["task"]["kind"], "multi-label", "the run saves the task it found");

    // predict: the labels at the threshold, per image; CSV has a column per label.
    let (data, model) = (t.path().join("data"), run.join("model.imgclass"));
    let (out, _) =
        ok(run_cmd(bin().arg("predict").arg(&model).arg(data.join("003.png")).arg(data.join("000.png")).arg("--json")));
    let predictions = last_json(&out)["predictions"].clone();
    let labels = |p: &serde_json::Value| -> Vec<String> {
        p["labels"].as_array().unwrap().iter().map(|l| l["label"].as_str().unwrap().to_string()).collect()
    };
    let mut both = labels(&predictions[0]);
    both.sort();
    assert_eq!(both, ["h", "v"], "003.png has both bars: {predictions}");
    assert!(labels(&predictions[1]).is_empty(), "000.png has none: {predictions}");
    let (csv_out, _) = ok(run_cmd(bin().arg("predict").arg(&model).arg(data.join("003.png")).arg("--csv")));
    assert!(csv_out.starts_with("file,labels,h,v\n"), "{csv_out}");

    // evaluate: the task's metrics and per-class table, from the labels CSV.
    let evaluate = |extra: &[&str]| {
        let mut cmd = bin();
        cmd.arg("evaluate").arg(&model).arg(&data).arg("--allow-training-data").args(extra);
        run_cmd(&mut cmd)
    };
    let (out, _) = ok(evaluate(&["--labels", labels_csv, "--json"]));
    let report = last_json(&out);
    assert!(
        report["f1_macro"].as_f64().is_some() && report["task"]["multi_label"]["per_class"][1]["class"] == "v",
        "{report}"
    );
    let err = fails(evaluate(&[]));
    assert!(err.contains("--labels"), "{err}");

    // data check and show read the labels as training does.
    let (out, _) = ok(run_cmd(bin().args(["data", "check"]).arg(&data).arg("--labels").arg(&csv)));
    assert!(out.contains('h') && out.contains('v'), "{out}");

    // interpret: the losses ranked by binary cross-entropy, with actual and predicted labels,
    // and each label's 2×2 confusion matrix.
    let (out, _) = ok(run_cmd(bin().arg("interpret").arg(&run).arg("--json").arg("--out").arg(t.path().join("i"))));
    let interp = last_json(&out);
    let worst = &interp["losses"][0];
    assert!(
        worst["label"].is_string() && worst["predicted"].is_string() && worst.get("probability").is_none(),
        "{worst}"
    );
    let loss = |r: usize| interp["losses"][r]["loss"].as_f64().unwrap();
    assert!(loss(0) >= loss(1) && interp["f1_micro"].is_number(), "{interp}");
    let h = &interp["task"]["multi_label"]["per_class"][0];
    let cells: u64 = ["true_positives", "false_positives", "false_negatives", "true_negatives"]
        .iter()
        .map(|k| h[k].as_u64().unwrap())
        .sum();
    assert_eq!(cells, interp["images"].as_u64().unwrap(), "each image in one cell of each label's 2×2: {h}");
    let losses = std::fs::read_to_string(t.path().join("i/losses.csv")).unwrap();
    assert!(losses.starts_with("rank,file,labels,predicted,loss\n"), "{losses}");
    assert!(t.path().join("i/top_losses.png").is_file() && html.contains("<th title='has it, predicted'>TP"));
}

fn run_cmd(cmd: &mut std::process::Command) -> std::process::Output {
    run(cmd)
}

#[test]
fn a_numeric_target_trains_a_regression_that_beats_the_mean_and_a_count_trains_with_poisson() {
    let t = tempfile::tempdir().unwrap();
    let csv = task_folder(&t.path().join("data"), 96);
    let labels = csv.to_str().unwrap();
    let data = t.path().join("data");
    let (json, stdout, _) = train_task(t.path(), &data, "reg", &["--labels", labels, "--target", "brightness"]);
    assert_eq!(json["task"], "regression", "{json}");
    assert!(stdout.contains("mae") && stdout.contains("r2"), "{stdout}");
    let target = &report_json(&json)["final_metrics"]["task"]["values"]["per_target"][0];
    assert_eq!(target["name"], "brightness");
    let (mae, baseline) = (target["mae"].as_f64().unwrap(), target["baseline_mae"].as_f64().unwrap());
    assert!(mae < 0.5 * baseline, "the background's brightness is in every pixel: MAE {mae}, baseline {baseline}");
    let model = PathBuf::from(json["run_dir"].as_str().unwrap()).join("model.imgclass");
    let mut cmd = bin();
    let (out, _) = ok(run(cmd.arg("predict").arg(&model).arg(data.join("001.png")).arg("--json")));
    let value = last_json(&out)["predictions"][0]["value"].as_f64().unwrap_or_else(|| panic!("a value: {out}"));
    assert!((value - 5.7).abs() < 2.0, "001.png's background is 57: {value}");
    let mut cmd = bin();
    let (out, _) =
        ok(run(cmd.arg("evaluate").arg(&model).arg(&data).args(["--labels", labels, "--allow-training-data"])));
    assert!(out.contains("baseline MAE") && out.contains("brightness"), "{out}");
    let run_dir = model.parent().unwrap();
    assert!(run_dir.join("scatter.png").is_file() && run_dir.join("residuals.png").is_file());
    let html = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    assert!(html.contains("alt=\"predicted vs actual\"") && html.contains("alt=\"top losses\""), "{html:.300}");
    let mut cmd = bin();
    let evaluated = t.path().join("eval");
    cmd.arg("evaluate").arg(&model).arg(&data).args(["--labels", labels, "--allow-training-data", "--out"]);
    ok(run(cmd.arg(&evaluated)));
    assert!(evaluated.join("scatter.png").is_file() && evaluated.join("residuals.png").is_file());

    // interpret: the largest errors, with predicted and actual value.
    let mut cmd = bin();
    cmd.arg("interpret").arg(&model).arg(&data).args(["--labels", labels, "--allow-training-data", "--json", "--out"]);
    let (out, _) = ok(run(cmd.arg(t.path().join("i"))));
    let worst = &last_json(&out)["losses"][0];
    let (actual, predicted) = (worst["label"].as_str().unwrap(), worst["predicted"].as_str().unwrap());
    let error: f64 = actual.parse::<f64>().unwrap() - predicted.parse::<f64>().unwrap();
    assert!((error.abs() - worst["error"].as_f64().unwrap()).abs() < 0.01, "{worst}");
    let losses = std::fs::read_to_string(t.path().join("i/losses.csv")).unwrap();
    assert!(losses.starts_with("rank,file,actual,predicted,error,loss\n"), "{losses}");
    assert!(t.path().join("i/scatter.png").is_file());

    let (json, _, _) =
        train_task(t.path(), &data, "count", &["--labels", labels, "--target", "dots", "--task", "count"]);
    assert_eq!(json["task"], "count", "{json}");
    let exact = json["exact_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&exact), "{json}");
    let run = PathBuf::from(json["run_dir"].as_str().unwrap());
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["train"]["task"]["kind"], "count");
}

#[test]
fn a_pretrained_body_fine_tunes_for_numbers_from_a_ridge_probe() {
    let name = "a_pretrained_body_fine_tunes_for_numbers_from_a_ridge_probe";
    if efficientnet_weights_or_skip(name).is_none() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let csv = task_folder(&data, 48);
    let mut cmd = bin();
    cmd.current_dir(t.path()).arg("train").arg(&data).arg("--labels").arg(&csv);
    cmd.args(["--target", "brightness", "--arch", "efficientnet_lite0", "--pretrained", "--fine-tune", "1"]);
    let (stdout, stderr) =
        ok(run(cmd.args(["--size", "32", "--batch-size", "8", "--json", "--out"]).arg(t.path().join("ft"))));
    assert!(stderr.contains("linear probe: L2 strength"), "{stderr}");
    assert_eq!(stdout.matches("(body frozen)").count(), 1, "the probe is the one frozen epoch: {stdout}");
    let json = last_json(&stdout);
    assert_eq!(json["task"], "regression", "{json}");
    let target = &report_json(&json)["final_metrics"]["task"]["values"]["per_target"][0];
    let (mae, baseline) = (target["mae"].as_f64().unwrap(), target["baseline_mae"].as_f64().unwrap());
    assert!(mae < baseline, "the probe and one epoch beat the mean: MAE {mae}, baseline {baseline}");
}

#[test]
fn each_malformed_targets_csv_is_a_one_line_error_naming_the_file_line_and_column() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    task_folder(&data, 8);
    let csv = data.join("bad.csv");
    let cases: [(&str, &[&str], &[&str]); 5] = [
        (
            "file,angle\n000.png,1.5\n001.png,abc\n",
            &["--target", "angle"],
            &["bad.csv:3", "\"angle\"", "not a finite number"],
        ),
        ("file,n\n000.png,2\n001.png,-1\n", &["--task", "count"], &["bad.csv:3", "\"n\"", "not a count"]),
        ("file,n\n000.png,2\n001.png,1.5\n", &["--task", "count"], &["bad.csv:3", "not a count"]),
        ("file,cat,dog\n000.png,1,0\n001.png,1,2\n", &["--label-columns"], &["bad.csv:3", "\"dog\"", "not 0 or 1"]),
        ("file,cat,dog\n000.png,1,0\n", &["--label-columns", "cat,dgo"], &["bad.csv:1", "no column \"dgo\""]),
    ];
    for (text, flags, want) in cases {
        std::fs::write(&csv, text).unwrap();
        let mut cmd = bin();
        cmd.arg("train")
            .arg(&data)
            .arg("--labels")
            .arg(&csv)
            .args(flags)
            .args(["--epochs", "1", "--out"])
            .arg(t.path().join("r"));
        let err = fails(run(&mut cmd));
        for w in want {
            assert!(err.contains(w), "{text:?} {flags:?}: {w:?} not in {err}");
        }
    }
    let mut cmd = bin();
    cmd.arg("train").arg(t.path().join("nowhere")).args(["--task", "regression", "--epochs", "1"]);
    let err = fails(run(&mut cmd));
    assert!(err.contains("--task") && err.contains("--labels CSV"), "{err}");
    let mut cmd = bin();
    cmd.arg("train").arg(&data).arg("--labels").arg(data.join("labels.csv")).args([
        "--target",
        "brightness",
        "--loss",
        "poisson",
        "--epochs",
        "1",
    ]);
    let err = fails_last(run(&mut cmd));
    assert!(err.contains("--loss") && err.contains("counts"), "{err}");
}

/// Runs `clean` with out-of-fold models (2 folds of `train_task`'s recipe) on `data`, writing
/// into `dir/out`; returns its JSON and `clean.csv`'s path.
fn clean_task(dir: &Path, data: &Path, out: &str, extra: &[&str]) -> (serde_json::Value, PathBuf) {
    let mut cmd = bin();
    cmd.current_dir(dir).arg("clean").arg(data).args(["--folds", "2", "--arch", "mlp", "--epochs", "8"]);
    cmd.args(["--size", "12", "--batch-size", "8", "--json", "--out"]).arg(dir.join(out));
    let (stdout, _) = ok(run(cmd.args(extra)));
    (last_json(&stdout), dir.join(out).join("clean.csv"))
}

/// `clean.csv` with the row of `file`'s label error set to `action`.
fn decide(csv: &Path, file: &str, action: &str) {
    let text = std::fs::read_to_string(csv).unwrap();
    let row = text.lines().find(|l| l.contains(file) && l.contains("label_error")).expect("the row");
    let decided = format!("{},{action}", row.rsplit_once(',').unwrap().0);
    std::fs::write(csv, text.replace(row, &decided)).unwrap();
}

#[test]
fn clean_finds_a_missing_tag_and_a_wrong_number_and_apply_writes_the_fix_into_the_labels_csv() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let csv = task_folder(&data, 96);
    let original = std::fs::read_to_string(&csv).unwrap();
    // 003.png shows both bars but is tagged `h` alone; 010.png's background is 19.0, not 99.9.
    let planted = original.replace("003.png,h v,", "003.png,h,").replace("010.png,v,19.0,", "010.png,v,99.9,");
    assert_ne!(planted, original);
    std::fs::write(&csv, &planted).unwrap();
    let labels = csv.to_str().unwrap();

    let (json, clean_csv) = clean_task(t.path(), &data, "tags", &["--labels", labels]);
    assert_eq!(json["task"], "multi-label", "{json}");
    assert!(json["metrics"]["f1_micro"].as_f64().is_some() && json.get("confident_joint").is_none(), "{json}");
    let errors: Vec<&serde_json::Value> =
        json["suspects"].as_array().unwrap().iter().filter(|s| s["issue"] == "label_error").collect();
    let tag = errors.iter().find(|s| s["file"].as_str().unwrap().ends_with("003.png"));
    let tag = tag.unwrap_or_else(|| panic!("003.png among the label errors: {errors:?}"));
    assert_eq!((tag["label"].as_str(), tag["suggested"].as_str()), (Some("h"), Some("h v")), "{tag}");
    decide(&clean_csv, "003.png", "relabel:h v");
    let (out, _) = ok(run(bin().current_dir(t.path()).args(["clean", "apply"]).arg(&clean_csv)));
    assert!(out.contains("relabelled 1"), "{out}");
    assert!(std::fs::read_to_string(&csv).unwrap().contains("003.png,h v,"));
    ok(run(bin().args(["clean", "undo"]).arg(&data)));
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), planted, "undo restores the labels CSV byte for byte");

    let (json, clean_csv) = clean_task(t.path(), &data, "numbers", &["--labels", labels, "--target", "brightness"]);
    assert_eq!(json["task"], "regression", "{json}");
    let worst = json["suspects"].as_array().unwrap().iter().find(|s| s["issue"] == "label_error").unwrap();
    assert!(worst["file"].as_str().unwrap().ends_with("010.png"), "the largest error first: {json}");
    let suggested: f64 = worst["suggested"].as_str().unwrap().parse().unwrap();
    assert!((suggested - 19.0).abs() < 5.0, "its prediction, near the true 19.0: {worst}");
    decide(&clean_csv, "010.png", "relabel:19");
    ok(run(bin().current_dir(t.path()).args(["clean", "apply"]).arg(&clean_csv)));
    assert!(std::fs::read_to_string(&csv).unwrap().contains("010.png,v,19,"));
}
