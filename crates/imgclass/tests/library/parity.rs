//! Numerical parity: the CNN against PyTorch, EfficientNet-Lite0/1/2 against the golden logits
//! of the numpy reference, torchvision ResNet weights; and fine-tuning the pretrained body.

use std::path::Path;

use burn::prelude::{Device, Tensor};
use imgclass::config::{TrainConfig, Weights};
use imgclass::data::{DataSplits, SplitOptions};
use imgclass::models::{ArchKind, LiteVariant};
use imgclass::train::{Learner, Silent};

use super::{efficientnet_weights_or_skip, lite_weights_or_skip, source};

/// Expected logits printed by `tests/fixtures/make_cnn_parity.py` (PyTorch 2.15, CPU), which
/// also wrote the weights in `cnn_parity.safetensors`:
///
/// ```python
/// x = (torch.arange(2 * 36, dtype=torch.float32).reshape(2, 1, 6, 6) % 7 - 3) / 3
/// print([round(v, 6) for v in m(x).flatten().tolist()])   # m.eval()
/// ```
const CNN_PARITY_LOGITS: [f32; 8] =
    [0.345718, -0.030902, -0.295424, -0.162225, 0.345176, -0.032437, -0.299514, -0.158235];

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
    let logits = cnn.valid().forward(x).into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(logits.len(), CNN_PARITY_LOGITS.len());
    for (got, want) in logits.iter().zip(CNN_PARITY_LOGITS) {
        assert!((got - want).abs() < 1e-5, "got {logits:?}\nwant {CNN_PARITY_LOGITS:?}");
    }
}

/// The golden fixtures of an EfficientNet-Lite variant.
fn lite_fixtures(variant: LiteVariant) -> std::path::PathBuf {
    let n = variant.name().trim_start_matches("efficientnet_lite");
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(format!("efficientnet-lite{n}"))
}

/// The network input of a square RGB PNG, exactly `(u8 − 127) / 128`, as the golden scripts.
///
/// # Shapes
/// → `[1, 3, size, size]`
fn lite_input(png: &Path, device: &Device) -> Tensor<4> {
    let rgb = image::open(png).unwrap_or_else(|e| panic!("{}: {e}", png.display())).to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let mut chw = vec![0f32; 3 * h * w];
    for (i, p) in rgb.pixels().enumerate() {
        for c in 0..3 {
            chw[c * h * w + i] = (p[c] as f32 - 127.0) / 128.0;
        }
    }
    Tensor::<4>::from_data(burn::tensor::TensorData::new(chw, [1, 3, h, w]), device)
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max)
}

/// The indices of the `k` largest values, largest first.
fn top_k(v: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
    idx.truncate(k);
    idx
}

/// Reads a little-endian float32 `.npy` file (NumPy format 1.0/2.0, C order).
fn read_npy_f32(path: &std::path::Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let (len, start) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        (u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize, 12)
    };
    let header = std::str::from_utf8(&bytes[start..start + len]).unwrap();
    assert!(header.contains("'<f4'") && header.contains("'fortran_order': False"), "{header}");
    bytes[start + len..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

/// The golden tensors were made by `tests/fixtures/efficientnet-lite0/make_golden.py` (numpy,
/// float64, with `effnet_np.py` and `legacy_pth.py` beside it; see its README.txt):
///
/// ```python
/// x = (u8.astype(np.float32) - np.float32(127.0)) / np.float32(128.0)   # from <name>_224.png
/// logits, taps = forward(sd, specs, x, pad='tf', eps=1e-3)              # saved as <name>_logits.npy
/// ```
///
/// Tolerance: 2e-5 absolute on logits (measured 3e-6 to 7e-6 on two CPUs), 2e-4 on the chelsea
/// stem and block-0 activations (measured 4e-5).
#[test]
fn efficientnet_lite0_matches_the_golden_logits_of_all_six_images() {
    use burn::module::Module;
    use imgclass::models::efficientnet::EfficientNetLite;
    use imgclass::models::pretrained::load_efficientnet_lite;

    let Some(weights) = efficientnet_weights_or_skip("efficientnet_lite0_matches_the_golden_logits_of_all_six_images")
    else {
        return;
    };
    let device = Device::flex();
    let mut model = EfficientNetLite::lite0(224, 1000, &device);
    load_efficientnet_lite(&mut model, &weights, true).unwrap();
    let model = model.valid();
    let dir = lite_fixtures(LiteVariant::Lite0);
    let input = |name: &str| lite_input(&dir.join(format!("{name}_224.png")), &device);
    for name in ["chelsea", "coffee", "rocket", "motorcycle", "camera", "grace_hopper"] {
        let logits = model.forward(input(name)).into_data().try_to_vec::<f32>().unwrap();
        let golden = read_npy_f32(&dir.join(format!("{name}_logits.npy")));
        let d = max_diff(&logits, &golden);
        eprintln!("{name}: max |logit − golden| = {d:.2e}");
        assert!(d < 2e-5, "{name}: logits differ by up to {d}");
    }
    let stem = model.stem(input("chelsea"));
    let d = max_diff(
        &stem.clone().into_data().try_to_vec::<f32>().unwrap(),
        &read_npy_f32(&dir.join("chelsea_stem_nchw.npy")),
    );
    assert!(d < 2e-4, "chelsea stem differs by up to {d}");
    let block0 = model.blocks[0].forward(stem);
    let d =
        max_diff(&block0.into_data().try_to_vec::<f32>().unwrap(), &read_npy_f32(&dir.join("chelsea_block0_nchw.npy")));
    eprintln!("chelsea block 0: max |Δ| = {d:.2e}");
    assert!(d < 2e-4, "chelsea block 0 differs by up to {d}");

    // Without the classifier: the body is the checkpoint's, the 10-class head is new.
    let mut headless = EfficientNetLite::lite0(224, 10, &device);
    load_efficientnet_lite(&mut headless, &weights, false).unwrap();
    let (a, b) = (headless.valid().features(input("coffee")), model.features(input("coffee")));
    assert!(max_diff(&a.into_data().try_to_vec::<f32>().unwrap(), &b.into_data().try_to_vec::<f32>().unwrap()) < 1e-5);
}

/// The golden logits of Lite1 and Lite2 were made by
/// `tests/fixtures/efficientnet-lite0/make_golden_scaled.py` (numpy, float64; see README.txt
/// there), for coffee and camera at the variant's native size:
///
/// ```python
/// img.resize((size, size), Image.BILINEAR).save(f'{name}_{size}.png')   # from <name>_224.png
/// x = (u8.astype(np.float32) - np.float32(127.0)) / np.float32(128.0)   # u8: that PNG
/// z64 = forward(sd, x, pad='tf', eps=1e-3, dtype=np.float64, specs=block_specs(sd, width=width))
/// np.save(f'{name}_logits.npy', z64.astype(np.float32))
/// ```
///
/// Tolerance: 5e-5 absolute on logits (|logit| ≤ 10; measured 3.6e-6 to 1.1e-5, Lite1's
/// deeper float32 sums drift a little further than Lite0's); the top-1 class must be espresso
/// (967) and tripod (872), and the top-5 classes those of the reference, in order (their
/// logits are at least 0.017 apart).
fn lite_matches_the_golden_logits(variant: LiteVariant, test: &str) {
    use burn::module::Module;
    use imgclass::models::efficientnet::EfficientNetLite;
    use imgclass::models::pretrained::load_efficientnet_lite;

    let Some(weights) = lite_weights_or_skip(variant, test) else { return };
    let device = Device::flex();
    let size = variant.size();
    let mut model = EfficientNetLite::new(variant, size, 1000, &device);
    load_efficientnet_lite(&mut model, &weights, true).unwrap();
    let model = model.valid();
    let dir = lite_fixtures(variant);
    for (name, class) in [("coffee", 967), ("camera", 872)] {
        let x = lite_input(&dir.join(format!("{name}_{size}.png")), &device);
        assert_eq!(x.dims(), [1, 3, size, size]);
        let logits = model.forward(x).into_data().try_to_vec::<f32>().unwrap();
        let golden = read_npy_f32(&dir.join(format!("{name}_logits.npy")));
        let d = max_diff(&logits, &golden);
        eprintln!("{} {name}: max |logit − golden| = {d:.2e}, top-5 {:?}", variant.name(), top_k(&logits, 5));
        assert!(d < 5e-5, "{name}: logits differ by up to {d}");
        assert_eq!(top_k(&logits, 5), top_k(&golden, 5), "{name}: top-5 classes");
        assert_eq!(top_k(&logits, 1), [class], "{name}: top-1 class");
    }
}

#[test]
fn efficientnet_lite1_matches_the_golden_logits_of_coffee_and_camera_at_240_pixels() {
    lite_matches_the_golden_logits(
        LiteVariant::Lite1,
        "efficientnet_lite1_matches_the_golden_logits_of_coffee_and_camera_at_240_pixels",
    );
}

#[test]
fn efficientnet_lite2_matches_the_golden_logits_of_coffee_and_camera_at_260_pixels() {
    lite_matches_the_golden_logits(
        LiteVariant::Lite2,
        "efficientnet_lite2_matches_the_golden_logits_of_coffee_and_camera_at_260_pixels",
    );
}

#[test]
fn the_lite0_checkpoint_does_not_load_into_lite1_and_says_so() {
    use imgclass::models::efficientnet::EfficientNetLite;
    use imgclass::models::pretrained::load_efficientnet_lite;

    let Some(weights) = efficientnet_weights_or_skip("the_lite0_checkpoint_does_not_load_into_lite1_and_says_so")
    else {
        return;
    };
    let mut lite1 = EfficientNetLite::lite1(64, 10, &Device::flex());
    let err = load_efficientnet_lite(&mut lite1, &weights, false).unwrap_err().to_string();
    assert!(err.contains("not efficientnet_lite1 weights") && err.contains("missing"), "{err}");
}

/// Expected logits printed by `tests/fixtures/resnet/make_resnet_tv.py` (PyTorch 2.15, CPU;
/// names checked against torchvision 0.29.2's resnet18), which also wrote
/// `resnet18_w4_torchvision.pth` with `torch.save(m.state_dict(), …)`:
///
/// ```python
/// x = (torch.arange(3 * 32 * 32, dtype=torch.float32).reshape(1, 3, 32, 32) % 7 - 3) / 3
/// print([round(v, 6) for v in m(x).flatten().tolist()])   # m.eval()
/// ```
const RESNET_TV_LOGITS: [f32; 10] =
    [0.143515, -0.048873, 0.469984, 0.462984, -0.432892, -0.230873, -1.121372, 0.176293, 0.182625, -0.835594];

fn resnet_fixture() -> std::path::PathBuf {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/resnet/resnet18_w4_torchvision.pth").into()
}

#[test]
fn torchvision_resnet_weights_load_and_match_pytorch() {
    use burn::prelude::*;
    use imgclass::models::ResNetConfig;
    use imgclass::models::pretrained::load_torchvision_resnet;

    let device = Device::flex();
    let mut net = ResNetConfig::resnet18().with_width(4).init(3, 10, &device);
    load_torchvision_resnet(&mut net, &resnet_fixture(), true).unwrap();
    let input: Vec<f32> = (0..3 * 32 * 32).map(|i| ((i % 7) as f32 - 3.0) / 3.0).collect();
    let x = Tensor::<4>::from_data(burn::tensor::TensorData::new(input, [1, 3, 32, 32]), &device);
    let logits = net.valid().forward(x).into_data().try_to_vec::<f32>().unwrap();
    for (got, want) in logits.iter().zip(RESNET_TV_LOGITS) {
        assert!((got - want).abs() < 1e-4, "got {logits:?}\nwant {RESNET_TV_LOGITS:?}");
    }

    // A full-width ResNet-18 does not fit these weights: a clear error, not a panic.
    let mut wide = ResNetConfig::resnet18().init(3, 10, &device);
    let err = load_torchvision_resnet(&mut wide, &resnet_fixture(), false).unwrap_err().to_string();
    assert!(err.contains("resnet18_w4_torchvision.pth") && err.contains("do not fit"), "{err}");
    let err = load_torchvision_resnet(&mut wide, std::path::Path::new("nope.pth"), false).unwrap_err().to_string();
    assert!(err.contains("torch.save"), "{err}");
}

/// 3×16×16 RGB-ish images of two classes for the pretrained EfficientNet (upscaled to 32).
fn rgb_splits(config: &TrainConfig) -> DataSplits {
    let src = source(48);
    let pre = config.preprocess(&src, (32, 32));
    DataSplits::load(&src, pre, SplitOptions { valid_pct: 0.25, test_pct: 0.0, seed: 3 }, &|_, _| {}).unwrap()
}

fn stem_and_bn(learner: &Learner) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let imgclass::models::Net::EfficientNet(m) = learner.last_model() else { panic!("not an EfficientNet") };
    let v = |t: burn::prelude::Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
    (v(m.conv_stem.weight.val().flatten(0, 3)), v(m.bn0.running_mean.value()), v(m.fc.weight.val().flatten(0, 1)))
}

#[test]
fn fine_tune_keeps_the_body_while_frozen_and_trains_it_once_unfrozen() {
    if efficientnet_weights_or_skip("fine_tune_keeps_the_body_while_frozen_and_trains_it_once_unfrozen").is_none() {
        return;
    }
    let base = super::config(|c| {
        (c.model.arch, c.model.weights) = (ArchKind::EfficientnetLite0.arch(), Weights::Pretrained);
        (c.fit.batch_size, c.transforms.size) = (12, Some(32));
    });

    // Frozen, cached features: body weights and BN statistics untouched, head trained.
    let mut config = base.clone();
    (config.fit.freeze_epochs, config.fit.epochs) = (1, 0);
    let data = rgb_splits(&config);
    assert!(data.preprocess().rgb_model() && data.preprocess().channels() == 1);
    let mut frozen = Learner::new(data, config.clone(), imgclass::default_device()).unwrap();
    let before = stem_and_bn(&frozen);
    assert!(frozen.trainable_params() < frozen.num_params() / 50);
    let report = frozen.fit(&mut Silent).unwrap();
    assert!(report.history.iter().all(|m| m.frozen) && report.history.len() == 1);
    let after = stem_and_bn(&frozen);
    assert_eq!((&before.0, &before.1), (&after.0, &after.1), "the frozen body changed");
    assert_ne!(before.2, after.2, "the head did not train");

    // Frozen without caching (fastai): batch norms train, convolutions do not.
    config.fit.cache_features = false;
    let mut bn = Learner::new(rgb_splits(&config), config, imgclass::default_device()).unwrap();
    bn.fit(&mut Silent).unwrap();
    let after = stem_and_bn(&bn);
    assert_eq!(before.0, after.0);
    assert_ne!(before.1, after.1, "batch-norm statistics did not update");

    // fastai_fine_tune: one frozen epoch, then the whole network trains.
    let mut tuned = Learner::new(rgb_splits(&base), base, imgclass::default_device()).unwrap();
    let report = tuned.fastai_fine_tune(1, 2e-3, &mut Silent).unwrap();
    assert_eq!(report.history.iter().map(|m| m.frozen).collect::<Vec<_>>(), vec![true, false]);
    assert_ne!(before.0, stem_and_bn(&tuned).0, "the unfrozen body did not train");
}
