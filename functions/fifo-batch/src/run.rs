//! A batch processed: every group at once (a batch holds at most ten records, so no limit
//! is needed, and none waits for another), each group's records in order, the deadline
//! watched, and the partial batch response built from what each group reports.

use crate::error::{BatchError, Chain};
use crate::group::{plan, Group, Planned};
use crate::report::GroupReport;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsMessage};
use std::error::Error;
use std::future::Future;
use tokio::time::{timeout_at, Instant};

type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Handles every record with `handler`, groups side by side, each group in order. The first
/// record of a group whose handler fails, or is still running at `deadline`, is reported
/// with every later record of its group, and those later records are not handled. The
/// handler can capture `deadline` to stop on its own before it.
///
/// Fails, before handling anything, if a record has no `messageId`.
pub async fn for_each_record<'a, F, Fut, E>(
    records: &'a [SqsMessage],
    deadline: Instant,
    handler: F,
) -> Result<SqsBatchResponse, BatchError>
where
    F: Fn(&'a SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<BoxError>,
{
    let handler = &handler;
    for_each_group(records, deadline, |group| async move {
        let mut report = GroupReport::done();
        for (i, record) in group.records.iter().copied().enumerate() {
            let outcome = if Instant::now() >= group.deadline {
                None
            } else {
                timeout_at(group.deadline, handler(record)).await.ok()
            };
            let error = match outcome {
                Some(Ok(())) => continue,
                Some(Err(e)) => Some(e.into()),
                None => None,
            };
            log_failure(&group, i, error.as_deref());
            report.extend(i..group.records.len());
            break;
        }
        report
    })
    .await
}

/// Processes every group with `processor`, all groups at once, and reports the records
/// each [`GroupReport`] names. A group still running at `deadline` is cancelled and all its
/// records are reported; so are all of a group whose report names a record it does not
/// have (a processor bug must not lose a record, nor name an unknown `itemIdentifier`,
/// which would fail the whole batch).
///
/// Fails, before processing anything, if a record has no `messageId`.
pub async fn for_each_group<'a, F, Fut>(
    records: &'a [SqsMessage],
    deadline: Instant,
    processor: F,
) -> Result<SqsBatchResponse, BatchError>
where
    F: Fn(Group<'a>) -> Fut,
    Fut: Future<Output = GroupReport>,
{
    let planned = plan(records, deadline)?;
    let groups = planned.len();
    let processor = &processor;
    let runs = planned
        .into_iter()
        .map(|Planned { group, positions }| async move {
            let (id, len) = (group.id, group.records.len());
            let report = match timeout_at(deadline, processor(group)).await {
                Ok(report) if report.failed().all(|i| i < len) => report,
                Ok(report) => {
                    tracing::error!(
                        group = id,
                        records = len,
                        reported = ?report.failed().collect::<Vec<_>>(),
                        "the group's report names a record it does not have: all its records fail"
                    );
                    (0..len).collect()
                }
                Err(_) => {
                    tracing::error!(
                        group = id,
                        records = len,
                        "the group was still running at the deadline: all its records fail"
                    );
                    (0..len).collect()
                }
            };
            report.failed().map(|i| positions[i]).collect::<Vec<_>>()
        });
    let mut failed: Vec<usize> = futures::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    failed.sort_unstable();
    tracing::info!(
        records = records.len(),
        groups,
        failed = failed.len(),
        "batch done"
    );
    let mut response = SqsBatchResponse::default();
    for position in failed {
        if let Some(id) = records.get(position).and_then(|r| r.message_id.clone()) {
            response.add_failure(id);
        }
    }
    Ok(response)
}

/// Logs record `i`'s failure (`None`: the deadline came first) and the records it holds back.
fn log_failure(group: &Group<'_>, i: usize, error: Option<&(dyn Error + Send + Sync + 'static)>) {
    let message_id = group.message_id(i);
    match error {
        Some(e) => tracing::error!(
            group = group.id,
            message_id,
            error = %Chain(e),
            "record failed; it and the later records of its group are received again"
        ),
        None => tracing::error!(
            group = group.id,
            message_id,
            "the deadline came before the record was done; it and the later records of its group are received again"
        ),
    }
    for later in i + 1..group.records.len() {
        tracing::warn!(
            group = group.id,
            message_id = group.message_id(later),
            failed = message_id,
            "record not handled: an earlier record of its group failed"
        );
    }
}
