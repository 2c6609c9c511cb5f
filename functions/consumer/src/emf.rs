//! The consumer's metrics, in CloudWatch's Embedded Metric Format: the `metrics` facade
//! (counters, no-ops until a recorder is installed) with `metrics_cloudwatch_embedded`
//! behind it, installed by `main.rs`, which flushes one metric document to the function's
//! log after each invocation. Counted per invocation, zeros included.

use crate::apply::Applied;
use convoy_core::sequencer::Disposition;

/// Transactions applied on arrival (drained ones are [`DRAINED`]).
pub const APPLIED: &str = "TransactionsApplied";
/// Transactions rejected on arrival by the order's state machine.
pub const REJECTED: &str = "TransactionsRejected";
/// Transactions parked behind a gap.
pub const PARKED: &str = "TransactionsParked";
/// Parked transactions processed once their gap closed.
pub const DRAINED: &str = "TransactionsDrained";
pub const DUPLICATES: &str = "Duplicates";
pub const CONFLICTS: &str = "Conflicts";
/// Voids processed (from the queue; an operator's void is counted by its caller).
pub const VOIDED: &str = "Voided";
/// Records reported failed to the event source mapping (retried, then dead-lettered).
pub const RECORDS_FAILED: &str = "RecordsFailed";
/// Records received.
pub const RECORDS: &str = "Records";

/// Installs the process's metrics recorder for `namespace` (once per process).
pub fn install(
    namespace: String,
) -> Result<&'static metrics_cloudwatch_embedded::Collector, metrics_cloudwatch_embedded::Error> {
    metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(namespace)
        .emit_zeros(true)
        .init()
}

/// Counts what one order's group of an invocation came to.
pub fn record_group(applied: &Applied) {
    let mut counts = [0u64; 6];
    for d in applied.results.iter().flatten() {
        let i = match d {
            Disposition::Applied => 0,
            Disposition::Rejected(_) => 1,
            Disposition::Parked => 2,
            Disposition::Duplicate => 3,
            Disposition::Conflict { .. } => 4,
            Disposition::Voided => 5,
            Disposition::VoidRefused(_) => continue,
        };
        counts[i] += 1;
    }
    let names = [APPLIED, REJECTED, PARKED, DUPLICATES, CONFLICTS, VOIDED];
    for (name, n) in names.into_iter().zip(counts) {
        metrics::counter!(name).increment(n);
    }
    metrics::counter!(DRAINED).increment(applied.drained.len() as u64);
}

/// Counts an invocation's records and those reported failed.
pub fn record_batch(records: usize, failed: usize) {
    metrics::counter!(RECORDS).increment(records as u64);
    metrics::counter!(RECORDS_FAILED).increment(failed as u64);
}
