//! The SQS handler: a FIFO batch in, the records to retry out. Groups (orders) are
//! independent and run concurrently; the records of one group strictly in order.

use crate::apply::{apply_order, Applied};
use crate::batch::{self, Group, Record};
use crate::settings::Settings;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use convoy_core::chain;
use convoy_core::sequencer::Disposition;
use convoy_core::Transaction;
use convoy_store::OrderStore;
use futures::StreamExt;
use tracing::{field, Instrument};

/// Handles one batch with the production [`Settings`].
pub async fn handle<S: OrderStore>(store: &S, event: SqsEvent) -> SqsBatchResponse {
    handle_with(store, event, &Settings::default()).await
}

/// Handles one batch: every record that was not committed is in `batchItemFailures`, and
/// so is every later record of its group.
pub async fn handle_with<S: OrderStore>(
    store: &S,
    event: SqsEvent,
    settings: &Settings,
) -> SqsBatchResponse {
    let records = event.records.len();
    let all_ids: Vec<String> = event
        .records
        .iter()
        .filter_map(|r| r.message_id.clone())
        .filter(|id| !id.is_empty())
        .collect();
    let groups = batch::group(event.records);
    let failed: Vec<Vec<String>> = futures::stream::iter(groups)
        .map(|g| process_group(store, g, settings))
        .buffered(settings.concurrency.max(1))
        .collect()
        .await;
    let mut failed: Vec<String> = failed.into_iter().flatten().collect();
    let mut response = SqsBatchResponse::default();
    if failed.iter().any(String::is_empty) {
        // Lambda always sends a message id; without one a failure cannot be reported alone,
        // so every record of the batch is retried instead (processing is idempotent).
        tracing::error!("a failed record has no messageId: retrying the whole batch");
        failed = all_ids;
    }
    tracing::info!(records, failed = failed.len(), "batch done");
    for id in failed {
        response.add_failure(id);
    }
    response
}

/// Processes one group; returns the message ids to retry.
async fn process_group<S: OrderStore>(store: &S, group: Group, settings: &Settings) -> Vec<String> {
    let span = tracing::info_span!("group", order_id = %group.key, records = group.records.len());
    async move {
        let Group { key, records } = group;
        let inputs: Vec<Transaction> = records
            .iter()
            .map_while(|r| r.txn.as_ref().ok().cloned())
            .collect();
        let applied = match inputs.first() {
            Some(first) => apply_order(store, &first.order_id.clone(), &inputs, settings).await,
            None => Applied::default(),
        };
        let committed = applied.dispositions.len();
        for (i, record) in records.iter().enumerate() {
            log_record(&key, i, record, &applied);
        }
        summarize(&applied, records.len() - committed);
        records
            .into_iter()
            .skip(committed)
            .map(|r| r.message_id)
            .collect()
    }
    .instrument(span)
    .await
}

/// One span per record, with what became of it.
fn log_record(key: &str, i: usize, record: &Record, applied: &Applied) {
    let span = tracing::info_span!(
        "record",
        order_id = %key,
        seq = field::Empty,
        message_id = %record.message_id,
    );
    let _entered = span.enter();
    let txn = match &record.txn {
        Ok(t) => t,
        Err(poison) => {
            tracing::error!(
                error = %chain(poison),
                disposition = "poison",
                receive_count = record.receive_count,
                "record cannot be processed; it fails until the dead-letter queue takes it"
            );
            return;
        }
    };
    span.record("seq", txn.seq.get());
    match (applied.dispositions.get(i), i == applied.dispositions.len()) {
        (Some(d), _) => log_disposition(d),
        (None, true) if applied.error.is_some() => {
            if let Some(e) = &applied.error {
                tracing::error!(error = %chain(e), disposition = "failed", "record failed; retried later");
            }
        }
        (None, _) => tracing::warn!(
            disposition = "failed",
            "an earlier record of this group failed; retried later"
        ),
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
    let count = |f: fn(&Disposition) -> bool| applied.dispositions.iter().filter(|d| f(d)).count();
    tracing::info!(
        applied = count(|d| matches!(d, Disposition::Applied)),
        rejected = count(|d| matches!(d, Disposition::Rejected(_))),
        parked = count(|d| matches!(d, Disposition::Parked)),
        duplicates = count(|d| matches!(d, Disposition::Duplicate)),
        conflicts = count(|d| matches!(d, Disposition::Conflict { .. })),
        drained = applied.drained.len(),
        commits = applied.commits,
        retries = applied.retries,
        failed,
        next_seq = applied.state.as_ref().map(|s| s.next_seq),
        waiting = applied.state.as_ref().map(|s| s.parked.len()),
        "group done"
    );
}
