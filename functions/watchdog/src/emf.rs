//! The watchdog's metrics, in CloudWatch's Embedded Metric Format: the `metrics` facade
//! with `metrics_cloudwatch_embedded` behind it. Each run sets its gauges and flushes one
//! metric document to standard output, the function's log, where CloudWatch extracts the
//! metrics (the `StalledOrders` alarm of `template.yaml` watches the first). Zeros are
//! emitted too, so the alarm sees a run that found nothing and goes back to OK.

use crate::Report;
use metrics_cloudwatch_embedded::Collector;

/// Orders stalled behind a gap, as of the run (the alarm's metric).
pub const STALLED_ORDERS: &str = "StalledOrders";
/// Due drains the run resumed.
pub const DRAINS_RESUMED: &str = "DrainsResumed";
/// Entries the run could not check.
pub const CHECKS_FAILED: &str = "WatchdogChecksFailed";

/// Installs the process's metrics recorder for `namespace` (once per process).
pub fn install(
    namespace: String,
) -> Result<&'static Collector, metrics_cloudwatch_embedded::Error> {
    metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(namespace)
        .emit_zeros(true)
        .init()
}

/// Sets the run's gauges.
pub fn record(report: &Report) {
    let n = |v: usize| v as f64;
    metrics::gauge!(STALLED_ORDERS).set(n(report.stalled.len()));
    metrics::gauge!(DRAINS_RESUMED).set(n(report.resumed.len()));
    metrics::gauge!(CHECKS_FAILED).set(n(report.failed));
}
