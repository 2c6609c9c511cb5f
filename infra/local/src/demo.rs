//! The main job: one ledger through the whole pipeline, its orders printed as JSON lines.

use crate::function::HttpFunction;
use crate::pipeline::{orders_in_ledger, Pipeline, PipelineError};
use crate::stack::Stack;
use ledger::State;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// What the demo is asked to do.
#[derive(Debug, Clone)]
pub struct DemoArgs {
    pub ledger: PathBuf,
    /// Lambda's Invoke API where the real binaries run (`infra/lambdas.sh`).
    pub lambda_endpoint: String,
    pub timeout: Duration,
    pub env_file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Stack(#[from] crate::stack::StackError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("building the Invoke API client")]
    Client(#[source] reqwest::Error),
    #[error("writing the output")]
    Write(#[source] std::io::Error),
    #[error("the ledger ended {state}: {error}")]
    Ledger { state: String, error: String },
}

/// Parses `[LEDGER] [--lambda-endpoint URL] [--timeout SECONDS]`.
pub fn parse_args(
    args: impl Iterator<Item = String>,
    default_ledger: PathBuf,
) -> Result<DemoArgs, String> {
    let mut out = DemoArgs {
        ledger: default_ledger,
        lambda_endpoint: "http://127.0.0.1:9000".into(),
        timeout: Duration::from_secs(600),
        env_file: Stack::default_env_file(),
    };
    let mut args = args.peekable();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--lambda-endpoint" => {
                out.lambda_endpoint = args.next().ok_or("--lambda-endpoint needs a URL")?
            }
            "--timeout" => {
                let s = args.next().ok_or("--timeout needs seconds")?;
                out.timeout = Duration::from_secs(
                    s.parse()
                        .map_err(|_| format!("--timeout {s}: not a number of seconds"))?,
                );
            }
            "--env-file" => out.env_file = args.next().ok_or("--env-file needs a path")?.into(),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            path => out.ledger = path.into(),
        }
    }
    Ok(out)
}

/// Uploads the ledger under `ledgers/`, runs the mappings against the real binaries until
/// everything settled, prints each order the ledger reached to `out`; progress to stderr.
pub async fn run(args: &DemoArgs, out: &mut impl Write) -> Result<(), DemoError> {
    let stack = Stack::load(&args.env_file)?;
    let bytes = std::fs::read(&args.ledger).map_err(|source| DemoError::Read {
        path: args.ledger.clone(),
        source,
    })?;
    let name = args
        .ledger
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ledger.jsonl".into());
    let key = format!("ledgers/{name}");
    let ids = orders_in_ledger(&key, &bytes);

    let pipeline = Pipeline::connect(stack).await;
    let invoke_timeout = Duration::from_secs(900);
    let ledger_fn = HttpFunction::new(&args.lambda_endpoint, "ledger", invoke_timeout)
        .map_err(DemoError::Client)?;
    let consumer_fn = HttpFunction::new(&args.lambda_endpoint, "consumer", invoke_timeout)
        .map_err(DemoError::Client)?;
    let running = pipeline.start(ledger_fn, consumer_fn, 4).await?;

    eprintln!(
        "[demo] uploading {} ({} bytes) as s3://{}/{key}",
        args.ledger.display(),
        bytes.len(),
        pipeline.stack.bucket
    );
    let result = async {
        let upload = pipeline.upload(&key, bytes).await?;
        pipeline
            .wait_settled(&running, std::slice::from_ref(&upload), args.timeout, |s| {
                eprintln!("[demo] {s}")
            })
            .await
    }
    .await;
    running.stop().await;
    let statuses = result?;

    for s in &statuses {
        eprintln!(
            "[demo] ledger {}: {} — {} lines read, {} sent, {} refused{}{}",
            s.key,
            s.state,
            s.lines_read,
            s.sent,
            s.refused,
            s.rejects_key
                .as_ref()
                .map(|k| format!(", rejects report s3://{}/{k}", pipeline.stack.bucket))
                .unwrap_or_default(),
            s.error
                .as_ref()
                .map(|e| format!(", error: {e}"))
                .unwrap_or_default(),
        );
    }
    for key in statuses.iter().filter_map(|s| s.rejects_key.as_ref()) {
        if let Some(report) = pipeline.read_object(key).await? {
            for line in report.lines() {
                eprintln!("[demo] refused: {line}");
            }
        }
    }
    for view in pipeline.views(&ids).await? {
        writeln!(out, "{}", view.to_json_line()).map_err(DemoError::Write)?;
    }
    match statuses.iter().find(|s| s.state != State::Done) {
        Some(s) => Err(DemoError::Ledger {
            state: s.state.to_string(),
            error: s.error.clone().unwrap_or_default(),
        }),
        None => Ok(()),
    }
}
