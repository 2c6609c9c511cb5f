//! One run of a ledger version in an invocation: segments, each followed by its rejects
//! part and a checkpoint, until the ledger ends (report, status `done`), the deadline
//! nears (a continuation), or it fails (status `failed`).

use super::status_writer::StatusWriter;
use super::{before, parts, Handler, LedgerError, SlowedBy};
use crate::emf::Invocation;
use crate::notification::{Continuation, ObjectRef};
use crate::pipeline::{Pipeline, Progress};
use crate::ports::{Continuations, ObjectSource, RejectsSink, StatusStore, TransactionPublisher};
use crate::rejects::MAX_REPORTED_REJECTS;
use crate::sender::LastRetried;
use crate::status::{Checkpoint, LedgerStatus, State};
use tempfile::TempPath;
use tokio::time::Instant;

/// One run of a ledger version: the invocation's part of it.
pub(super) struct Run<'a> {
    pub(super) object: &'a ObjectRef,
    /// The ledger-queue message id: the run's owner id.
    pub(super) me: &'a str,
    /// The checkpoint it started from.
    pub(super) start: Checkpoint,
    /// The last durable checkpoint (`start`, at first).
    pub(super) checkpoint: Checkpoint,
    /// Whether this invocation stored a checkpoint.
    pub(super) moved: bool,
    /// Whether parts of the rejects report are stored (from earlier segments or runs).
    pub(super) parts: bool,
    pub(super) status: LedgerStatus,
    pub(super) progress: Progress,
    pub(super) started: Instant,
}

impl Run<'_> {
    /// What this invocation did, for the metrics.
    fn invocation(&self) -> Invocation {
        let (lines_read, sent, refused) = self.progress.snapshot();
        Invocation {
            lines_read: lines_read.saturating_sub(self.start.settled.line),
            sent,
            refused,
            took: self.started.elapsed(),
        }
    }
}

impl<S, P, R, T, C> Handler<S, P, R, T, C>
where
    S: ObjectSource,
    P: TransactionPublisher,
    R: RejectsSink,
    T: StatusStore,
    C: Continuations,
{
    /// Runs the ledger segment after segment, each followed by its rejects part and a
    /// checkpoint, until it ends (the report, status `done`) or the deadline nears (a
    /// continuation); a failure is recorded in the status (`failed` and the error).
    pub(super) async fn process(
        &self,
        mut run: Run<'_>,
        mut pipeline: Pipeline<S::Chunks>,
        deadline: Instant,
        writer: &mut StatusWriter<'_, T>,
    ) -> Result<(), LedgerError> {
        let margin = self.options.deadline_margin;
        let hand_off_at = deadline.checked_sub(margin).unwrap_or(deadline);
        let settle_by = deadline.checked_sub(margin / 2).unwrap_or(deadline);
        let last_retried = LastRetried::default();
        let publisher = last_retried.watch(&self.publisher);
        let mut first_segment = true;
        loop {
            let until = hand_off_at.min(Instant::now() + self.options.checkpoint_every);
            let cap = MAX_REPORTED_REJECTS.saturating_sub(run.checkpoint.listed);
            let work =
                pipeline.segment(&publisher, self.options.pipeline, &run.progress, until, cap);
            let segment = match tokio::time::timeout_at(settle_by, work).await {
                Ok(Ok(segment)) => segment,
                Ok(Err(e)) => return self.failed(run, writer, LedgerError::Pipeline(e)).await,
                Err(_elapsed) if run.moved => {
                    tracing::warn!(line = run.checkpoint.settled.line, "the last segment did not settle before the deadline; handed on from the checkpoint before it");
                    return self.hand_off(run, writer).await;
                }
                Err(_elapsed) => {
                    let e = no_checkpoint(&run.progress, &last_retried);
                    return self.failed(run, writer, e).await;
                }
            };
            let (lines_read, sent, _) = run.progress.snapshot();
            let next = Checkpoint {
                settled: segment.settled,
                sent: run.start.sent + sent,
                refused: run.checkpoint.refused + segment.refused,
                listed: run.checkpoint.listed + segment.listed,
            };
            run.status.lines_read = lines_read.max(next.settled.line);
            (run.status.sent, run.status.refused) = (next.sent, next.refused);
            run.status.rejects_truncated = next.refused > next.listed;
            if segment.finished && ((first_segment && !run.parts) || writer.superseded()) {
                // The whole ledger in one segment: its part is the report. (A superseded
                // version writes none.)
                run.checkpoint = next;
                return self.finish(run, segment.rejects, writer).await;
            }
            first_segment = false;
            let moved = next.settled.line > run.checkpoint.settled.line || segment.finished;
            if moved && !writer.superseded() {
                if let Err(e) = parts::store(
                    &self.rejects,
                    run.object,
                    run.checkpoint.settled.line,
                    &segment,
                    writer.finish_by(),
                )
                .await
                {
                    return self.failed(run, writer, e).await;
                }
                run.parts = true;
                run.checkpoint = next;
                run.status.checkpoint = Some(next);
                run.status.touch();
                writer.write(&run.status).await?;
                if writer.taken() {
                    return Ok(());
                }
                run.moved = true;
                tracing::info!(
                    line = next.settled.line,
                    sent = next.sent,
                    refused = next.refused,
                    "checkpoint"
                );
            }
            if segment.finished {
                let report = match parts::join(
                    &self.rejects,
                    run.object,
                    run.checkpoint.settled.line,
                    writer.finish_by(),
                )
                .await
                {
                    Ok(report) => report,
                    Err(e) => return self.failed(run, writer, e).await,
                };
                return self.finish(run, report, writer).await;
            }
            if Instant::now() >= hand_off_at {
                if run.moved && !writer.superseded() {
                    return self.hand_off(run, writer).await;
                }
                let e = no_checkpoint(&run.progress, &last_retried);
                return self.failed(run, writer, e).await;
            }
        }
    }

    /// Records `error` as the ledger's failure, with how far it got, and counts it.
    async fn failed(
        &self,
        mut run: Run<'_>,
        writer: &mut StatusWriter<'_, T>,
        error: LedgerError,
    ) -> Result<(), LedgerError> {
        let (lines_read, sent, refused) = run.progress.snapshot();
        run.status.lines_read = run.status.lines_read.max(lines_read);
        run.status.sent = run.start.sent + sent;
        run.status.refused = run.start.refused + refused;
        crate::emf::record_ledger(State::Failed, run.invocation());
        writer.fail(run.status, error).await
    }

    /// Hands the ledger on from the run's checkpoint: the status counts the continuation,
    /// then a continuation message goes to the ledger queue. A message not sent fails the
    /// record: its redelivery, still the owner, resumes from the checkpoint.
    async fn hand_off(
        &self,
        mut run: Run<'_>,
        writer: &mut StatusWriter<'_, T>,
    ) -> Result<(), LedgerError> {
        run.status.continuations += 1;
        run.status.touch();
        writer.write(&run.status).await?;
        if writer.taken() {
            return Ok(());
        }
        let continuation = Continuation {
            object: run.object.clone(),
            from: run.me.to_owned(),
            continuation: run.status.continuations,
        };
        let what = || "sending the continuation message".to_owned();
        before(
            writer.finish_by(),
            what,
            self.continuations.send(&continuation),
        )
        .await?;
        crate::emf::record_ledger(State::Processing, run.invocation());
        tracing::info!(
            continuation = continuation.continuation,
            line = run.checkpoint.settled.line,
            sent = run.checkpoint.sent,
            "ledger handed on to a new invocation"
        );
        Ok(())
    }

    /// The ledger's end: the rejects report (or the deletion of an older one), status
    /// `done`, then the parts deleted.
    async fn finish(
        &self,
        mut run: Run<'_>,
        report: Option<TempPath>,
        writer: &mut StatusWriter<'_, T>,
    ) -> Result<(), LedgerError> {
        run.status.checkpoint = Some(run.checkpoint);
        if let Err(e) = self
            .finish_report(run.object, report, &mut run.status, writer)
            .await
        {
            return self.failed(run, writer, e).await;
        }
        if writer.taken() {
            return Ok(());
        }
        run.status.state = State::Done;
        run.status.touch();
        writer.write(&run.status).await?;
        if writer.taken() {
            return Ok(());
        }
        if run.parts {
            parts::delete(&self.rejects, run.object, writer.finish_by()).await;
        }
        crate::emf::record_ledger(State::Done, run.invocation());
        let status = &run.status;
        tracing::info!(
            state = "done",
            lines_read = status.lines_read,
            sent = status.sent,
            refused = status.refused,
            continuations = status.continuations,
            superseded = writer.superseded(),
            "ledger done"
        );
        Ok(())
    }

    /// Stores the rejects report, if any line was refused, and names it in `status`; if
    /// none was, deletes the report an earlier version of the key may have left — unless a
    /// newer version of the key owns the report (as it owns the status record).
    async fn finish_report(
        &self,
        object: &ObjectRef,
        report: Option<TempPath>,
        status: &mut LedgerStatus,
        writer: &mut StatusWriter<'_, T>,
    ) -> Result<(), LedgerError> {
        let Some(key) = object.rejects_key() else {
            return Ok(());
        };
        if !writer.owns_report(status).await? {
            if report.is_some() {
                tracing::warn!(rejects_key = %key, refused = status.refused, "rejects report not written: a newer version of the key owns it");
            }
            return Ok(());
        }
        let bucket = &object.bucket;
        match report {
            Some(report) => {
                let what = || format!("writing the rejects report s3://{bucket}/{key}");
                before(
                    writer.finish_by(),
                    what,
                    self.rejects.put_report(bucket, &key, &report),
                )
                .await?;
                tracing::info!(rejects_key = %key, refused = status.refused, "rejects report written");
                status.rejects_key = Some(key);
            }
            None => {
                let what = || format!("deleting the rejects report s3://{bucket}/{key}");
                before(
                    writer.finish_by(),
                    what,
                    self.rejects.delete_report(bucket, &key),
                )
                .await?;
                tracing::info!(rejects_key = %key, "no line refused: an earlier version's rejects report, if any, deleted");
            }
        }
        Ok(())
    }
}

/// The failure of an invocation that stored no checkpoint before its deadline: how far it
/// got, and the last transient send failure, if any (why it was slow).
fn no_checkpoint(progress: &Progress, last_retried: &LastRetried) -> LedgerError {
    let (lines_read, sent, _) = progress.snapshot();
    LedgerError::Deadline {
        lines_read,
        sent,
        slowed_by: last_retried.get().map(SlowedBy),
    }
}
