//! The `handover-doctor` binary: parse the command line, load the configuration, run.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use handover_doctor::cli::Cli;
use handover_doctor::commands;
use handover_doctor::config::Env;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli.command, Env::load()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}
