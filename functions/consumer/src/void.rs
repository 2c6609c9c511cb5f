//! An operator's compensating void of a `seq` that will never arrive: it goes through the
//! same sequencer and conditional commits as a transaction from the queue (so it races
//! safely with the consumer), and the order drains on from it in the same call.
//!
//! A void is refused — nothing changes — when that `seq` was processed meanwhile, or holds
//! a parked transaction (not missing, only early); voiding a voided `seq` again is a
//! duplicate, reported as such. A `seq` past `next_seq` is voided ahead: parked until the
//! sequence reaches it.

use crate::apply::apply_order;
use crate::error::ApplyError;
use crate::settings::Settings;
use convoy_core::sequencer::{Disposition, VoidRefusal, MAX_VOIDED};
use convoy_core::{FieldError, OrderId, Principal, Seq, Transaction};
use convoy_store::{OrderStore, StoreError};
use tokio::time::Instant;

/// What voiding did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "voided", rename_all = "snake_case")]
pub enum VoidOutcome {
    /// The `seq` was next: voided, and the parked transactions after it drained.
    Now {
        next_seq: u64,
        drained: usize,
        /// The drain after the void stopped early (a store failure or the deadline); the
        /// watchdog resumes it.
        drain_unfinished: bool,
    },
    /// The `seq` is ahead of `next_seq`: the void waits, parked, for the sequence.
    Ahead { next_seq: u64 },
    /// The `seq` was voided before: nothing changed.
    Already { next_seq: u64 },
}

/// Why nothing was voided.
#[derive(Debug, thiserror::Error)]
pub enum VoidError {
    #[error("order {order_id} not found: nothing to void")]
    NoSuchOrder { order_id: String },
    #[error("the void is invalid")]
    Invalid(#[source] FieldError),
    #[error(
        "order {order_id}: seq {seq} was processed meanwhile (applied or rejected); nothing was voided"
    )]
    Processed { order_id: String, seq: u64 },
    #[error(
        "order {order_id}: a transaction is parked at seq {seq}: it is not missing, only early; nothing was voided"
    )]
    Parked { order_id: String, seq: u64 },
    #[error("order {order_id} already lists {MAX_VOIDED} voided seqs; nothing was voided")]
    TooMany { order_id: String },
    #[error(
        "order {order_id}: seq {seq}: the sequencer gave a void the disposition {disposition}"
    )]
    Unexpected {
        order_id: String,
        seq: u64,
        disposition: String,
    },
    #[error("reading order {order_id} failed")]
    Load {
        order_id: String,
        #[source]
        source: StoreError,
    },
    #[error("voiding seq {seq} of order {order_id} failed")]
    Apply {
        order_id: String,
        seq: u64,
        #[source]
        source: ApplyError,
    },
}

/// What to void, by whom, and why.
#[derive(Debug, Clone)]
pub struct VoidRequest {
    pub order_id: OrderId,
    pub seq: Seq,
    pub reason: String,
    pub by: Principal,
    /// When (RFC 3339).
    pub at: String,
}

/// Voids `request.seq` of its order in `store`; store calls stop at `deadline`.
pub async fn void<S: OrderStore>(
    store: &S,
    request: &VoidRequest,
    settings: &Settings,
    deadline: Instant,
) -> Result<VoidOutcome, VoidError> {
    let order_id = request.order_id.to_string();
    let seq = request.seq.get();
    let txn = Transaction::void(
        request.order_id.clone(),
        request.seq,
        &request.reason,
        request.by.clone(),
        request.at.clone(),
    )
    .map_err(VoidError::Invalid)?;
    let head = store
        .load(&request.order_id)
        .await
        .map_err(|source| VoidError::Load {
            order_id: order_id.clone(),
            source,
        })?;
    if head.is_none() {
        return Err(VoidError::NoSuchOrder { order_id });
    }
    let applied = apply_order(store, &request.order_id, &[txn], settings, deadline).await;
    let next_seq = applied.state.as_ref().map_or(0, |s| s.next_seq);
    let disposition = match applied.results.into_iter().next() {
        Some(Ok(d)) => d,
        Some(Err(source)) => {
            return Err(VoidError::Apply {
                order_id,
                seq,
                source,
            })
        }
        None => {
            let source = applied.error.unwrap_or(ApplyError::Deadline {
                order_id: order_id.clone(),
            });
            return Err(VoidError::Apply {
                order_id,
                seq,
                source,
            });
        }
    };
    let outcome = match disposition {
        Disposition::Voided => VoidOutcome::Now {
            next_seq,
            drained: applied.drained.len(),
            drain_unfinished: applied.drain_unfinished,
        },
        Disposition::Parked => VoidOutcome::Ahead { next_seq },
        Disposition::Duplicate => VoidOutcome::Already { next_seq },
        Disposition::VoidRefused(VoidRefusal::Processed) => {
            return Err(VoidError::Processed { order_id, seq })
        }
        Disposition::VoidRefused(VoidRefusal::Parked) => {
            return Err(VoidError::Parked { order_id, seq })
        }
        Disposition::VoidRefused(VoidRefusal::TooMany) => {
            return Err(VoidError::TooMany { order_id })
        }
        // The sequencer gives a void no other disposition.
        other => {
            return Err(VoidError::Unexpected {
                order_id,
                seq,
                disposition: format!("{other:?}"),
            })
        }
    };
    match &outcome {
        VoidOutcome::Now {
            drain_unfinished: true,
            ..
        } => tracing::error!(
            order_id = %request.order_id, seq, by = %request.by, next_seq,
            error = %applied.error.as_ref().map(|e| convoy_core::chain(e)).unwrap_or_default(),
            "seq voided; the drain after it stopped early, the watchdog resumes it"
        ),
        _ => tracing::info!(
            order_id = %request.order_id, seq, by = %request.by, outcome = ?outcome,
            "void"
        ),
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests;
