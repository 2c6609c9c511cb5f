//! `convoy-local [LEDGER] [--lambda-endpoint URL] [--timeout SECONDS]`: the demo's driver.

use convoy_local::demo;
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
    let default = convoy_local::stack::repo_root().join("infra/samples/demo.jsonl");
    let args = match demo::parse_args(std::env::args().skip(1), default) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("convoy-local: {e}\nusage: convoy-local [LEDGER] [--lambda-endpoint URL] [--timeout SECONDS] [--env-file PATH] [--expect ORDERS.jsonl]");
            return ExitCode::from(2);
        }
    };
    match demo::run(&args, &mut std::io::stdout().lock()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = format!("convoy-local: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}
