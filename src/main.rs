//! The `handover-doctor` binary: parse the command line, load the configuration, run.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use handover_doctor::cli::Cli;
use handover_doctor::commands;
use handover_doctor::config::Env;

/// mimalloc instead of glibc's malloc: the receiver's request path allocates in one
/// thread and frees in another (actix workers, lapin's I/O loop), where glibc's arenas
/// spent about a fifth of the receiver's CPU (bench/README.md, "Ingest").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Env::load();
    match commands::run(cli.command, env).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}
