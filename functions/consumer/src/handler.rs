//! The SQS handler: a FIFO batch in, the records to retry out. [`fifo_batch`] runs the
//! groups (orders) side by side; here one group's records go through [`apply_order`] in
//! order and each record is reported or not by what became of it.

use crate::apply::{apply_order, Applied};
use crate::batch::{self, Record};
use crate::error::ApplyError;
use crate::settings::Settings;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use convoy_core::chain;
use convoy_core::sequencer::Disposition;
use convoy_core::Transaction;
use convoy_store::OrderStore;
use fifo_batch::{BatchError, Group, GroupReport};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;
use tracing::{field, Instrument};

/// Kept free before the Lambda deadline to build and send the response.
pub const RESPONSE_MARGIN: Duration = Duration::from_secs(1);

/// The deadline to hand to [`handle`] for a Lambda context's deadline: [`RESPONSE_MARGIN`]
/// before it.
pub fn invocation_deadline(lambda_deadline: SystemTime) -> Instant {
    let deadline = fifo_batch::deadline_from(lambda_deadline);
    deadline.checked_sub(RESPONSE_MARGIN).unwrap_or(deadline)
}

/// Handles one batch with the production [`Settings`].
pub async fn handle<S: OrderStore>(
    store: &S,
    event: SqsEvent,
    deadline: Instant,
) -> Result<SqsBatchResponse, BatchError> {
    handle_with(store, event, &Settings::default(), deadline).await
}

/// Handles one batch. Reported in `batchItemFailures`: a poison record or a transaction the
/// store refuses for good (alone: what follows it is parked behind the gap), every record
/// of a group from a transient failure or the deadline on, and the last transaction of a
/// group whose drain stopped after it was committed (its redelivery resumes the drain).
/// A record without a message id fails the whole invocation.
pub async fn handle_with<S: OrderStore>(
    store: &S,
    event: SqsEvent,
    settings: &Settings,
    deadline: Instant,
) -> Result<SqsBatchResponse, BatchError> {
    fifo_batch::for_each_group(&event.records, deadline, |group| {
        process_group(store, group, settings)
    })
    .await
}

/// Processes one group; reports the records not finished for good.
async fn process_group<S: OrderStore>(
    store: &S,
    group: Group<'_>,
    settings: &Settings,
) -> GroupReport {
    let key = group.id.unwrap_or_default();
    let span = tracing::info_span!("group", order_id = %key, records = group.records.len());
    async move {
        let records: Vec<Record> = group
            .records
            .iter()
            .map(|m| batch::parse(m, group.id))
            .collect();
        // Input k (a transaction) is record `at[k]`; poison records are no input.
        let (at, inputs): (Vec<usize>, Vec<Transaction>) = records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.txn.as_ref().ok().map(|t| (i, t.clone())))
            .unzip();
        let applied = match inputs.first() {
            Some(first) => {
                let id = first.order_id.clone();
                apply_order(store, &id, &inputs, settings, group.deadline).await
            }
            None => Applied::default(),
        };
        let mut report = GroupReport::done();
        for (i, record) in records.iter().enumerate() {
            let input = at.iter().position(|a| *a == i);
            log_record(key, record, input, &applied);
            if !input.is_some_and(|k| applied.finished(k)) {
                report.fail(i);
            }
        }
        summarize(&applied, report.len());
        report
    }
    .instrument(span)
    .await
}

/// One span per record, with what became of it (`input`: its index among the transactions).
fn log_record(key: &str, record: &Record, input: Option<usize>, applied: &Applied) {
    let span = tracing::info_span!(
        "record",
        order_id = %key,
        seq = field::Empty,
        message_id = %record.message_id,
    );
    let _entered = span.enter();
    let (txn, k) = match (&record.txn, input) {
        (Ok(t), Some(k)) => (t, k),
        (Ok(_), None) => return,
        (Err(poison), _) => {
            tracing::error!(
                error = %chain(poison),
                disposition = "poison",
                receive_count = record.receive_count,
                "record cannot be processed; it fails alone until the dead-letter queue takes it"
            );
            return;
        }
    };
    span.record("seq", txn.seq.get());
    match applied.results.get(k) {
        Some(Ok(d)) => {
            log_disposition(d);
            if let (false, Some(e)) = (applied.finished(k), &applied.error) {
                tracing::error!(
                    error = %chain(e),
                    disposition = "drain_failed",
                    drained = applied.drained.len(),
                    next_seq = applied.state.as_ref().map(|s| s.next_seq),
                    "the drain after this record failed; retried later to resume it"
                );
            }
        }
        Some(Err(e)) => tracing::error!(
            error = %chain(e),
            disposition = "poison",
            receive_count = record.receive_count,
            "the store refuses this transaction; it fails alone until the dead-letter queue takes it"
        ),
        None => {
            let Some(e) = &applied.error else { return };
            let disposition = match e {
                ApplyError::Deadline { .. } => "deadline",
                _ => "failed",
            };
            let message = if k == applied.results.len() {
                "record failed; retried later"
            } else {
                "record not processed after an earlier record of its group failed; retried later"
            };
            tracing::error!(error = %chain(e), disposition, "{message}");
        }
    }
}

fn log_disposition(d: &Disposition) {
    match d {
        Disposition::Applied => tracing::info!(disposition = "applied", "record processed"),
        Disposition::Rejected(reason) => tracing::info!(
            disposition = "rejected",
            reason = %reason,
            "record processed"
        ),
        Disposition::Parked => tracing::info!(disposition = "parked", "record processed"),
        Disposition::Duplicate => tracing::info!(disposition = "duplicate", "record processed"),
        Disposition::Conflict { counted } => tracing::warn!(
            disposition = "conflict",
            counted,
            "record conflicts with what holds its seq"
        ),
    }
}

fn summarize(applied: &Applied, failed: usize) {
    let count = |f: fn(&Disposition) -> bool| {
        applied
            .results
            .iter()
            .filter(|r| r.as_ref().is_ok_and(f))
            .count()
    };
    tracing::info!(
        applied = count(|d| matches!(d, Disposition::Applied)),
        rejected = count(|d| matches!(d, Disposition::Rejected(_))),
        parked = count(|d| matches!(d, Disposition::Parked)),
        duplicates = count(|d| matches!(d, Disposition::Duplicate)),
        conflicts = count(|d| matches!(d, Disposition::Conflict { .. })),
        refused = applied.results.iter().filter(|r| r.is_err()).count(),
        drained = applied.drained.len(),
        commits = applied.commits,
        retries = applied.retries,
        failed,
        next_seq = applied.state.as_ref().map(|s| s.next_seq),
        waiting = applied.state.as_ref().map(|s| s.parked_count),
        "group done"
    );
}
