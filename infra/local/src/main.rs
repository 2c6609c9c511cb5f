//! `convoy <command>`: operate ledger convoy on AWS or on this machine (see `convoy --help`;
//! exit codes there).

use clap::Parser;
use convoy_local::cli::Cli;
use std::process::ExitCode;

/// Warnings of our own; none of the SDK's (its credential and region probes warn with
/// debug dumps of responses: a failure reaches the user once, as our error with its causes).
/// `CONVOY_LOG` replaces it (e.g. `CONVOY_LOG=debug`).
const QUIET_SDK: &str = "warn,aws=off";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONVOY_LOG")
                .unwrap_or_else(|_| QUIET_SDK.into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.run(&mut std::io::stdout().lock()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convoy: {}", convoy_core::chain(&e));
            ExitCode::from(e.exit_code())
        }
    }
}
