//! The SQS handler: a FIFO batch in, the records to retry out. [`fifo_batch`] runs the
//! groups (orders) side by side; here one group's records go through [`apply_order`] in
//! order and each record is reported or not by what became of it.

use crate::apply::{apply_order, Applied};
use crate::batch::{self, Body, Record};
use crate::error::ApplyError;
use crate::resume::{DrainQueue, Resume};
use crate::settings::Settings;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use convoy_core::chain;
use convoy_core::sequencer::Disposition;
use convoy_core::{OrderId, Transaction};
use convoy_store::{Failure, OrderStore};
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
pub async fn handle<S: OrderStore, Q: DrainQueue>(
    store: &S,
    queue: &Q,
    event: SqsEvent,
    deadline: Instant,
) -> Result<SqsBatchResponse, BatchError> {
    handle_with(store, queue, event, &Settings::default(), deadline).await
}

/// Handles one batch. Reported in `batchItemFailures`: a poison record or a transaction the
/// store refuses for good (alone: what follows it is parked behind the gap), every record
/// of a group from a transient failure or the deadline on, and the last transaction (or
/// the resume messages) of a group whose drain stopped after it was committed and could
/// not go on in a resume message (its redelivery resumes the drain): a drain the deadline
/// stops after progress continues in a resume message to `queue` instead ([`crate::resume`]).
/// A record without a message id fails the whole invocation.
pub async fn handle_with<S: OrderStore, Q: DrainQueue>(
    store: &S,
    queue: &Q,
    event: SqsEvent,
    settings: &Settings,
    deadline: Instant,
) -> Result<SqsBatchResponse, BatchError> {
    let records = event.records.len();
    let response = fifo_batch::for_each_group(&event.records, deadline, |group| {
        process_group(store, queue, group, settings)
    })
    .await?;
    crate::emf::record_batch(records, response.batch_item_failures.len());
    Ok(response)
}

/// Processes one group; reports the records not finished for good.
async fn process_group<S: OrderStore, Q: DrainQueue>(
    store: &S,
    queue: &Q,
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
        // Input k (a transaction) is record `at[k]`; poison and resume records are no input.
        let (at, inputs): (Vec<usize>, Vec<Transaction>) = records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.txn().map(|t| (i, t.clone())))
            .unzip();
        let id = inputs
            .first()
            .map(|t| t.order_id.clone())
            .or_else(|| records.iter().find_map(resumed));
        let applied = match &id {
            Some(id) => {
                // The store calls stop in time to send a resume message before the group's
                // deadline, when the batch runner would cancel the group and fail it all.
                let deadline = group
                    .deadline
                    .checked_sub(settings.resume_margin)
                    .unwrap_or(group.deadline);
                let mut applied = apply_order(store, id, &inputs, settings, deadline).await;
                if applied.drain_unfinished {
                    continue_drain(queue, id, &mut applied).await;
                }
                applied
            }
            None => Applied::default(),
        };
        let mut report = GroupReport::done();
        let mut failures = Vec::new();
        for (i, record) in records.iter().enumerate() {
            let input = at.iter().position(|a| *a == i);
            log_record(key, record, input, &applied);
            let finished = match input {
                Some(k) => applied.finished(k),
                // A resume message is done once its drain is done or goes on in another.
                None => record.is_resume() && !applied.drain_unfinished,
            };
            if !finished {
                report.fail(i);
                failures.extend(failure_of(key, record, input, &applied));
            }
        }
        record_failures(store, &failures).await;
        summarize(&applied, report.len());
        crate::emf::record_group(&applied);
        report
    }
    .instrument(span)
    .await
}

/// A transient failure is kept for an operator from this receive on, when the dead-letter
/// queue is near (the template's `maxReceiveCount` is at least 5); a permanent one always.
/// Earlier transient failures (throttling, the deadline) would only add writes to a store
/// that is already struggling.
pub const RECORD_FAILURES_FROM: u32 = 3;

/// Why record `record` of group `group` failed, if it is worth keeping
/// ([`RECORD_FAILURES_FROM`]); `None` for a group that is no order's.
fn failure_of(
    group: &str,
    record: &Record,
    input: Option<usize>,
    applied: &Applied,
) -> Option<Failure> {
    let order_id = OrderId::parse(group).ok()?;
    let transient = |e: &ApplyError| {
        let disposition = match e {
            ApplyError::Deadline { .. } => "deadline",
            _ => "failed",
        };
        (disposition, chain(e), false)
    };
    let (disposition, error, permanent) = match (&record.body, input) {
        (Err(poison), _) => ("poison", chain(poison), true),
        (Ok(_), Some(k)) => match applied.results.get(k) {
            Some(Err(e)) => ("refused", chain(e), true),
            Some(Ok(_)) => ("drain_failed", chain(applied.error.as_ref()?), false),
            None => transient(applied.error.as_ref()?),
        },
        (Ok(Body::Resume(_)), None) => ("drain_failed", chain(applied.error.as_ref()?), false),
        (Ok(Body::Txn(_)), None) => return None,
    };
    if !permanent && record.receive_count.unwrap_or(0) < RECORD_FAILURES_FROM {
        return None;
    }
    Some(Failure {
        order_id,
        message_id: record.message_id.clone(),
        disposition: disposition.to_owned(),
        error,
        receive_count: record.receive_count,
        at: convoy_store::plan::now().text,
    })
}

/// Keeps why records failed, for an operator; a failure to keep it is logged, and the
/// records fail as they would anyway.
async fn record_failures<S: OrderStore>(store: &S, failures: &[Failure]) {
    let writes = failures.iter().map(|f| async move {
        if let Err(e) = store.record_failure(f).await {
            tracing::error!(
                order_id = %f.order_id,
                message_id = %f.message_id,
                error = %chain(&e),
                "could not keep why this record failed; its dead letter will show no last error"
            );
        }
    });
    futures::future::join_all(writes).await;
}

/// The order a resume record asks to drain.
fn resumed(record: &Record) -> Option<OrderId> {
    match &record.body {
        Ok(Body::Resume(r)) => Some(r.resume_drain.clone()),
        _ => None,
    }
}

/// A drain the deadline stopped after this invocation committed something goes on in a
/// resume message; then its record is finished. Otherwise (no progress, another failure,
/// or the message not sent) the record stays unfinished and its redelivery resumes it.
async fn continue_drain<Q: DrainQueue>(queue: &Q, id: &OrderId, applied: &mut Applied) {
    let (Some(ApplyError::Deadline { .. }), Some(state)) = (&applied.error, &applied.state) else {
        return;
    };
    if applied.commits == 0 {
        return;
    }
    let resume = Resume {
        resume_drain: id.clone(),
        next_seq: state.next_seq,
    };
    match queue.resume(&resume).await {
        Ok(()) => {
            tracing::info!(
                order_id = %id,
                next_seq = state.next_seq,
                waiting = state.parked_count,
                drained = applied.drained.len(),
                "the deadline stopped the drain; it goes on in a resume message"
            );
            applied.drain_unfinished = false;
        }
        Err(e) => tracing::error!(
            order_id = %id,
            next_seq = state.next_seq,
            error = %chain(&e),
            "the deadline stopped the drain and no resume message could be sent; the record that started it is retried instead"
        ),
    }
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
    let (txn, k) = match (&record.body, input) {
        (Ok(Body::Txn(t)), Some(k)) => (t, k),
        (Ok(Body::Resume(r)), _) => {
            let next_seq = applied.state.as_ref().map(|s| s.next_seq);
            match (&applied.error, applied.drain_unfinished) {
                (Some(e), true) => tracing::error!(
                    error = %chain(e),
                    disposition = "drain_failed",
                    stopped_at = r.next_seq,
                    next_seq,
                    receive_count = record.receive_count,
                    "the drain this resume message asks for failed; retried later to resume it"
                ),
                _ => tracing::info!(
                    disposition = "resume",
                    stopped_at = r.next_seq,
                    next_seq,
                    "resume message: the drain went on"
                ),
            }
            return;
        }
        (Ok(Body::Txn(_)), None) => return,
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
        // The rule only: the reason names items, and logs at info carry no contents.
        Disposition::Rejected(reason) => {
            tracing::debug!(reason = %reason, "rejection");
            tracing::info!(
                disposition = "rejected",
                rule = reason.rule(),
                "record processed"
            )
        }
        Disposition::Parked => tracing::info!(disposition = "parked", "record processed"),
        Disposition::Duplicate => tracing::info!(disposition = "duplicate", "record processed"),
        Disposition::Conflict { counted } => tracing::warn!(
            disposition = "conflict",
            counted,
            "record conflicts with what holds its seq"
        ),
        Disposition::Voided => tracing::info!(disposition = "voided", "record processed"),
        // A void through the queue (the operator's path is `convoy order void`, which
        // reports the refusal to its caller): nothing changed.
        Disposition::VoidRefused(why) => tracing::warn!(
            disposition = "void_refused",
            why = ?why,
            "void refused: a transaction holds its seq, or the order has voided too many"
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
