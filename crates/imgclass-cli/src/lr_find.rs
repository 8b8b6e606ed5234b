//! `imgclass lr-find [DATA]`: fastai's learning-rate finder from the command line; prints the
//! suggestions and writes the loss-against-rate plot (`lr_find.png`) and curve (`lr_find.json`).

use std::process::ExitCode;

use anyhow::Result;
use imgclass::export::atomic_write;
use imgclass::train::{Learner, RunDir};

use crate::args::LrFindArgs;
use crate::progress::TrainProgress;
use crate::train::prepare;

pub fn run(a: LrFindArgs) -> Result<ExitCode> {
    let (config, data, _) = prepare(&a.train)?;
    let mut learner = Learner::new(data, config, imgclass::default_device())?;
    let dir = RunDir::create(a.train.out.as_deref())?;
    let found = learner.lr_find(a.start_lr, a.end_lr, a.num_it, &mut TrainProgress::quiet())?;
    let png = dir.path.join("lr_find.png");
    found.plot().save_png(&png)?;
    let json_path = dir.path.join("lr_find.json");
    atomic_write(&json_path, serde_json::to_string_pretty(&found)?.as_bytes())?;
    println!("{} steps, learning rates {:.1e} .. {:.1e}", found.lrs.len(), a.start_lr, found.lrs.last().copied().unwrap_or(a.start_lr));
    println!("suggested learning rates: valley {:.2e}, steepest {:.2e}, minimum/10 {:.2e}", found.valley, found.steepest, found.minimum_div_10);
    println!("plot: {}", png.display());
    if a.train.json {
        let v = serde_json::json!({
            "valley": found.valley, "steepest": found.steepest, "minimum_div_10": found.minimum_div_10,
            "steps": found.lrs.len(), "plot": png, "curve": json_path,
        });
        println!("{v}");
    }
    Ok(ExitCode::SUCCESS)
}
