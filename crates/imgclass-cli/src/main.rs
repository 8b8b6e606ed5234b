//! `imgclass`: the command-line front end. Argument parsing lives in `args`, one module per
//! subcommand; all the work is done by the `imgclass` library.

mod args;
mod data;
mod evaluate;
mod lr_find;
mod predict;
mod progress;
mod train;

use std::process::ExitCode;

use clap::Parser;

/// `imgclass weights fetch NAME`.
fn fetch(name: &str) -> anyhow::Result<ExitCode> {
    match name {
        "efficientnet_lite0" | "efficientnet-lite0" => {
            let path = imgclass::models::pretrained::fetch_efficientnet_lite0()?;
            println!("{}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        other => anyhow::bail!("no pretrained weights named {other:?}; available: efficientnet_lite0"),
    }
}

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Train(a) => train::run(a),
        args::Command::Evaluate(a) => evaluate::run(a),
        args::Command::Predict(a) => predict::run(a),
        args::Command::LrFind(a) => lr_find::run(a),
        args::Command::Weights(args::WeightsCommand::Fetch { name }) => fetch(&name),
        args::Command::Data(args::DataCommand::Check(a)) => data::check(a),
        args::Command::Data(args::DataCommand::Show(a)) => data::show(a),
        args::Command::Data(args::DataCommand::Bench(a)) => data::bench(a),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if err.chain().any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)) {
                return ExitCode::SUCCESS;
            }
            eprintln!("imgclass: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
