//! The wgpu device (builds with `--features wgpu`): the same bundle predicts there what it
//! predicts on the CPU, and a network trains there. CI runs these on Mesa's software Vulkan
//! driver (lavapipe); on a machine with a GPU they run on the GPU.

use imgclass::bundle::Bundle;
use imgclass::config::TrainConfig;
use imgclass::data::idx::IdxSplit;
use imgclass::data::{DataSplits, Source};
use imgclass::infer::log_probs;
use imgclass::models::ArchKind;
use imgclass::train::{Learner, Silent};
use imgclass::{Device, DeviceChoice};

use super::config;

/// The wgpu device; fails (the test must be able to) when the machine has no adapter.
fn wgpu() -> Device {
    DeviceChoice::Wgpu.device().unwrap_or_else(|e| panic!("{e}"))
}

/// `n` grey `side`×`side` images of 2 classes: a bright square in the left or the right half.
fn squares(n: usize, side: usize) -> Source {
    let mut pixels = Vec::with_capacity(n * side * side);
    let labels: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
    for (i, &l) in labels.iter().enumerate() {
        let (x0, y0) = (if l == 0 { 1 } else { side / 2 + 1 } + i % 3, 2 + i % 5);
        for y in 0..side {
            for x in 0..side {
                let inside = (x0..x0 + side / 4).contains(&x) && (y0..y0 + side / 4).contains(&y);
                pixels.push(if inside { 180 + (i * 7 % 70) as u8 } else { (i * 13 + x * 3 + y) as u8 % 60 });
            }
        }
    }
    let part = IdxSplit::new("t10k", pixels, labels, side, side).unwrap();
    Source::from_idx("memory".into(), vec![part], Some(vec!["left".into(), "right".into()]))
}

/// A default config for `arch` at `side` pixels, changed by `edit`, and `n` images of
/// [`squares`] split and preprocessed as that config says (RGB for EfficientNet).
fn setup(arch: ArchKind, side: usize, n: usize, edit: impl FnOnce(&mut TrainConfig)) -> (TrainConfig, DataSplits) {
    let config = config(|c| {
        c.model.arch = arch.arch();
        c.transforms.size = Some(side);
        edit(c);
    });
    let data = config.load(&squares(n, side), &|_, _| {}).unwrap();
    (config, data)
}

/// Trains `arch` for an epoch on the CPU, saves the bundle, loads it on the CPU and on wgpu and
/// checks that their validation probabilities differ by less than 1e-4.
fn predicts_on_wgpu_what_it_predicts_on_the_cpu(arch: ArchKind, side: usize) {
    let t = tempfile::tempdir().unwrap();
    let (config, data) = setup(arch, side, 40, |c| (c.fit.epochs, c.fit.batch_size) = (1, 8));
    let mut learner = Learner::new(data, config, Device::flex()).unwrap();
    learner.fit(&mut Silent).unwrap();
    let path = t.path().join("m.imgclass");
    learner.save_bundle(&path).unwrap();
    let valid = learner.data().valid();
    let probs = |device: Device| {
        let bundle = Bundle::load(&path, &device).unwrap();
        let rows = log_probs(bundle.net(), valid, bundle.meta().preprocess(), &device);
        rows.values.iter().map(|v| v.exp()).collect::<Vec<f32>>()
    };
    let (cpu, gpu) = (probs(Device::flex()), probs(wgpu()));
    assert_eq!(cpu.len(), gpu.len());
    assert!(cpu.iter().all(|p| p.is_finite()) && gpu.iter().all(|p| p.is_finite()));
    let gap = cpu.iter().zip(&gpu).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    println!("{arch:?}: largest probability gap cpu/wgpu {gap:.2e} over {} probabilities", cpu.len());
    assert!(gap < 1e-4, "{arch:?}: largest probability difference {gap:e}");
}

#[test]
fn wgpu_is_offered_and_a_software_driver_does_not_replace_the_cpu_as_the_default() {
    let name = imgclass::device_name(&wgpu());
    println!("wgpu adapter: {name}");
    assert!(name.starts_with("wgpu ("), "{name}");
    assert!(DeviceChoice::available().contains(&DeviceChoice::Wgpu));
    let software = name.contains("llvmpipe") || name.contains("SwiftShader");
    assert_eq!(DeviceChoice::preferred() == DeviceChoice::Wgpu, !software, "{name}");
}

#[test]
fn the_default_cnn_predicts_on_wgpu_what_it_predicts_on_the_cpu() {
    predicts_on_wgpu_what_it_predicts_on_the_cpu(ArchKind::Cnn, 28);
}

#[test]
fn resnet18_predicts_on_wgpu_what_it_predicts_on_the_cpu() {
    predicts_on_wgpu_what_it_predicts_on_the_cpu(ArchKind::Resnet18, 32);
}

#[test]
fn efficientnet_lite0_predicts_on_wgpu_what_it_predicts_on_the_cpu() {
    predicts_on_wgpu_what_it_predicts_on_the_cpu(ArchKind::EfficientnetLite0, 32);
}

#[test]
fn the_default_cnn_learns_on_wgpu() {
    let (config, data) =
        setup(ArchKind::Cnn, 28, 80, |c| (c.fit.epochs, c.fit.batch_size, c.optimizer.lr) = (3, 8, 3e-3));
    let mut learner = Learner::new(data, config, wgpu()).unwrap();
    assert!(learner.device_name().starts_with("wgpu ("), "{}", learner.device_name());
    let report = learner.fit(&mut Silent).unwrap();
    let losses: Vec<f64> = report.history.iter().map(|e| e.train_loss).collect();
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(losses[2] < losses[0], "{losses:?}");
    assert!(report.final_metrics.accuracy >= 0.9, "{:?}", report.final_metrics);
}
