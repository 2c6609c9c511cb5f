//! The ledger-queue handler: for each SQS record, the S3 objects it announces; for each
//! ledger among them, status → stream → send → rejects report → status, within a deadline.
//!
//! The status record and the rejects report are one per key, but a key may be uploaded
//! again while an older version is still processed. Versions are ordered by the S3 event
//! sequencer and the status store refuses a write of an older version
//! ([`PutOutcome::Superseded`]); from then on the older version is still sent in full (it
//! is a ledger too), but writes neither status nor rejects report: they are the newer's.
//!
//! A ledger runs in segments of `checkpoint_every`: each ends where the decoder has
//! settled, with everything before it sent, and stores its rejects part and then a
//! checkpoint in the status record. `deadline_margin` before the invocation's deadline the
//! run hands the ledger on: a continuation message on the ledger queue, whose invocation
//! resumes from the checkpoint (a plain JSON Lines file with a range read, others read
//! again from the start, skipping the settled lines). A run that crashes is resumed from
//! its last checkpoint by its message's redelivery. What is sent twice is absorbed by the
//! deduplication ids and the idempotent consumer.
//!
//! One run owns a version's status record at a time: `owner` is its ledger-queue message
//! id, and every write is conditional on it ([`Guard`]). A run takes the ledger over from
//! the owner it read (a continuation only from the run that sent it, or as its own
//! redelivery); a run whose write finds another owner stops, leaving the ledger to it. The
//! last writes (rejects report, status) are raced against the deadline: one not done in
//! time fails the record (so it is retried), naming what was not written.
//!
//! An announced object that is gone (no such key or version) gets status `failed` with
//! the reason; one replaced by a newer upload (another ETag) is left to that upload, which
//! has its own notification and status. A version with no refused line deletes the rejects
//! report an earlier version of the key left.
//!
//! Generic over the ports, so tests run it with in-memory adapters and a local driver can
//! call it in-process: it takes the event and a deadline, not a Lambda `Context`.

use crate::notification::{Continuation, Notification, NotificationError, ObjectRef};
use crate::pipeline::{Pipeline, PipelineError, PipelineOptions, Progress};
use crate::ports::{
    Continuations, ContinueError, ObjectSource, RejectsSink, SinkError, SourceError, StatusStore,
    TransactionPublisher,
};
use crate::status::{LedgerStatus, State};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use convoy_core::chain;
use ledger_format::{kind_of_key, Decoder};
use status_writer::{Claim, StatusWriter};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

mod parts;
mod run;
use run::Run;
mod status_writer;
#[cfg(test)]
mod tests;

/// Tuning of the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandlerOptions {
    /// Stop reading this long before the deadline: the first half is for sending what was
    /// read, the second for the last writes (rejects, status, continuation).
    pub deadline_margin: Duration,
    /// How often a checkpoint is stored (and the status record shows the progress).
    pub checkpoint_every: Duration,
    pub pipeline: PipelineOptions,
}

impl Default for HandlerOptions {
    fn default() -> Self {
        Self {
            deadline_margin: Duration::from_secs(20),
            checkpoint_every: Duration::from_secs(30),
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
        "no checkpoint within one invocation: {lines_read} of the file's lines read, {sent} sent, nothing settled before the deadline"
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
    #[error(transparent)]
    Continue(#[from] ContinueError),
    #[error("the rejects parts in s3://{bucket}/{prefix} do not cover lines 1 to {last}")]
    Parts {
        bucket: String,
        prefix: String,
        last: u64,
    },
    #[error("could not join the rejects parts on local disk")]
    Join(#[source] std::io::Error),
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

/// The ledger function, over its five ports.
pub struct Handler<S, P, R, T, C> {
    source: S,
    publisher: P,
    rejects: R,
    status: T,
    continuations: C,
    options: HandlerOptions,
}

/// How a run of a ledger began.
#[derive(Debug, Clone, Copy)]
enum Start<'a> {
    /// Its S3 notification.
    Notified,
    /// A continuation from the run `from`.
    Continued { from: &'a str, number: u64 },
}

impl<S, P, R, T, C> Handler<S, P, R, T, C>
where
    S: ObjectSource,
    P: TransactionPublisher,
    R: RejectsSink,
    T: StatusStore,
    C: Continuations,
{
    pub fn new(
        source: S,
        publisher: P,
        rejects: R,
        status: T,
        continuations: C,
        options: HandlerOptions,
    ) -> Self {
        Self {
            source,
            publisher,
            rejects,
            status,
            continuations,
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
        let me = record.message_id.as_deref().unwrap_or_default();
        match Notification::parse(record.body.as_deref())? {
            Notification::TestEvent => {
                tracing::info!("s3:TestEvent ignored");
                Ok(())
            }
            Notification::Created(objects) => {
                for object in &objects {
                    let span = tracing::info_span!("ledger", bucket = %object.bucket, key = %object.key,
                        version_id = object.version_id.as_deref(), etag = object.etag.as_deref());
                    self.handle_object(object, Start::Notified, me, deadline)
                        .instrument(span)
                        .await?;
                }
                Ok(())
            }
            Notification::Continuation(Continuation {
                object,
                from,
                continuation,
            }) => {
                let span = tracing::info_span!("ledger", bucket = %object.bucket, key = %object.key,
                    version_id = object.version_id.as_deref(), etag = object.etag.as_deref(), continuation);
                let start = Start::Continued {
                    from: &from,
                    number: continuation,
                };
                self.handle_object(&object, start, me, deadline)
                    .instrument(span)
                    .await
            }
        }
    }

    async fn handle_object(
        &self,
        object: &ObjectRef,
        start: Start<'_>,
        me: &str,
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
        if let Some(previous) = &previous {
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
        // This version's progress so far, if an earlier run left some.
        let same_version = previous
            .as_ref()
            .filter(|p| p.is_about(object) == Some(true));
        let owner = previous.as_ref().and_then(|p| p.owner.clone());
        if let Start::Continued { from, number } = start {
            // Processing, or failed (transiently: this is its message's redelivery).
            let ours = same_version.is_some_and(|p| {
                matches!(p.state, State::Processing | State::Failed)
                    && [Some(from), Some(me)].contains(&p.owner.as_deref())
            });
            if !ours {
                tracing::info!(
                    continuation = number,
                    owner = owner.as_deref(),
                    "stale continuation: the ledger is another run's, or finished; nothing to do"
                );
                return Ok(());
            }
        }
        let mut status = match same_version.filter(|p| p.checkpoint.is_some()) {
            Some(p) => {
                let mut resumed = p.clone();
                resumed.state = State::Processing;
                resumed.error = None;
                resumed
            }
            None => LedgerStatus::start(object, State::Processing),
        };
        status.owner = Some(me.to_owned());
        if let Start::Continued { number, .. } = start {
            status.continuations = status.continuations.max(number);
        }
        status.touch();
        let checkpoint = status.checkpoint.unwrap_or_default();
        let decoder = match status.checkpoint {
            Some(c) => Decoder::resume(kind, c.settled),
            None => Decoder::new(kind),
        };
        let opening = || format!("opening s3://{}/{}", object.bucket, object.key);
        let opened = before(finish_by, opening, async {
            Ok::<_, LedgerError>(self.source.open(object, decoder.input_offset()).await)
        })
        .await?;
        let chunks = match opened {
            Ok(chunks) => chunks,
            Err(e @ SourceError::Superseded { .. }) => {
                tracing::warn!(reason = %chain(&e), "ledger superseded; its replacement has its own notification");
                return Ok(());
            }
            Err(e @ SourceError::Missing { .. }) => {
                // Nothing replaces it and no retry brings it back: the status says so.
                status.state = State::Failed;
                status.error = Some(chain(&e));
                writer.write(&status).await?;
                tracing::error!(state = "failed", error = %chain(&e), "ledger object missing; nothing more was sent");
                return Ok(());
            }
            Err(e) => {
                return writer.fail(status, LedgerError::Open(e)).await;
            }
        };
        match writer.claim(&status, owner.as_deref()).await? {
            Claim::Owned | Claim::Superseded => {}
            Claim::Taken { by } => {
                tracing::info!(
                    owner = by.as_deref(),
                    "another run took the ledger over meanwhile; it is theirs"
                );
                return Ok(());
            }
        }
        tracing::info!(
            state = "processing",
            resumed_at_line = checkpoint.settled.line,
            continuations = status.continuations,
            superseded = writer.superseded(),
            "ledger started"
        );
        let run = Run {
            object,
            me,
            start: checkpoint,
            checkpoint,
            moved: false,
            parts: status.checkpoint.is_some(),
            status,
            progress: Progress::default(),
            started: Instant::now(),
        };
        let pipeline = Pipeline::new(chunks, decoder, Arc::from(object.key.as_str()));
        self.process(run, pipeline, deadline, &mut writer).await
    }
}
