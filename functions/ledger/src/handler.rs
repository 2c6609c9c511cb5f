//! The ledger-queue handler: for each SQS record, the S3 objects it announces; for each
//! ledger among them, status → stream → send → rejects report → status, within a deadline.
//!
//! The status record and the rejects report are one per key, but a key may be uploaded
//! again while an older version is still processed. Versions are ordered by the S3 event
//! sequencer and the status store refuses a write of an older version
//! ([`PutOutcome::Superseded`]); from then on the older version is still sent in full (it
//! is a ledger too), but writes neither status nor rejects report: they are the newer's.
//!
//! The pipeline stops `deadline_margin` before the invocation's deadline; the margin is
//! for the last writes (rejects report, status), which are raced against the deadline in
//! turn: one not done in time fails the record (so it is retried), naming what was not
//! written.
//!
//! An announced object that is gone (no such key or version) gets status `failed` with
//! the reason; one replaced by a newer upload (another ETag) is left to that upload, which
//! has its own notification and status. A version with no refused line deletes the rejects
//! report an earlier version of the key left.
//!
//! Generic over the ports, so tests run it with in-memory adapters and a local driver can
//! call it in-process: it takes the event and a deadline, not a Lambda `Context`.

use crate::notification::{Notification, NotificationError, ObjectRef};
use crate::pipeline::{self, PipelineError, PipelineOptions, Progress};
use crate::ports::{
    ObjectSource, RejectsSink, SinkError, SourceError, StatusStore, TransactionPublisher,
};
use crate::sender::LastRetried;
use crate::status::{LedgerStatus, State};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use convoy_core::chain;
use ledger_format::{kind_of_key, LedgerKind};
use status_writer::StatusWriter;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempPath;
use tokio::time::Instant;
use tracing::Instrument;

mod status_writer;
#[cfg(test)]
mod tests;

/// Tuning of the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandlerOptions {
    /// Stop this long before the deadline, to leave time for the status and the report.
    pub deadline_margin: Duration,
    /// How often the status record is updated while a ledger is processed.
    pub progress_every: Duration,
    pub pipeline: PipelineOptions,
}

impl Default for HandlerOptions {
    fn default() -> Self {
        Self {
            deadline_margin: Duration::from_secs(10),
            progress_every: Duration::from_secs(30),
            pipeline: PipelineOptions::default(),
        }
    }
}

/// Left after a ledger's last write for the handler to answer the Lambda runtime.
const ANSWER_MARGIN: Duration = Duration::from_millis(500);

/// Why one ledger-queue record failed (it will be retried, then go to the ledger DLQ).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Notification(#[from] NotificationError),
    #[error(
        "not finished within one invocation: {lines_read} of the file's lines read, {sent} sent; continuation across invocations is not implemented yet"
    )]
    Deadline {
        lines_read: u64,
        sent: u64,
        /// The last transient send failure retried before the deadline, if any: why it
        /// was slow.
        #[source]
        slowed_by: Option<SlowedBy>,
    },
    /// A write (or read) at the end of a ledger did not finish before the invocation's
    /// deadline; `what` names it.
    #[error("{what}: not done before the invocation's deadline")]
    OutOfTime { what: String },
    #[error("could not open the ledger")]
    Open(#[source] SourceError),
    #[error("processing the ledger failed")]
    Pipeline(#[source] PipelineError),
    #[error(transparent)]
    Rejects(#[from] SinkError),
    #[error(transparent)]
    Status(#[from] crate::ports::StatusError),
}

/// The last transient failure sending to the transactions queue, retried until the
/// deadline (throttling, a server error, a timeout, an entry failed not at its own fault).
#[derive(Debug, thiserror::Error)]
#[error("sending was slowed by transient failures, the last: {0}")]
pub struct SlowedBy(pub String);

/// `work`, unless `by` comes first: then [`LedgerError::OutOfTime`] naming `what`,
/// logged at error level (the record fails, so it is retried).
async fn before<T, E>(
    by: Instant,
    what: impl FnOnce() -> String,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, LedgerError>
where
    LedgerError: From<E>,
{
    match tokio::time::timeout_at(by, work).await {
        Ok(done) => Ok(done?),
        Err(_elapsed) => {
            let what = what();
            tracing::error!(what = %what, "not done before the invocation's deadline; the ledger-queue message fails and is retried");
            Err(LedgerError::OutOfTime { what })
        }
    }
}

impl LedgerError {
    /// Whether retrying cannot help: the object's bytes cannot be decoded (corrupt gzip, a
    /// CSV header without a required column). Its status says `failed` and why, and the
    /// record is not retried.
    pub fn is_permanent(&self) -> bool {
        matches!(self, LedgerError::Pipeline(PipelineError::Decode { .. }))
    }
}

/// Every record of the invocation failed. Returned as an error (rather than a batch
/// response listing them all) so that the records are retried even where the event source
/// mapping does not report batch item failures.
#[derive(Debug, thiserror::Error)]
#[error("all {failed} ledger-queue message(s) failed; the first, {message_id}: {}", chain(.source))]
pub struct HandlerError {
    pub failed: usize,
    pub message_id: String,
    #[source]
    pub source: LedgerError,
}

/// The ledger function, over its four ports.
pub struct Handler<S, P, R, T> {
    source: S,
    publisher: P,
    rejects: R,
    status: T,
    options: HandlerOptions,
}

impl<S, P, R, T> Handler<S, P, R, T>
where
    S: ObjectSource,
    P: TransactionPublisher,
    R: RejectsSink,
    T: StatusStore,
{
    pub fn new(source: S, publisher: P, rejects: R, status: T, options: HandlerOptions) -> Self {
        Self {
            source,
            publisher,
            rejects,
            status,
            options,
        }
    }

    /// Handles one ledger-queue event; must be done by `deadline`. Failed records are listed
    /// in the batch response; if every record failed, the result is an error instead.
    pub async fn handle(
        &self,
        event: SqsEvent,
        deadline: Instant,
    ) -> Result<SqsBatchResponse, HandlerError> {
        let total = event.records.len();
        let mut response = SqsBatchResponse::default();
        let mut first = None;
        for record in &event.records {
            let message_id = record.message_id.clone().unwrap_or_default();
            let span = tracing::info_span!("ledger_message", message_id = %message_id);
            if let Err(e) = self.handle_record(record, deadline).instrument(span).await {
                tracing::error!(message_id = %message_id, error = %chain(&e), "ledger-queue message failed");
                response.add_failure(message_id.clone());
                first.get_or_insert((message_id, e));
            }
        }
        let failed = response.batch_item_failures.len();
        match first {
            Some((message_id, source)) if failed == total => Err(HandlerError {
                failed,
                message_id,
                source,
            }),
            _ => Ok(response),
        }
    }

    async fn handle_record(
        &self,
        record: &SqsMessage,
        deadline: Instant,
    ) -> Result<(), LedgerError> {
        match Notification::parse(record.body.as_deref())? {
            Notification::TestEvent => {
                tracing::info!("s3:TestEvent ignored");
                Ok(())
            }
            Notification::Created(objects) => {
                for object in &objects {
                    let span = tracing::info_span!("ledger", bucket = %object.bucket, key = %object.key,
                        version_id = object.version_id.as_deref(), etag = object.etag.as_deref());
                    self.handle_object(object, deadline)
                        .instrument(span)
                        .await?;
                }
                Ok(())
            }
        }
    }

    async fn handle_object(
        &self,
        object: &ObjectRef,
        deadline: Instant,
    ) -> Result<(), LedgerError> {
        if !object.is_ledger() {
            tracing::info!("object outside ledgers/ ignored");
            return Ok(());
        }
        let finish_by = deadline.checked_sub(ANSWER_MARGIN).unwrap_or(deadline);
        let mut writer = StatusWriter::new(&self.status, finish_by);
        let kind = match kind_of_key(&object.key) {
            Ok(kind) => kind,
            Err(unsupported) => {
                let mut status = LedgerStatus::start(object, State::Unsupported);
                status.error = Some(unsupported.to_string());
                writer.write(&status).await?;
                tracing::info!(state = "unsupported", "ledger refused as a whole");
                return Ok(());
            }
        };
        let reading = || "reading the status record".to_owned();
        let previous = before(
            finish_by,
            reading,
            self.status.get(&object.bucket, &object.key),
        )
        .await?;
        if let Some(previous) = previous {
            if previous.is_done_for(object) {
                tracing::info!("ledger already done for this version; skipped");
                return Ok(());
            }
            if object.sequencer.is_some()
                && previous.sequencer == object.sequencer
                && previous.is_about(object) == Some(false)
            {
                // S3 never gives two versions of a key one sequencer; some emulators send
                // a constant one. Equal sequencers count as the same version, so the
                // versions of this key are not ordered.
                tracing::warn!(
                    sequencer = object.sequencer.as_deref(),
                    previous_version_id = previous.version_id.as_deref(),
                    previous_etag = previous.etag.as_deref(),
                    "another version of the key has the same S3 event sequencer (an emulator?): its status writes are not ordered"
                );
            }
        }
        let chunks = match self.source.open(object).await {
            Ok(chunks) => chunks,
            Err(e @ SourceError::Superseded { .. }) => {
                tracing::warn!(reason = %chain(&e), "ledger superseded; its replacement has its own notification");
                return Ok(());
            }
            Err(e @ SourceError::Missing { .. }) => {
                // Nothing replaces it and no retry brings it back: the status says so.
                let mut status = LedgerStatus::start(object, State::Failed);
                status.error = Some(chain(&e));
                writer.write(&status).await?;
                tracing::error!(state = "failed", error = %chain(&e), "ledger object missing; nothing was sent");
                return Ok(());
            }
            Err(e) => {
                let status = LedgerStatus::start(object, State::Failed);
                return writer.fail(status, LedgerError::Open(e)).await;
            }
        };
        self.process(object, kind, chunks, deadline, &mut writer)
            .await
    }

    /// Processes an opened ledger: status `processing`, the pipeline until `deadline` less
    /// the margin, the rejects report, then status `done` (or `failed` and the error).
    /// Once a newer version of the key owns the status record, this one is still sent but
    /// leaves the record and the rejects report to it.
    async fn process(
        &self,
        object: &ObjectRef,
        kind: LedgerKind,
        chunks: S::Chunks,
        deadline: Instant,
        writer: &mut StatusWriter<'_, T>,
    ) -> Result<(), LedgerError> {
        let started = Instant::now();
        // Counted in the metrics as it ends: failed (the writer records why) or done.
        let failed = |mut status: LedgerStatus| {
            status.state = State::Failed;
            crate::emf::record_ledger(&status, started.elapsed());
            status
        };
        let mut status = LedgerStatus::start(object, State::Processing);
        writer.write(&status).await?;
        tracing::info!(
            state = "processing",
            superseded = writer.superseded(),
            "ledger started"
        );

        let progress = Progress::default();
        let stop_at = deadline
            .checked_sub(self.options.deadline_margin)
            .unwrap_or(deadline);
        let ledger: Arc<str> = Arc::from(object.key.as_str());
        let last_retried = LastRetried::default();
        let publisher = last_retried.watch(&self.publisher);
        let work = pipeline::run(
            chunks,
            kind,
            ledger,
            &publisher,
            self.options.pipeline,
            &progress,
        );
        let outcome = tokio::time::timeout_at(
            stop_at,
            writer.with_progress(work, &status, &progress, self.options.progress_every),
        )
        .await;
        let (lines_read, sent, refused) = progress.snapshot();
        (status.lines_read, status.sent, status.refused) = (lines_read, sent, refused);
        status.rejects_truncated = progress.rejects_truncated();
        let report = match outcome {
            Err(_elapsed) => {
                let slowed_by = last_retried.get().map(SlowedBy);
                let e = LedgerError::Deadline {
                    lines_read,
                    sent,
                    slowed_by,
                };
                return writer.fail(failed(status), e).await;
            }
            Ok(Err(e)) => return writer.fail(failed(status), LedgerError::Pipeline(e)).await,
            Ok(Ok(report)) => report,
        };
        if let Err(e) = self
            .finish_report(object, report, &mut status, writer)
            .await
        {
            return writer.fail(failed(status), e).await;
        }
        status.state = State::Done;
        status.touch();
        writer.write(&status).await?;
        crate::emf::record_ledger(&status, started.elapsed());
        tracing::info!(
            state = "done",
            lines_read,
            sent,
            refused,
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
