//! `imgclass`: the command-line front end. Argument parsing lives in `args`, one module per
//! subcommand; all the work is done by the `imgclass` library.

mod args;
mod evaluate;
mod predict;
mod progress;
mod train;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Train(a) => train::run(a),
        args::Command::Evaluate(a) => evaluate::run(a),
        args::Command::Predict(a) => predict::run(a),
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
