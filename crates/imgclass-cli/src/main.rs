//! `imgclass`: the command-line front end. `args` holds the raw arguments, `config` turns
//! them into the library's config, `help` shows config errors' fields as flags and shows defaults,
//! one module per command prints what the library returns.

mod alloc;
mod args;
mod clean;
mod common;
mod config;
mod data;
mod evaluate;
mod export;
mod filters;
mod help;
mod interpret;
mod lr_find;
mod predict;
mod predict_out;
mod progress;
mod report;
mod serve;
mod show;
mod train;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

/// `imgclass weights fetch NAME`.
fn fetch(name: args::Pretrained) -> anyhow::Result<ExitCode> {
    let path = imgclass::models::pretrained::fetch_efficientnet_lite(name.variant())?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// A command-line parsing error on one line, as every other error (help and version are
/// printed as clap prints them).
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind::{DisplayHelp, DisplayHelpOnMissingArgumentOrSubcommand, DisplayVersion};
    if matches!(e.kind(), DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand) {
        e.exit();
    }
    let text = e.render().to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:"))
        .collect();
    eprintln!("imgclass: error: {}", lines.join(" ").trim_start_matches("error: "));
    ExitCode::from(2)
}

fn main() -> ExitCode {
    alloc::keep_freed_memory();
    let parsed = help::with_defaults(args::Cli::command())
        .try_get_matches()
        .and_then(|matches| args::Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        args::Command::Train(a) => train::run(a),
        args::Command::Evaluate(a) => evaluate::run(a),
        args::Command::Interpret(a) => interpret::run(a),
        args::Command::Clean(a) => clean::run(a),
        args::Command::Filters(c) => filters::run(c),
        args::Command::Activations(a) => filters::activations(a),
        args::Command::Report(a) => report::run(a),
        args::Command::Predict(a) => predict::run(a),
        args::Command::Export(a) => export::run(a),
        args::Command::Serve(a) => serve::run(a),
        args::Command::LrFind(a) => lr_find::run(a),
        args::Command::Weights(args::WeightsCommand::Fetch { name }) => fetch(name),
        args::Command::Data(args::DataCommand::Check(a)) => data::check(a),
        args::Command::Data(args::DataCommand::Show(a)) => data::show(a),
        args::Command::Data(args::DataCommand::Bench(a)) => data::bench(a),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            // The chain as `{err:#}` prints it, config fields shown as the flags that set them.
            eprintln!("imgclass: error: {}", help::chain(&err));
            ExitCode::FAILURE
        }
    }
}
