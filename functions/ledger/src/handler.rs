//! The ledger-queue handler: for each SQS record, the S3 objects it announces; for each
//! ledger among them, status → stream → send → rejects report → status, within a deadline.
//!
//! The status record and the rejects report are one per key, but a key may be uploaded
//! again while an older version is still processed. Versions are ordered by the S3 event
//! sequencer and the status store refuses a write of an older version
//! ([`PutOutcome::Superseded`]); from then on the older version is still sent in full (it
//! is a ledger too), but writes neither status nor rejects report: they are the newer's.
//!
//! Generic over the ports, so tests run it with in-memory adapters and a local driver can
//! call it in-process: it takes the event and a deadline, not a Lambda `Context`.

use crate::notification::{Notification, NotificationError, ObjectRef};
use crate::pipeline::{self, PipelineError, PipelineOptions, Progress};
use crate::ports::{
    ObjectSource, PutOutcome, RejectsSink, SinkError, SourceError, StatusError, StatusStore,
    TransactionPublisher,
};
use crate::status::{LedgerStatus, State};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use convoy_core::ledger::{kind_of_key, LedgerKind};
use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tempfile::TempPath;
use tokio::time::Instant;
use tracing::Instrument;

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

/// Why one ledger-queue record failed (it will be retried, then go to the ledger DLQ).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Notification(#[from] NotificationError),
    #[error(
        "not finished within one invocation: {lines_read} of the file's lines read, {sent} sent; continuation across invocations is not implemented yet"
    )]
    Deadline { lines_read: u64, sent: u64 },
    #[error("could not open the ledger")]
    Open(#[source] SourceError),
    #[error("processing the ledger failed")]
    Pipeline(#[source] PipelineError),
    #[error(transparent)]
    Rejects(#[from] SinkError),
    #[error(transparent)]
    Status(#[from] crate::ports::StatusError),
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

    /// The adapters, for tests to inspect.
    #[cfg(test)]
    pub(crate) fn ports(&self) -> (&S, &P, &R, &T) {
        (&self.source, &self.publisher, &self.rejects, &self.status)
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
        let kind = match kind_of_key(&object.key) {
            Ok(kind) => kind,
            Err(unsupported) => {
                let mut status = LedgerStatus::start(object, State::Unsupported);
                status.error = Some(unsupported.to_string());
                self.write_status(&status, &mut false).await?;
                tracing::info!(state = "unsupported", "ledger refused as a whole");
                return Ok(());
            }
        };
        if let Some(previous) = self.status.get(&object.bucket, &object.key).await? {
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
            Err(e) => {
                return self
                    .fail(
                        LedgerStatus::start(object, State::Failed),
                        LedgerError::Open(e),
                        &mut false,
                    )
                    .await
            }
        };
        self.process(object, kind, chunks, deadline).await
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
    ) -> Result<(), LedgerError> {
        let mut superseded = false;
        let mut status = LedgerStatus::start(object, State::Processing);
        self.write_status(&status, &mut superseded).await?;
        tracing::info!(state = "processing", superseded, "ledger started");

        let progress = Progress::default();
        let stop_at = deadline
            .checked_sub(self.options.deadline_margin)
            .unwrap_or(deadline);
        let ledger: Arc<str> = Arc::from(object.key.as_str());
        let work = pipeline::run(
            chunks,
            kind,
            ledger,
            &self.publisher,
            self.options.pipeline,
            &progress,
        );
        let outcome = tokio::time::timeout_at(
            stop_at,
            self.with_progress(work, &status, &progress, &mut superseded),
        )
        .await;
        let (lines_read, sent, refused) = progress.snapshot();
        (status.lines_read, status.sent, status.refused) = (lines_read, sent, refused);
        let report = match outcome {
            Err(_elapsed) => {
                return self
                    .fail(
                        status,
                        LedgerError::Deadline { lines_read, sent },
                        &mut superseded,
                    )
                    .await
            }
            Ok(Err(e)) => {
                return self
                    .fail(status, LedgerError::Pipeline(e), &mut superseded)
                    .await
            }
            Ok(Ok(report)) => report,
        };
        if let Err(e) = self
            .put_report(object, report, &mut status, &mut superseded)
            .await
        {
            return self.fail(status, e, &mut superseded).await;
        }
        status.state = State::Done;
        status.touch();
        self.write_status(&status, &mut superseded).await?;
        tracing::info!(
            state = "done",
            lines_read,
            sent,
            refused,
            superseded,
            "ledger done"
        );
        Ok(())
    }

    /// Writes `status`, unless a newer version of the key owns the record: then nothing is
    /// written, now or later (`superseded` is set, and logged the first time).
    async fn write_status(
        &self,
        status: &LedgerStatus,
        superseded: &mut bool,
    ) -> Result<(), StatusError> {
        if *superseded {
            return Ok(());
        }
        match self.status.put(status).await? {
            PutOutcome::Written => {}
            PutOutcome::Superseded { current } => {
                *superseded = true;
                tracing::warn!(
                    sequencer = status.sequencer.as_deref(),
                    newer_sequencer = current.as_deref(),
                    state = %status.state,
                    "a newer version of the key owns its status record; this version is still sent, but writes neither status nor rejects report"
                );
            }
        }
        Ok(())
    }

    /// Runs `work`, writing the progress to the status record every `progress_every`.
    async fn with_progress<F: std::future::Future>(
        &self,
        work: F,
        status: &LedgerStatus,
        progress: &Progress,
        superseded: &mut bool,
    ) -> F::Output {
        let every = self.options.progress_every.max(Duration::from_millis(1));
        let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
        let mut current = status.clone();
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                _ = ticks.tick(), if !*superseded => {
                    (current.lines_read, current.sent, current.refused) = progress.snapshot();
                    current.touch();
                    if let Err(e) = self.write_status(&current, superseded).await {
                        tracing::warn!(error = %chain(&e), "progress update failed");
                    }
                }
            }
        }
    }

    /// Stores the rejects report, if any line was refused, and names it in `status` —
    /// unless a newer version of the key owns the report (as it owns the status record).
    async fn put_report(
        &self,
        object: &ObjectRef,
        report: Option<TempPath>,
        status: &mut LedgerStatus,
        superseded: &mut bool,
    ) -> Result<(), LedgerError> {
        let (Some(report), Some(key)) = (report, object.rejects_key()) else {
            return Ok(());
        };
        // The record may have been taken over since the last write: ask the store (a write
        // of the final counts, still `processing`) right before writing the report.
        // Without a sequencer there is no owner to ask about.
        if !*superseded && status.sequencer.is_some() {
            status.touch();
            self.write_status(status, superseded).await?;
        }
        if *superseded {
            tracing::warn!(rejects_key = %key, refused = status.refused, "rejects report not written: a newer version of the key owns it");
            return Ok(());
        }
        self.rejects
            .put_report(&object.bucket, &key, &report)
            .await?;
        tracing::info!(rejects_key = %key, refused = status.refused, "rejects report written");
        status.rejects_key = Some(key);
        Ok(())
    }

    /// Records `error` as the ledger's failure (unless a newer version of the key owns the
    /// record) and returns it.
    async fn fail(
        &self,
        mut status: LedgerStatus,
        error: LedgerError,
        superseded: &mut bool,
    ) -> Result<(), LedgerError> {
        status.state = State::Failed;
        status.error = Some(chain(&error));
        status.touch();
        if let Err(e) = self.write_status(&status, superseded).await {
            tracing::error!(error = %chain(&e), "could not record the failure in the status record");
        }
        tracing::error!(state = "failed", error = %chain(&error), lines_read = status.lines_read, sent = status.sent, "ledger failed");
        Err(error)
    }
}

/// An error and its causes, `outer: inner: …`.
pub fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let s = e.to_string();
        if !text.ends_with(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = e.source();
    }
    text
}

/// The `Instant` of a wall-clock deadline (such as the Lambda context's).
///
/// A "deadline" before 2001-09-09 (10^12 ms after the epoch) is no wall-clock time: some
/// local Runtime API emulators (`cargo lambda watch` 1.9) send the function's timeout in
/// `Lambda-Runtime-Deadline-Ms` instead of an absolute time. It is taken as that budget.
pub fn deadline_from(deadline: SystemTime) -> Instant {
    const EARLIEST_REAL_DEADLINE_MS: u128 = 1_000_000_000_000;
    let now = Instant::now();
    if let Ok(since_epoch) = deadline.duration_since(SystemTime::UNIX_EPOCH) {
        if since_epoch.as_millis() < EARLIEST_REAL_DEADLINE_MS {
            return now + since_epoch;
        }
    }
    match deadline.duration_since(SystemTime::now()) {
        Ok(left) => now + left,
        Err(_) => now,
    }
}
