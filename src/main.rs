//! The `handover-doctor` binary: parse the command line, load the configuration, run.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use handover_doctor::cli::{Cli, Command};
use handover_doctor::commands;
use handover_doctor::config::Env;
use handover_doctor::sched;

/// mimalloc instead of glibc's malloc: the receiver's request path allocates in one
/// thread and frees in another (actix workers, lapin's I/O loop), where glibc's arenas
/// spent about a fifth of the receiver's CPU (bench/README.md, "Ingest").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Env::load();
    if matches!(cli.command, Command::Serve { .. }) {
        // Before the runtime exists, so that every thread started later inherits it.
        sched::apply(&env);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command, env)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}
