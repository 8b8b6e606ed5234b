//! `imgclass lr-find [DATA]`: fastai's learning-rate finder from the command line; prints the
//! suggestions and writes the loss-against-rate plot (`lr_find.png`) and curve (`lr_find.json`).

use std::process::ExitCode;

use anyhow::Result;
use imgclass::config::TrainConfig;
use imgclass::train::{Existing, Learner, LrFindConfig, RunDir};

use crate::args::LrFindArgs;
use crate::common::{device, load_data};
use crate::config::run_config;
use crate::progress::TrainProgress;

pub fn run(a: LrFindArgs) -> Result<ExitCode> {
    let device = device(a.run.device)?;
    let config = run_config(&a.run, TrainConfig::default())?;
    let data = load_data(&config)?;
    let mut learner = Learner::new(data, config, device)?;
    let dir = RunDir::create(a.run.out.as_deref(), Existing::Keep)?;
    let d = LrFindConfig::default();
    let sweep = LrFindConfig {
        start_lr: a.start_lr.unwrap_or(d.start_lr),
        end_lr: a.end_lr.unwrap_or(d.end_lr),
        num_it: a.num_it.unwrap_or(d.num_it),
    };
    let found = learner.lr_find(sweep, &mut TrainProgress::quiet())?;
    let (png, json) = (dir.path().join("lr_find.png"), dir.path().join("lr_find.json"));
    found.save(&png, &json)?;
    let last = found.lrs.last().copied().unwrap_or(sweep.start_lr);
    println!("{} steps, learning rates {:.1e} .. {last:.1e}", found.lrs.len(), sweep.start_lr);
    println!(
        "suggested learning rates: valley {:.2e}, steepest {:.2e}, minimum/10 {:.2e}",
        found.valley, found.steepest, found.minimum_div_10
    );
    println!("plot: {}", png.display());
    if a.run.json {
        let v = serde_json::json!({
            "valley": found.valley, "steepest": found.steepest, "minimum_div_10": found.minimum_div_10,
            "steps": found.lrs.len(), "plot": png, "curve": json,
        });
        println!("{v}");
    }
    Ok(ExitCode::SUCCESS)
}
