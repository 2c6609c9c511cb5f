//! The ledger function's metrics, in CloudWatch's Embedded Metric Format: the `metrics`
//! facade (no-ops until a recorder is installed) with `metrics_cloudwatch_embedded` behind
//! it, installed by `main.rs`, which flushes one metric document to the function's log
//! after each invocation. Zeros are emitted too.

use crate::status::State;
use std::time::Duration;

/// Ledgers processed to the end (`done`).
pub const LEDGERS_DONE: &str = "LedgersDone";
/// Ledgers that failed (retried, then dead-lettered; or failed for good).
pub const LEDGERS_FAILED: &str = "LedgersFailed";
/// Transactions the transactions queue accepted.
pub const TRANSACTIONS_SENT: &str = "TransactionsSent";
pub const LINES_READ: &str = "LinesRead";
/// Lines refused (listed in the rejects report).
pub const LINES_REFUSED: &str = "LinesRefused";
/// How long a ledger took, in milliseconds.
pub const LEDGER_DURATION: &str = "LedgerDuration";
/// Lines read per second of a ledger.
pub const LEDGER_LINES_PER_SECOND: &str = "LedgerLinesPerSecond";
/// Ledgers handed on to a new invocation (a continuation message).
pub const LEDGER_CONTINUATIONS: &str = "LedgerContinuations";

/// Installs the process's metrics recorder for `namespace` (once per process).
pub fn install(
    namespace: String,
) -> Result<&'static metrics_cloudwatch_embedded::Collector, metrics_cloudwatch_embedded::Error> {
    metrics::describe_histogram!(LEDGER_DURATION, metrics::Unit::Milliseconds, "");
    metrics::describe_histogram!(LEDGER_LINES_PER_SECOND, metrics::Unit::CountPerSecond, "");
    metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(namespace)
        .emit_zeros(true)
        .init()
}

/// What one invocation did of a ledger: lines read, sent, refused, in how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invocation {
    pub lines_read: u64,
    pub sent: u64,
    pub refused: u64,
    pub took: Duration,
}

/// Counts a ledger's invocation that ended it in `state` (done or failed), or handed it on
/// (`Processing`: a continuation).
pub fn record_ledger(state: State, run: Invocation) {
    let outcome = match state {
        State::Done => LEDGERS_DONE,
        State::Processing => LEDGER_CONTINUATIONS,
        _ => LEDGERS_FAILED,
    };
    metrics::counter!(outcome).increment(1);
    metrics::counter!(TRANSACTIONS_SENT).increment(run.sent);
    metrics::counter!(LINES_READ).increment(run.lines_read);
    metrics::counter!(LINES_REFUSED).increment(run.refused);
    metrics::histogram!(LEDGER_DURATION).record(run.took.as_secs_f64() * 1000.0);
    if run.took > Duration::ZERO {
        metrics::histogram!(LEDGER_LINES_PER_SECOND)
            .record(run.lines_read as f64 / run.took.as_secs_f64());
    }
}
