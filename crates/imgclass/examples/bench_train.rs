//! Training throughput of imgclass's default CNN on the bundled Fashion-MNIST sample, for
//! `bench/train_speed.sh` (which runs the PyTorch twin, `bench/torch_cnn.py`, in the same run).
//!
//! usage: `bench_train [steps] [warmup] [batch_size]`; prints one JSON line. From the
//! environment: `BENCH_KERNELS=flex` runs every op on Burn's flex kernels (for comparison),
//! `BENCH_DEVICE=cpu|wgpu|cuda` (default: the build's preferred device), `BENCH_ARCH=resnet18`
//! (any `--arch` name; default cnn), `BENCH_SIZE=64` (input side; default the bundled 28) and
//! `BENCH_MODE=infer` (time batches through the network in inference mode instead of training
//! steps: `steps` batches after `warmup`). `BENCH_BUNDLE=FILE` saves the timed network as a
//! bundle (`bench/onnx_speed.sh` exports it and times it in onnxruntime).

#[path = "support/alloc.rs"]
mod alloc;

use imgclass::DeviceChoice;
use imgclass::config::{Schedule, TrainConfig};
use imgclass::data::Source;
use imgclass::models::ArchKind;
use imgclass::train::Learner;

/// The environment variable `name` read as one of the library's enums (its serde name).
fn env_enum<T: serde::de::DeserializeOwned>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok()?;
    Some(
        serde_json::from_value(serde_json::Value::String(value.clone()))
            .unwrap_or_else(|e| panic!("{name}={value}: {e}")),
    )
}

fn main() -> Result<(), imgclass::Error> {
    let arg = |i: usize, default: usize| std::env::args().nth(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    let (steps, warmup, batch) = (arg(1, 200), arg(2, 10), arg(3, 64));
    alloc::keep_freed_memory();
    imgclass::bench::use_own_kernels(std::env::var("BENCH_KERNELS").as_deref() != Ok("flex"));
    let mut config = TrainConfig { seed: 0, ..TrainConfig::default() };
    (config.fit.batch_size, config.optimizer.schedule, config.optimizer.lr) = (batch, Schedule::Constant, 1e-3);
    if let Some(arch) = env_enum::<ArchKind>("BENCH_ARCH") {
        config.model.arch = arch.arch();
    }
    config.transforms.size = std::env::var("BENCH_SIZE").ok().and_then(|s| s.parse().ok());
    let device = env_enum::<DeviceChoice>("BENCH_DEVICE").unwrap_or_default().device()?;
    let data = config.load(&Source::bundled()?, &|_, _| {})?;
    let mut learner = Learner::new(data, config, device)?;
    let params = learner.num_params();
    let mode = std::env::var("BENCH_MODE").unwrap_or_else(|_| "train".into());
    let ips = match mode.as_str() {
        "train" => learner.time_steps(warmup, steps),
        "infer" => learner.time_inference(warmup, steps),
        other => panic!("BENCH_MODE={other}: train or infer"),
    };
    if let Ok(path) = std::env::var("BENCH_BUNDLE") {
        learner.save_bundle(path.as_ref())?;
    }
    // Peak resident memory of the process (Linux), as PyTorch's twin reports it.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    println!(
        "{{\"impl\":\"imgclass\",\"mode\":\"{mode}\",\"arch\":\"{}\",\"size\":{},\"device\":\"{}\",\"images_per_s\":{ips:.1},\"steps\":{steps},\"batch\":{batch},\"params_incl_bn_stats\":{params},\"peak_rss_mb\":{}}}",
        learner.config().model.arch.name(),
        learner.data().preprocess().height(),
        learner.device_name(),
        peak_kb / 1024
    );
    Ok(())
}
