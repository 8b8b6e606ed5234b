//! Integration tests of the library API: the steps of the README's library example on tiny
//! in-memory data.

use imgclass::data::idx::IdxSplit;
use imgclass::data::{DataSplits, SplitOptions, Source};
use imgclass::export::Bundle;
use imgclass::models::{Arch, MlpConfig};
use imgclass::train::{Callback, EpochMetrics, Learner, RunDir, Silent, TrainConfig};
use imgclass::transforms::{Preprocess, ResizeMode};

/// 2 classes of 4×4 grey images: top half bright (0) or bottom half bright (1).
fn source(n: usize) -> Source {
    let mut pixels = Vec::new();
    let labels: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
    for (i, &l) in labels.iter().enumerate() {
        for p in 0..16 {
            let bright = (p < 8) == (l == 0);
            pixels.push(if bright { 200 + (i % 50) as u8 } else { (i % 30) as u8 });
        }
    }
    let part = IdxSplit { prefix: "t10k".into(), pixels, labels, height: 4, width: 4 };
    Source::from_idx("memory".into(), vec![part], Some(vec!["top".into(), "bottom".into()]))
}

fn splits(n: usize) -> DataSplits {
    let opts = SplitOptions { valid_pct: 0.25, test_pct: 0.0, seed: 3 };
    DataSplits::load(&source(n), Preprocess::new(4, 4, 1, ResizeMode::Squish), opts, &|_, _| {}).unwrap()
}

#[derive(Default)]
struct Record(Vec<EpochMetrics>, usize);

impl Callback for Record {
    fn batch_end(&mut self, _: usize, _: f32, _: f64) {
        self.1 += 1;
    }
    fn epoch_end(&mut self, m: &EpochMetrics, _: bool) {
        self.0.push(m.clone());
    }
}

#[test]
fn a_learner_fits_separable_data_and_reports_each_epoch() {
    let config = TrainConfig::new().with_arch(Arch::Mlp(MlpConfig::new().with_hidden(vec![8]))).with_epochs(4).with_batch_size(16).with_lr(1e-2);
    let mut learner = Learner::new(splits(160), config, imgclass::default_device()).unwrap();
    let mut rec = Record::default();
    let report = learner.fit(&mut rec).unwrap();
    assert_eq!(rec.0.len(), 4);
    assert_eq!(rec.1, 4 * (120 / 16), "one callback per step, last partial batch dropped");
    assert!(report.final_metrics.accuracy > 0.95, "{:?}", report.history);
    assert!(report.history[3].train_loss < report.history[0].train_loss);
}

#[test]
fn the_saved_bundle_predicts_exactly_as_the_learner_model() {
    let t = tempfile::tempdir().unwrap();
    let config = TrainConfig::new().with_arch(Arch::default()).with_epochs(1).with_batch_size(8);
    let mut learner = Learner::new(splits(40), config, imgclass::default_device()).unwrap();
    learner.fit(&mut Silent).unwrap();
    let path = t.path().join("m.imgclass");
    learner.save_bundle(&path).unwrap();
    let bundle = Bundle::load(&path, &imgclass::default_device()).unwrap();
    let data = &learner.data.valid;
    let a = imgclass::train::log_probs(&learner.model(), data, &learner.data.preprocess, &imgclass::default_device());
    let b = imgclass::train::log_probs(&bundle.net, data, &bundle.meta.preprocess, &bundle.device);
    assert_eq!(a, b);
    assert_eq!(bundle.meta.labels, vec!["top", "bottom"]);
    assert_eq!(bundle.meta.metrics["best_epoch"], 1);
}

#[test]
fn early_stopping_ends_training_once_validation_loss_stops_improving() {
    // A zero learning rate never improves after the first epoch.
    let config = TrainConfig::new().with_arch(Arch::Logreg).with_epochs(10).with_lr(1e-12).with_patience(Some(2));
    let mut learner = Learner::new(splits(40), config, imgclass::default_device()).unwrap();
    let report = learner.fit(&mut Silent).unwrap();
    assert!(report.early_stopped && report.history.len() < 10, "{} epochs", report.history.len());
}

#[test]
fn an_interrupt_still_saves_a_usable_bundle() {
    let t = tempfile::tempdir().unwrap();
    let config = TrainConfig::new().with_arch(Arch::Logreg).with_epochs(5);
    let dir = RunDir::create(Some(&t.path().join("run"))).unwrap();
    let mut learner = Learner::new(splits(40), config, imgclass::default_device()).unwrap().with_run_dir(dir.clone());
    learner.interrupt_handle().store(true, std::sync::atomic::Ordering::SeqCst);
    let report = learner.fit(&mut Silent).unwrap();
    assert!(report.interrupted && report.history.is_empty());
    assert!(Bundle::load(&dir.model_path(), &imgclass::default_device()).is_ok());
}

/// Expected logits printed by `tests/fixtures/make_cnn_parity.py` (PyTorch 2.15, CPU), which
/// also wrote the weights in `cnn_parity.safetensors`:
///
/// ```python
/// x = (torch.arange(2 * 36, dtype=torch.float32).reshape(2, 1, 6, 6) % 7 - 3) / 3
/// print([round(v, 6) for v in m(x).flatten().tolist()])   # m.eval()
/// ```
const CNN_PARITY_LOGITS: [f32; 8] = [0.345718, -0.030902, -0.295424, -0.162225, 0.345176, -0.032437, -0.299514, -0.158235];

#[test]
fn the_cnn_matches_pytorch_in_inference_mode() {
    use burn::prelude::*;
    use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
    use imgclass::models::CnnConfig;

    let device = Device::flex();
    let mut cnn = CnnConfig::new().with_channels(vec![3]).with_hidden(vec![5]).init([1, 6, 6], 4, &device).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cnn_parity.safetensors");
    let mut store = SafetensorsStore::from_file(path).with_from_adapter(PyTorchToBurnAdapter);
    let result = cnn.load_from(&mut store).unwrap();
    assert!(result.missing.is_empty() && result.errors.is_empty(), "{result:?}");
    let input: Vec<f32> = (0..72).map(|i| ((i % 7) as f32 - 3.0) / 3.0).collect();
    let x = Tensor::<4>::from_data(burn::tensor::TensorData::new(input, [2, 1, 6, 6]), &device);
    let logits = cnn.valid().forward(x).into_data().to_vec::<f32>().unwrap();
    assert_eq!(logits.len(), CNN_PARITY_LOGITS.len());
    for (got, want) in logits.iter().zip(CNN_PARITY_LOGITS) {
        assert!((got - want).abs() < 1e-5, "got {logits:?}\nwant {CNN_PARITY_LOGITS:?}");
    }
}
