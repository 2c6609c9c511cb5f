//! The capabilities the ledger function needs, one narrow trait each: read an object as a
//! stream of chunks, publish a batch of transactions, store a rejects report, store status.
//! AWS adapters live in [`crate::aws`]; in-memory ones for tests in `crate::memory`.

use crate::message::OutgoingMessage;
use crate::notification::{Continuation, ObjectRef};
use crate::status::{Guard, LedgerStatus};
use bytes::Bytes;
use convoy_core::BoxError;
use std::future::Future;
use std::path::Path;

/// Reading a ledger object failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The key holds another version than the announced one (another ETag): that newer
    /// upload has its own notification, and its status record.
    #[error("s3://{bucket}/{key} was replaced since it was announced")]
    Superseded {
        bucket: String,
        key: String,
        #[source]
        source: BoxError,
    },
    /// The announced object is gone (no such key, or no such version): nothing replaces
    /// it, so its status record says so.
    #[error("s3://{bucket}/{key} (version {}) no longer exists", version_id.as_deref().unwrap_or("null"))]
    Missing {
        bucket: String,
        key: String,
        version_id: Option<String>,
        #[source]
        source: BoxError,
    },
    #[error("could not open s3://{bucket}/{key}")]
    Open {
        bucket: String,
        key: String,
        #[source]
        source: BoxError,
    },
    #[error("reading the object failed after {bytes} bytes")]
    Read {
        bytes: u64,
        #[source]
        source: BoxError,
    },
}

/// An open object: its bytes, chunk by chunk.
pub trait ChunkStream: Send {
    /// The next chunk, or `None` at the end.
    fn next_chunk(&mut self) -> impl Future<Output = Result<Option<Bytes>, SourceError>> + Send;
}

/// Opens exactly the announced version of an object (version id, else ETag).
pub trait ObjectSource: Send + Sync {
    type Chunks: ChunkStream;
    /// Its bytes from offset `from` on (a range read when `from > 0`).
    fn open(
        &self,
        object: &ObjectRef,
        from: u64,
    ) -> impl Future<Output = Result<Self::Chunks, SourceError>> + Send;
}

/// The failure of one entry of a batch, by its index in the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFailure {
    pub index: usize,
    /// SQS `SenderFault`: the entry itself is at fault, a retry cannot help.
    pub sender_fault: bool,
    pub code: String,
    pub message: String,
}

/// A whole `SendMessageBatch` call failed (after the SDK's own retries).
#[derive(Debug, thiserror::Error)]
#[error("SendMessageBatch failed")]
pub struct PublishError {
    /// Throttling, a server error, a timeout or a lost connection: the same call may
    /// succeed later. Otherwise (access denied, no such queue, a malformed request) no
    /// retry can help.
    pub retryable: bool,
    #[source]
    pub source: BoxError,
}

impl PublishError {
    /// A failure that a later retry of the same call may not meet.
    pub fn transient(source: impl Into<BoxError>) -> Self {
        Self {
            retryable: true,
            source: source.into(),
        }
    }

    /// A failure that every retry of the same call would meet again.
    pub fn permanent(source: impl Into<BoxError>) -> Self {
        Self {
            retryable: false,
            source: source.into(),
        }
    }
}

/// Sends transactions to the FIFO transactions queue.
pub trait TransactionPublisher: Send + Sync {
    /// Sends one batch (at most 10 entries; a group's entries consecutive, in order);
    /// returns the entries that failed. Entries not listed were accepted.
    fn send_batch(
        &self,
        batch: &[OutgoingMessage],
    ) -> impl Future<Output = Result<Vec<EntryFailure>, PublishError>> + Send;
}

/// Storing (or deleting) a rejects report failed.
#[derive(Debug, thiserror::Error)]
#[error("could not {action} the rejects report s3://{bucket}/{key}")]
pub struct SinkError {
    /// `store` or `delete`.
    pub action: &'static str,
    pub bucket: String,
    pub key: String,
    #[source]
    pub source: BoxError,
}

/// Stores a finished rejects report (a JSON Lines file spooled on local disk), or deletes
/// the report an earlier version of the ledger left. A ledger that takes several segments
/// stores each segment's part first ([`put_report`](RejectsSink::put_report) under a part
/// key), then joins them ([`list`](RejectsSink::list), [`append`](RejectsSink::append)).
pub trait RejectsSink: Send + Sync {
    fn put_report(
        &self,
        bucket: &str,
        key: &str,
        report: &Path,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Deletes the report at `key`; a report that is not there is no error.
    fn delete_report(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// The keys under `prefix`, all of them.
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, SinkError>> + Send;

    /// Appends the object at `key` to the local file `to`.
    fn append(
        &self,
        bucket: &str,
        key: &str,
        to: &Path,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// Handing a ledger on to the next invocation failed.
#[derive(Debug, thiserror::Error)]
#[error("could not send the continuation message to the ledger queue")]
pub struct ContinueError(#[source] pub BoxError);

/// Hands a ledger on to a new invocation: a message on the ledger queue.
pub trait Continuations: Send + Sync {
    fn send(
        &self,
        continuation: &Continuation,
    ) -> impl Future<Output = Result<(), ContinueError>> + Send;
}

/// Reading or writing a ledger's status record failed.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("could not read the status of s3://{bucket}/{key}")]
    Get {
        bucket: String,
        key: String,
        #[source]
        source: BoxError,
    },
    #[error("could not write the status of s3://{bucket}/{key}")]
    Put {
        bucket: String,
        key: String,
        #[source]
        source: BoxError,
    },
    #[error("the stored status of s3://{bucket}/{key} is malformed: {what}")]
    Malformed {
        bucket: String,
        key: String,
        what: String,
    },
}

/// What a status write did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum PutOutcome {
    Written,
    /// Not written, and no failure: the record belongs to a newer version of the key (a
    /// greater sequencer, see [`LedgerStatus::may_replace`]). `current` is that version's
    /// sequencer, when the store reports it.
    Superseded {
        current: Option<String>,
    },
    /// Not written, and no failure: another run owns the record (see [`Guard`]); `current`
    /// is the record as stored.
    Taken {
        current: Box<LedgerStatus>,
    },
}

/// Keeps one status record per ledger (bucket and key).
pub trait StatusStore: Send + Sync {
    fn get(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<LedgerStatus>, StatusError>> + Send;
    /// Writes `status` unless the key's record belongs to a newer version
    /// ([`LedgerStatus::may_replace`]; [`PutOutcome::Superseded`]) or, under `guard`, to
    /// another run ([`LedgerStatus::may_replace_under`]; [`PutOutcome::Taken`]).
    fn put(
        &self,
        status: &LedgerStatus,
        guard: Guard<'_>,
    ) -> impl Future<Output = Result<PutOutcome, StatusError>> + Send;
}
