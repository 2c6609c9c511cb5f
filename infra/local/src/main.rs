//! `convoy-local <command>`: the local driver (see `convoy-local --help`).

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
