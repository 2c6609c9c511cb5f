//! The ledger function's metrics, in CloudWatch's Embedded Metric Format: the `metrics`
//! facade (no-ops until a recorder is installed) with `metrics_cloudwatch_embedded` behind
//! it, installed by `main.rs`, which flushes one metric document to the function's log
//! after each invocation. Zeros are emitted too.

use crate::status::{LedgerStatus, State};
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

/// Counts a ledger that ended in `status` (done or failed) after `took`.
pub fn record_ledger(status: &LedgerStatus, took: Duration) {
    let outcome = match status.state {
        State::Done => LEDGERS_DONE,
        _ => LEDGERS_FAILED,
    };
    metrics::counter!(outcome).increment(1);
    metrics::counter!(TRANSACTIONS_SENT).increment(status.sent);
    metrics::counter!(LINES_READ).increment(status.lines_read);
    metrics::counter!(LINES_REFUSED).increment(status.refused);
    metrics::histogram!(LEDGER_DURATION).record(took.as_secs_f64() * 1000.0);
    if took > Duration::ZERO {
        metrics::histogram!(LEDGER_LINES_PER_SECOND)
            .record(status.lines_read as f64 / took.as_secs_f64());
    }
}
