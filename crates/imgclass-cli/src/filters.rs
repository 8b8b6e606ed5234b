//! `imgclass filters apply|show` and `imgclass activations`: what convolutions do.

use std::process::ExitCode;

use anyhow::Result;
use imgclass::bundle::Bundle;
use imgclass::interpret::filters::{Kernel, apply_kernels, save_activations, save_filtered, save_first_filters};

use crate::args::{ActivationsArgs, FilterPadding, FiltersCommand};
use crate::common::device;

pub fn run(command: FiltersCommand) -> Result<ExitCode> {
    match command {
        FiltersCommand::Apply { image, kernels, stride, padding, out } => {
            let kernels = kernels.iter().map(|k| Kernel::parse(k)).collect::<imgclass::Result<Vec<_>>>()?;
            let same = padding == FilterPadding::Same;
            let (original, filtered) = apply_kernels(&image, &kernels, stride.into(), same)?;
            for f in &filtered {
                let [h, w] = f.input;
                let [oh, ow] = f.output;
                println!("{}: {w}x{h} -> {ow}x{oh} (stride {stride}, {padding:?} padding)", f.kernel);
            }
            save_filtered(&original, &filtered, &out)?;
            println!("wrote {}", out.display());
        }
        FiltersCommand::Show { model, out } => {
            let bundle = Bundle::load(&model, &device(None)?)?;
            let n = save_first_filters(&bundle, &out)?;
            println!("{n} first-layer filters: {}", out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn activations(a: ActivationsArgs) -> Result<ExitCode> {
    let bundle = Bundle::load(&a.model, &device(None)?)?;
    let (layer, [c, h, w]) = save_activations(&bundle, &a.image, a.layer.as_deref(), &a.out)?;
    println!("{layer}: {c} feature maps of {w}x{h}: {}", a.out.display());
    Ok(ExitCode::SUCCESS)
}
