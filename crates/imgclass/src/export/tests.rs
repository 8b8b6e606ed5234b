//! The exported graphs, read back and run. The structure is checked here; the numbers by
//! onnxruntime (`tests/onnx/check_onnx.py`, run from [`the_exported_graphs_compute_imgclass_answers_in_onnxruntime`])
//! and by tract (`tools/tract-check`, run by `bench/onnx_parity.sh` on the cases this test
//! leaves in `IMGCLASS_ONNX_CASES`).

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::module::RunningState;
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::Distribution;
use onnx_ir::{Message, ModelProto};
use serde_json::json;

use super::*;
use crate::bundle::BundleMeta;
use crate::models::{Arch, ArchKind, LiteVariant, Net};
use crate::transforms::{Preprocess, ResizeMode};

/// Images per case, as the issue asks.
const IMAGES: usize = 20;

/// Every batch norm of `net`, to give them running statistics other than 0 and 1.
fn batch_norms(net: &mut Net) -> Vec<&mut BatchNorm> {
    match net {
        Net::Mlp(_) => vec![],
        Net::Cnn(m) => m.blocks.iter_mut().flat_map(|b| b.convs.iter_mut().filter_map(|c| c.bn.as_mut())).collect(),
        Net::ResNet(m) => {
            let blocks = m.layer1.iter_mut().chain(&mut m.layer2).chain(&mut m.layer3).chain(&mut m.layer4);
            let inner = blocks.flat_map(|b| {
                let d = b.downsample.as_mut().map(|d| &mut d.bn);
                [Some(&mut b.bn1), Some(&mut b.bn2), d].into_iter().flatten()
            });
            std::iter::once(&mut m.bn1).chain(inner).collect()
        }
        Net::EfficientNet(m) => {
            let blocks = m
                .blocks
                .iter_mut()
                .flat_map(|b| [b.bn0.as_mut(), Some(&mut b.bn1), Some(&mut b.bn2)].into_iter().flatten());
            [&mut m.bn0].into_iter().chain(blocks).chain([&mut m.bn1]).collect()
        }
    }
}

/// The classifier layer of `net`.
fn head(net: &mut Net) -> &mut burn::nn::Linear {
    match net {
        Net::Mlp(m) => &mut m.output,
        Net::Cnn(m) => &mut m.output,
        Net::ResNet(m) => &mut m.fc,
        Net::EfficientNet(m) => &mut m.fc,
    }
}

/// Running statistics other than 0 and 1 in every batch norm, and a classifier scaled so that
/// the largest output on random inputs is 8: probabilities far from uniform, not saturated.
fn randomize_statistics(net: &mut Net, [c, h, w]: [usize; 3], d: &Device) {
    for bn in batch_norms(net) {
        let c = bn.gamma.dims()[0];
        let r = |lo: f64, hi: f64| Tensor::<1>::random([c], Distribution::Uniform(lo, hi), d);
        bn.running_mean = RunningState::new(r(-0.5, 0.5));
        bn.running_var = RunningState::new(r(0.5, 2.0));
        bn.gamma = bn.gamma.clone().map(|_| r(0.5, 1.5));
        bn.beta = bn.beta.clone().map(|_| r(-0.2, 0.2));
    }
    let z = net.forward(Tensor::random([8, c, h, w], Distribution::Normal(0.0, 1.0), d));
    let scale = 8.0 / z.abs().max().into_scalar::<f32>().max(1e-6);
    let fc = head(net);
    fc.weight = fc.weight.clone().map(|w| w * scale);
    fc.bias = fc.bias.take().map(|b| b.map(|b| b * scale));
}

/// A bundle of `kind` for `[c, side, side]` inputs and the task `task` (JSON, as bundles store it).
fn bundle(kind: ArchKind, c: usize, side: usize, task: serde_json::Value) -> Bundle {
    let d = Device::flex();
    let labels: Vec<String> = serde_json::from_value(task["names"].clone()).unwrap();
    let arch: Arch = kind.arch();
    let mut net = arch.init([c, side, side], labels.len(), &d).unwrap();
    randomize_statistics(&mut net, [c, side, side], &d);
    let mut pre = Preprocess::new(side, side, c, ResizeMode::Squish);
    pre.fit_normalization(&(0..c * side * side).map(|i| (i * 37 % 251) as u8).collect::<Vec<u8>>());
    let mut meta = BundleMeta::new(labels, arch, pre);
    meta.task = Some(serde_json::from_value(task).unwrap());
    Bundle::from_parts(meta, net, d)
}

fn classes(n: usize) -> serde_json::Value {
    json!({"kind": "single-label", "names": (0..n).map(|i| format!("class {i}")).collect::<Vec<_>>()})
}

/// One bundle per architecture and one per task: the cases every runtime is checked on.
fn cases() -> Vec<(String, Bundle)> {
    let mut out = vec![];
    for (kind, c, side) in [
        (ArchKind::Logreg, 1, 28),
        (ArchKind::Mlp, 1, 28),
        (ArchKind::Cnn, 1, 28),
        (ArchKind::Resnet18, 3, 64),
        (ArchKind::Resnet34, 3, 64),
        (ArchKind::EfficientnetLite0, 3, 64),
        (ArchKind::EfficientnetLite1, 3, 64),
        (ArchKind::EfficientnetLite2, 3, 64),
    ] {
        out.push((kind.arch().name().to_string(), bundle(kind, c, side, classes(10))));
    }
    // The CNN's grid pooling (a 40 px input leaves 10×10 maps for a 7×7 grid) and the tasks.
    out.push(("cnn_grid_pool".into(), bundle(ArchKind::Cnn, 3, 40, classes(3))));
    let names = json!(["a", "b", "c"]);
    let tasks = [
        ("multi_label", json!({"kind": "multi-label", "names": names, "thresholds": [0.5, 0.3, 0.7]})),
        ("regression", json!({"kind": "regression", "names": ["angle"], "mean": [12.5], "std": [30.0], "loss": "mse"})),
        (
            "regression_y_range",
            json!({"kind": "regression", "names": ["x", "y"], "mean": [0.1, 3.0], "std": [1.0, 2.0], "loss": "huber", "y_range": [-1.0, 5.0]}),
        ),
        ("count_poisson", json!({"kind": "count", "names": ["items"], "mean": [3.2], "std": [1.5], "loss": "poisson"})),
        ("count_mse", json!({"kind": "count", "names": ["items"], "mean": [3.2], "std": [1.5], "loss": "mse"})),
    ];
    for (name, task) in tasks {
        out.push((name.into(), bundle(ArchKind::Cnn, 1, 28, task)));
    }
    // The real ImageNet weights of EfficientNet-Lite0, when a test or `weights fetch` has
    // cached them (a fresh machine runs this file before the tests that fetch them).
    let weights = crate::models::pretrained::efficientnet_lite_path(LiteVariant::Lite0);
    if weights.is_file() {
        out.push(("efficientnet_lite0_imagenet".into(), imagenet_lite0(&weights)));
    }
    out
}

/// EfficientNet-Lite0 with its pretrained ImageNet weights and head, at 224 px.
fn imagenet_lite0(weights: &Path) -> Bundle {
    let d = Device::flex();
    let arch = ArchKind::EfficientnetLite0.arch();
    let labels = crate::models::pretrained::imagenet_classes();
    let mut net = arch.init([3, 224, 224], labels.len(), &d).unwrap();
    crate::models::pretrained::load_into(&mut net, weights, true).unwrap();
    let mut pre = Preprocess::new(224, 224, 3, ResizeMode::Squish);
    let (mean, std) = crate::models::efficientnet::LITE_STATS;
    (pre.mean, pre.std) = (mean.to_vec(), std.to_vec());
    Bundle::from_parts(BundleMeta::new(labels, arch, pre), net, d)
}

fn read(bytes: &[u8]) -> ModelProto {
    ModelProto::parse_from_bytes(bytes).unwrap()
}

#[test]
fn every_architecture_and_task_exports_a_graph_with_named_outputs_folded_batch_norm_and_metadata() {
    for (name, b) in cases() {
        let m = read(&b.to_onnx(&OnnxOptions::default()).unwrap());
        assert_eq!((m.opset_import[0].version, m.opset_import[0].domain.as_str()), (OPSET, ""), "{name}");
        let g = m.graph.as_ref().unwrap();
        let outputs: Vec<&str> = g.output.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(outputs, ["probabilities", "logits"], "{name}");
        assert_eq!(g.input[0].name, "input", "{name}");
        let dims = &g.input[0].type_.tensor_type().shape.dim;
        assert_eq!((dims.len(), dims[0].dim_param()), (4, "batch"), "{name}");
        let [c, h, w] = b.meta().input();
        let fixed: Vec<i64> = dims[1..].iter().map(|d| d.dim_value()).collect();
        assert_eq!(fixed, [c as i64, h as i64, w as i64], "{name}");
        assert!(g.node.iter().all(|n| n.op_type != "BatchNormalization"), "{name}: batch norm left unfolded");
        let meta: std::collections::HashMap<&str, &str> =
            m.metadata_props.iter().map(|p| (p.key.as_str(), p.value.as_str())).collect();
        let labels: Vec<String> = serde_json::from_str(meta["labels"]).unwrap();
        assert_eq!(labels, b.meta().labels(), "{name}");
        for key in ["input_size", "channels", "resize", "mean", "std", "task", "threshold", "input"] {
            serde_json::from_str::<serde_json::Value>(meta[key]).unwrap_or_else(|e| panic!("{name} {key}: {e}"));
        }
        assert_eq!(meta["input"], "\"normalized\"", "{name}");
    }
}

#[test]
fn preprocessing_in_the_graph_takes_pixels_and_says_so() {
    let b = bundle(ArchKind::Logreg, 1, 8, classes(2));
    let m = read(&b.to_onnx(&OnnxOptions::default().with_preprocessing(true)).unwrap());
    let g = m.graph.as_ref().unwrap();
    let first: Vec<&str> = g.node.iter().take(2).map(|n| n.op_type.as_str()).collect();
    assert_eq!(first, ["Mul", "Sub"]);
    assert_eq!(g.node[0].input[0], "input");
    assert!(m.metadata_props.iter().any(|p| p.key == "input" && p.value == "\"pixels_0_255\""));
}

/// Writes each case (the file, inputs, imgclass's logits and answers) into `dir` and lists
/// them in `cases.json`; returns how many.
fn write_cases(dir: &Path) -> usize {
    std::fs::create_dir_all(dir).unwrap();
    let mut list = vec![];
    for (name, b) in cases() {
        let [c, h, w] = b.meta().input();
        let preprocessed = name == "cnn" || name == "efficientnet_lite0";
        let options = OnnxOptions::default().with_preprocessing(preprocessed);
        b.export_onnx(&dir.join(format!("{name}.onnx")), &options).unwrap();
        let d = b.device().clone();
        let pixels = Tensor::<4>::random([IMAGES, c, h, w], Distribution::Uniform(0.0, 255.0), &d).round();
        let (mean, std) = b.meta().preprocess().mean_std();
        let to = |v: &[f32]| Tensor::<1>::from_floats(v, &d).reshape([1, c, 1, 1]);
        let x = pixels.clone() / (to(std) * 255.0) - to(mean) / to(std);
        let logits = graph::values(b.net().forward(x.clone()));
        let k = logits.len() / IMAGES;
        let task = b.meta().task();
        let answers: Vec<f32> = logits.chunks(k).flat_map(|z| task.answer_row(z)).collect();
        let input = if preprocessed { pixels } else { x };
        let bytes = |v: &[f32]| v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>();
        std::fs::write(dir.join(format!("{name}.input.f32")), bytes(&graph::values(input))).unwrap();
        std::fs::write(dir.join(format!("{name}.logits.f32")), bytes(&logits)).unwrap();
        std::fs::write(dir.join(format!("{name}.probabilities.f32")), bytes(&answers)).unwrap();
        list.push(json!({"name": name, "input": [IMAGES, c, h, w], "outputs": k, "task": task.kind().name()}));
    }
    std::fs::write(dir.join("cases.json"), serde_json::to_vec_pretty(&list).unwrap()).unwrap();
    list.len()
}

/// A Python that has onnxruntime and onnx: this one, or one with them pip-installed into the
/// cache. `Err` says why there is none.
fn python_with_onnxruntime() -> Result<Option<PathBuf>, String> {
    let has = |path: Option<&Path>| {
        let mut c = Command::new("python3");
        c.args(["-c", "import onnxruntime, onnx, numpy"]);
        if let Some(p) = path {
            c.env("PYTHONPATH", p);
        }
        c.output().is_ok_and(|o| o.status.success())
    };
    if has(None) {
        return Ok(None);
    }
    let target = crate::models::pretrained::cache_dir().join("python-onnx");
    if has(Some(&target)) {
        return Ok(Some(target));
    }
    let out = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--target"])
        .arg(&target)
        .args(["onnxruntime", "onnx", "numpy"])
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !out.status.success() || !has(Some(&target)) {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("pip could not install onnxruntime: {}", err.lines().last().unwrap_or("")));
    }
    Ok(Some(target))
}

#[test]
fn the_exported_graphs_compute_imgclass_answers_in_onnxruntime() {
    let python_path = match python_with_onnxruntime() {
        Ok(p) => p,
        Err(why) if std::env::var_os("IMGCLASS_REQUIRE_NETWORK").is_none() => {
            eprintln!("skipped: {why}");
            return;
        }
        Err(why) => panic!("{why} (IMGCLASS_REQUIRE_NETWORK is set)"),
    };
    let kept = std::env::var_os("IMGCLASS_ONNX_CASES").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = kept.unwrap_or_else(|| tmp.path().to_path_buf());
    let n = write_cases(&dir);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/onnx/check_onnx.py");
    let mut c = Command::new("python3");
    c.arg(script).arg(&dir);
    if let Some(p) = python_path {
        c.env("PYTHONPATH", p);
    }
    let out = c.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "onnxruntime disagrees with imgclass (table above)");
    assert_eq!(text.lines().filter(|l| l.ends_with(" ok")).count(), n, "{text}");
}
