//! The functions' log set-up, one for all four: JSON lines on stdout (CloudWatch keeps
//! each as an event; Lambda stamps the time), filtered by `RUST_LOG` as `target=level`
//! directives (default `info`) with tracing's plain `Targets` filter — not `EnvFilter`,
//! whose regex engine would add to every package and its cold start.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Which spans an event carries besides its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spans {
    /// The span list and the current span (the ledger: its one span per ledger run).
    ListAndCurrent,
    /// The span list only (a group's span in the consumer, say).
    List,
}

/// Installs the global subscriber; a second call does nothing.
pub fn init(spans: Spans) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(spans == Spans::ListAndCurrent)
        .with_span_list(true)
        .without_time();
    // Err only when a subscriber is set already.
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(filter)
        .try_init();
}
