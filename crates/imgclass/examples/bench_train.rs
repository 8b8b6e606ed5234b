//! Training throughput of imgclass's default CNN on the bundled Fashion-MNIST sample, for
//! `bench/train_speed.sh` (which runs the PyTorch twin, `bench/torch_cnn.py`, in the same run).
//!
//! usage: `bench_train [steps] [warmup] [batch_size]`; prints one JSON line.

use imgclass::data::{DataSplits, SplitOptions, Source, default_preprocess};
use imgclass::train::{Learner, Schedule, TrainConfig};
use imgclass::transforms::ResizeMode;

fn main() -> Result<(), imgclass::Error> {
    let arg = |i: usize, default: usize| std::env::args().nth(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    let (steps, warmup, batch) = (arg(1, 200), arg(2, 10), arg(3, 64));
    let source = Source::bundled()?;
    let pre = default_preprocess(&source, (28, 28), ResizeMode::Squish);
    let data = DataSplits::load(&source, pre, SplitOptions { valid_pct: 0.2, test_pct: 0.0, seed: 0 }, &|_, _| {})?;
    let config = TrainConfig::new().with_batch_size(batch).with_schedule(Schedule::Constant).with_lr(1e-3);
    let mut learner = Learner::new(data, config, imgclass::default_device())?;
    let params = learner.num_params();
    let ips = learner.time_steps(warmup, steps);
    println!(
        "{{\"impl\":\"imgclass\",\"device\":\"{}\",\"images_per_s\":{ips:.1},\"steps\":{steps},\"batch\":{batch},\"params_incl_bn_stats\":{params}}}",
        imgclass::device_name(&imgclass::default_device())
    );
    Ok(())
}
