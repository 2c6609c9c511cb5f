//! The stalled-convoy watchdog. An order whose transactions are parked behind a gap has an
//! entry in the table's sparse `WaitingIndex`, put by the commit that began the wait (or
//! moved its gap) and deleted by the one that ended it. On a schedule, the watchdog asks
//! the index for the entries older than the stall threshold — a query per index shard,
//! never a scan, and nothing to read when nothing waits — and checks each against the
//! order's head (the index is eventually consistent, and an entry may outlive its wait):
//!
//! - the head still waits at a gap, for longer than the threshold: **stalled**. The entry
//!   records it (first found at, how many parked), the watchdog logs it at warn level
//!   with the order, the missing `seq`, since when and how many wait, and counts it in
//!   the `StalledOrders` metric. A gap that fills ends the wait, and the entry with it.
//! - the head's `next_seq` is itself parked: a drain is due that nothing drives (its
//!   resume message was lost or dead-lettered). The watchdog sends a resume message to the
//!   order's group, and logs it at error level.
//! - the head no longer waits: the entry is stale (a commit that ended the wait failed to
//!   delete it); the watchdog deletes it.
//! - the head waits since later than the threshold (its gap moved): not yet stalled.
//!
//! Idempotent: a second run finds the same and changes nothing new. [`emf`] turns a
//! [`Report`] into metrics.

pub mod emf;

use consumer::resume::{DrainQueue, Resume};
use convoy_core::sequencer::Need;
use convoy_core::{chain, BoxError, OrderId, Seq};
use convoy_store::{Fact, OrderStore, StoreError, Waiting, WaitingStore};
use futures::StreamExt;
use std::time::Duration;

/// How many entries are checked side by side.
const CONCURRENCY: usize = 8;

/// When an order counts as stalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Waiting on the same gap for longer than this.
    pub stall_after: Duration,
}

impl Settings {
    /// From the function's `STALL_AFTER_MINUTES` and `STALL_AFTER_SECONDS` (the template's
    /// `StallAfterMinutes` and `StallAfterSeconds`): the seconds when set (> 0, a test's
    /// shortened threshold), else the minutes (at least 1).
    pub fn from_env_values(minutes: &str, seconds: &str) -> Result<Settings, String> {
        let number = |name: &str, v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|e| format!("{name}={v:?} is not a whole number: {e}"))
        };
        let stall_after = match number("STALL_AFTER_SECONDS", seconds)? {
            0 => match number("STALL_AFTER_MINUTES", minutes)? {
                0 => return Err("STALL_AFTER_MINUTES must be at least 1".into()),
                m => Duration::from_secs(m.saturating_mul(60)),
            },
            s => Duration::from_secs(s),
        };
        Ok(Settings { stall_after })
    }
}

/// One stalled order, as found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stalled {
    pub order_id: OrderId,
    /// The missing transaction.
    pub next_seq: u64,
    /// Waiting on it since (epoch ms).
    pub since: u64,
    /// Transactions parked behind it.
    pub parked: u64,
    /// When the watchdog first found it stalled (epoch ms).
    pub stalled_at: u64,
}

/// What one run found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Entries of the index older than the threshold.
    pub candidates: usize,
    pub stalled: Vec<Stalled>,
    /// Orders whose due drain got a resume message.
    pub resumed: Vec<OrderId>,
    /// Stale entries deleted.
    pub cleared: usize,
    /// Entries that could not be checked (logged at error level); the next run retries.
    pub failed: usize,
}

/// The index could not be read: nothing was checked.
#[derive(Debug, thiserror::Error)]
#[error("reading the waiting index")]
pub struct WatchError(#[source] StoreError);

/// What became of one entry.
enum Outcome {
    Stalled(Stalled),
    Resumed(OrderId),
    Cleared,
    NotYet,
}

/// One run at `now` (epoch ms): every entry older than the threshold checked, stalled
/// orders recorded and logged, due drains resumed, stale entries cleared.
pub async fn watch<S, Q>(
    store: &S,
    queue: &Q,
    settings: Settings,
    now: u64,
) -> Result<Report, WatchError>
where
    S: OrderStore + WaitingStore,
    Q: DrainQueue,
{
    let threshold = u64::try_from(settings.stall_after.as_millis()).unwrap_or(u64::MAX);
    let cutoff = now.saturating_sub(threshold);
    let entries = store.waiting_since(cutoff).await.map_err(WatchError)?;
    let mut report = Report {
        candidates: entries.len(),
        ..Report::default()
    };
    let mut checks = futures::stream::iter(&entries)
        .map(|entry| async move { (entry, check(store, queue, entry, cutoff, now).await) })
        .buffer_unordered(CONCURRENCY);
    while let Some((entry, outcome)) = checks.next().await {
        match outcome {
            Ok(Outcome::Stalled(s)) => report.stalled.push(s),
            Ok(Outcome::Resumed(id)) => report.resumed.push(id),
            Ok(Outcome::Cleared) => report.cleared += 1,
            Ok(Outcome::NotYet) => {}
            Err(e) => {
                tracing::error!(
                    order_id = %entry.order_id,
                    error = %chain(&*e),
                    "could not check a waiting order; the next run tries again"
                );
                report.failed += 1;
            }
        }
    }
    report.stalled.sort_by_key(|s| s.since);
    report.resumed.sort();
    tracing::info!(
        candidates = report.candidates,
        stalled = report.stalled.len(),
        resumed = report.resumed.len(),
        cleared = report.cleared,
        failed = report.failed,
        "watchdog run done"
    );
    Ok(report)
}

async fn check<S, Q>(
    store: &S,
    queue: &Q,
    entry: &Waiting,
    cutoff: u64,
    now: u64,
) -> Result<Outcome, BoxError>
where
    S: OrderStore + WaitingStore,
    Q: DrainQueue,
{
    let id = &entry.order_id;
    let head = store.load(id).await?;
    let Some(head) = head.filter(|h| h.state.parked_count > 0) else {
        // No wait behind this entry any more (or no order at all).
        if store.clear_waiting(entry).await? {
            tracing::info!(order_id = %id, next_seq = entry.next_seq, "stale waiting entry cleared");
        }
        return Ok(Outcome::Cleared);
    };
    let state = &head.state;
    let since = head.waiting_since.unwrap_or(entry.since);
    if since > cutoff {
        return Ok(Outcome::NotYet);
    }
    let next = Seq::new(state.next_seq)?;
    if let Some(Fact::Parked(_)) = store.fetch(id, &Need::Parked(next)).await? {
        let resume = Resume {
            resume_drain: id.clone(),
            next_seq: state.next_seq,
        };
        queue.resume(&resume).await?;
        tracing::error!(
            order_id = %id,
            next_seq = state.next_seq,
            waiting = state.parked_count,
            since,
            "a drain was due and nothing drove it; a resume message was sent"
        );
        return Ok(Outcome::Resumed(id.clone()));
    }
    let marked = store.mark_stalled(entry, state.parked_count, now).await?;
    let stalled = Stalled {
        order_id: id.clone(),
        next_seq: state.next_seq,
        since,
        parked: state.parked_count,
        stalled_at: entry.stalled_at.unwrap_or(now),
    };
    tracing::warn!(
        order_id = %id,
        missing_seq = stalled.next_seq,
        since = stalled.since,
        waiting_for_s = now.saturating_sub(since) / 1000,
        parked = stalled.parked,
        first_found = stalled.stalled_at,
        recorded = marked,
        "stalled: transactions wait behind a gap; send the missing transaction, or void it"
    );
    Ok(Outcome::Stalled(stalled))
}

#[cfg(test)]
mod tests;
