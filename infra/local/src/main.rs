//! `convoy-local <command>`: the local driver (see `convoy-local --help`).
//!
//! Exit codes: 0 = done (for `demo`: every ledger `done` and both dead-letter queues
//! empty; orders waiting on a gap are listed, not failures); 1 = anything else (a message
//! in a dead-letter queue, a ledger `failed` or `unsupported`, a missing stack, …);
//! 2 = a usage error.

use clap::Parser;
use convoy_local::cli::Cli;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONVOY_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command.run(&mut std::io::stdout().lock()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convoy-local: {}", convoy_core::chain(&e));
            ExitCode::FAILURE
        }
    }
}
