//! The main job: one ledger through the whole pipeline, its orders printed as JSON lines.

use crate::function::HttpFunction;
use crate::pipeline::{orders_in_ledger, Pipeline, PipelineError};
use crate::stack::Stack;
use convoy_core::OrderView;
use ledger::rejects::MAX_REPORTED_REJECTS;
use ledger::State;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// What the demo is asked to do.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// The ledger to upload under ledgers/ (default: infra/samples/demo.jsonl).
    pub ledger: Option<PathBuf>,
    /// Lambda's Invoke API where the real binaries run (`infra/lambdas.sh`).
    #[arg(long, default_value_t = crate::local::lambda_endpoint())]
    pub lambda_endpoint: String,
    /// How long to wait until everything settled, in seconds.
    #[arg(long, value_name = "SECONDS", env = "CONVOY_DEMO_TIMEOUT", default_value = "600", value_parser = parse_seconds)]
    pub timeout: Duration,
    /// Expected order JSON lines to compare the output with (every field but `duplicates`).
    #[arg(long, value_name = "ORDERS.jsonl")]
    pub expect: Option<PathBuf>,
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    s.parse()
        .map(Duration::from_secs)
        .map_err(|_| format!("{s}: not a number of seconds"))
}

impl DemoArgs {
    /// The ledger to upload: the one given, else the sample.
    pub fn ledger(&self) -> PathBuf {
        self.ledger
            .clone()
            .unwrap_or_else(|| crate::stack::repo_root().join("infra/samples/demo.jsonl"))
    }
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
    #[error("the output differs from {path}:\n{diff}")]
    Mismatch { path: PathBuf, diff: String },
    #[error("the ledger {key} ended {state}: {error}")]
    Ledger {
        key: String,
        state: String,
        error: String,
    },
    #[error("{}", dead_letter_summary(.0))]
    DeadLetters(Vec<(&'static str, u64)>),
}

/// How many refused lines the demo echoes to stderr; the rest are in the rejects report.
const REFUSED_SHOWN: usize = 20;

fn dead_letter_summary(queues: &[(&'static str, u64)]) -> String {
    let parts: Vec<String> = queues
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{n} in the {name}"))
        .collect();
    format!(
        "messages are waiting in a dead-letter queue ({}): the demo is not done",
        parts.join(", ")
    )
}

/// How the run ended, for the exit code: `Ok` when every ledger is `done` and both
/// dead-letter queues are empty (orders waiting on a gap are data, not a failure); else
/// the dead letters first, then the first ledger that did not end `done`.
pub fn verdict<'a>(
    ledgers: impl IntoIterator<Item = (&'a str, State, Option<&'a str>)>,
    dead_letters: &[(&'static str, u64)],
) -> Result<(), DemoError> {
    if dead_letters.iter().any(|(_, n)| *n > 0) {
        return Err(DemoError::DeadLetters(dead_letters.to_vec()));
    }
    match ledgers
        .into_iter()
        .find(|(_, state, _)| *state != State::Done)
    {
        Some((key, state, error)) => Err(DemoError::Ledger {
            key: key.to_owned(),
            state: state.to_string(),
            error: error.unwrap_or_default().to_owned(),
        }),
        None => Ok(()),
    }
}

/// Uploads the ledger under `ledgers/`, runs the mappings against the real binaries until
/// everything settled, prints each order the ledger reached to `out`; progress to stderr.
pub async fn run(args: &DemoArgs, stack: &str, out: &mut dyn Write) -> Result<(), DemoError> {
    let sdk = crate::stack::Emulator::from_env().sdk_config().await;
    let stack = Stack::describe(&sdk, stack).await?;
    let ledger = args.ledger();
    let bytes = std::fs::read(&ledger).map_err(|source| DemoError::Read {
        path: ledger.clone(),
        source,
    })?;
    let name = ledger
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
        ledger.display(),
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
            "[demo] ledger {}: {} — {} lines read, {} sent, {} refused{}{}{}",
            s.key,
            s.state,
            s.lines_read,
            s.sent,
            s.refused,
            if s.rejects_truncated {
                format!(" (the report lists the first {MAX_REPORTED_REJECTS})")
            } else {
                String::new()
            },
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
            for line in report.lines().take(REFUSED_SHOWN) {
                eprintln!("[demo] refused: {line}");
            }
            let more = report.lines().count().saturating_sub(REFUSED_SHOWN);
            if more > 0 {
                eprintln!(
                    "[demo] … and {more} more refused lines in s3://{}/{key}",
                    pipeline.stack.bucket
                );
            }
        }
    }
    let views = pipeline.views(&ids).await?;
    for view in &views {
        writeln!(out, "{}", view.to_json_line()).map_err(DemoError::Write)?;
    }
    for view in views.iter().filter(|v| !v.parked.is_empty()) {
        eprintln!(
            "[demo] order {} waits on seq {} ({} parked)",
            view.order_id,
            view.next_seq,
            view.parked.len()
        );
    }
    let dead_letters = [
        (
            "ledger dead-letter queue",
            pipeline
                .depth(&pipeline.stack.ledger_dlq_url)
                .await?
                .visible,
        ),
        (
            "transactions dead-letter queue",
            pipeline
                .depth(&pipeline.stack.transactions_dlq_url)
                .await?
                .visible,
        ),
    ];
    if let Some(path) = &args.expect {
        let text = std::fs::read_to_string(path).map_err(|source| DemoError::Read {
            path: path.clone(),
            source,
        })?;
        let got: Vec<String> = views.iter().map(OrderView::to_json_line).collect();
        if let Some(diff) = compare_orders(&text, &got) {
            return Err(DemoError::Mismatch {
                path: path.clone(),
                diff,
            });
        }
        eprintln!(
            "[demo] output matches {} ({} orders)",
            path.display(),
            views.len()
        );
    }
    verdict(
        statuses
            .iter()
            .map(|s| (s.key.as_str(), s.state, s.error.as_deref())),
        &dead_letters,
    )
}

/// Compares order JSON lines by `order_id`, on every field but `duplicates` (which depends on
/// what SQS deduplication absorbed). `None` when equal, else a description of each difference.
pub fn compare_orders(expected: &str, got: &[String]) -> Option<String> {
    fn by_id<'a>(lines: impl Iterator<Item = &'a str>) -> BTreeMap<String, Value> {
        lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap_or(Value::String(l.to_owned()));
                if let Some(o) = v.as_object_mut() {
                    o.remove("duplicates");
                }
                let id = v
                    .get("order_id")
                    .and_then(Value::as_str)
                    .unwrap_or(l)
                    .to_owned();
                (id, v)
            })
            .collect()
    }
    let want = by_id(expected.lines());
    let have = by_id(got.iter().map(String::as_str));
    let mut diff = Vec::new();
    for (id, w) in &want {
        match have.get(id) {
            None => diff.push(format!("missing order {id}")),
            Some(h) if h != w => diff.push(format!("order {id}:\n  expected {w}\n  got      {h}")),
            Some(_) => {}
        }
    }
    for id in have.keys().filter(|id| !want.contains_key(*id)) {
        diff.push(format!("unexpected order {id}"));
    }
    (!diff.is_empty()).then(|| diff.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: [(&str, u64); 2] = [
        ("ledger dead-letter queue", 0),
        ("transactions dead-letter queue", 0),
    ];

    #[test]
    fn done_ledgers_and_empty_dead_letter_queues_succeed() {
        let ledgers = [
            ("ledgers/a.jsonl", State::Done, None),
            ("ledgers/b.csv", State::Done, None),
        ];
        assert!(verdict(ledgers, &EMPTY).is_ok());
    }

    #[test]
    fn a_dead_letter_fails_even_when_every_ledger_is_done() {
        let dead = [
            ("ledger dead-letter queue", 0),
            ("transactions dead-letter queue", 10),
        ];
        let e = verdict([("ledgers/a.jsonl", State::Done, None)], &dead).unwrap_err();
        assert!(matches!(e, DemoError::DeadLetters(_)), "{e}");
        assert_eq!(
            e.to_string(),
            "messages are waiting in a dead-letter queue (10 in the transactions dead-letter queue): the demo is not done"
        );
    }

    #[test]
    fn a_failed_or_unsupported_ledger_fails_with_its_reason() {
        for state in [State::Failed, State::Unsupported, State::Processing] {
            let ledgers = [
                ("ledgers/a.jsonl", State::Done, None),
                ("ledgers/b.txt", state, Some("no such format")),
            ];
            let e = verdict(ledgers, &EMPTY).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("the ledger ledgers/b.txt ended {state}: no such format")
            );
        }
    }

    #[test]
    fn compares_every_field_but_duplicates() {
        let want = r#"{"order_id":"A","total":"1.00","duplicates":0}
{"order_id":"B","total":"2.00","duplicates":0}"#;
        let same = vec![
            r#"{"order_id":"B","total":"2.00","duplicates":3}"#.to_owned(),
            r#"{"order_id":"A","duplicates":1,"total":"1.00"}"#.to_owned(),
        ];
        assert_eq!(compare_orders(want, &same), None);
        let other = vec![r#"{"order_id":"A","total":"1.50","duplicates":0}"#.to_owned()];
        let d = compare_orders(want, &other).unwrap();
        assert!(
            d.contains("order A") && d.contains("missing order B"),
            "{d}"
        );
    }
}
