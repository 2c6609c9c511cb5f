//! In-memory adapters of the ports, for handler tests: objects served in small chunks,
//! a publisher that checks the one-batch-in-flight-per-group rule and can fail entries or
//! whole calls, and maps for rejects reports and status records.

use crate::message::OutgoingMessage;
use crate::notification::{Continuation, ObjectRef};
use crate::ports::{
    ChunkStream, Continuations, ContinueError, EntryFailure, ObjectSource, PublishError,
    PutOutcome, RejectsSink, SinkError, SourceError, StatusError, StatusStore,
    TransactionPublisher,
};
use crate::status::{Guard, LedgerStatus};
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One stored object version.
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub bytes: Bytes,
    pub version_id: Option<String>,
    pub etag: String,
}

/// Objects by (bucket, key), served `chunk` bytes at a time, waiting `delay` per chunk.
/// Every version inserted is kept, the last one current: as in a versioned bucket, a
/// version id opens its version; otherwise the current one is opened.
#[derive(Debug)]
pub struct MemorySource {
    objects: Mutex<HashMap<(String, String), Vec<StoredObject>>>,
    pub chunk: usize,
    pub delay: Duration,
    /// Fail reading after this many bytes.
    pub fail_after: Option<usize>,
    /// The offset of every open, in order.
    pub opened: Mutex<Vec<u64>>,
}

impl MemorySource {
    pub fn new(chunk: usize) -> Self {
        Self {
            objects: Mutex::new(HashMap::new()),
            chunk: chunk.max(1),
            delay: Duration::ZERO,
            fail_after: None,
            opened: Mutex::new(Vec::new()),
        }
    }

    /// Adds `object` as the current version of `bucket`/`key`.
    pub fn insert(&self, bucket: &str, key: &str, object: StoredObject) {
        lock(&self.objects)
            .entry((bucket.to_owned(), key.to_owned()))
            .or_default()
            .push(object);
    }
}

pub struct MemoryChunks {
    bytes: Bytes,
    pos: usize,
    chunk: usize,
    delay: Duration,
    fail_after: Option<usize>,
}

impl ObjectSource for MemorySource {
    type Chunks = MemoryChunks;

    async fn open(&self, object: &ObjectRef, from: u64) -> Result<MemoryChunks, SourceError> {
        let stored = lock(&self.objects)
            .get(&(object.bucket.clone(), object.key.clone()))
            .and_then(|versions| match &object.version_id {
                Some(id) => versions
                    .iter()
                    .rev()
                    .find(|v| v.version_id.as_ref() == Some(id)),
                None => versions.last(),
            })
            .cloned();
        let superseded = |why: &str| SourceError::Superseded {
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            source: why.to_owned().into(),
        };
        let missing = || SourceError::Missing {
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            version_id: object.version_id.clone(),
            source: match object.version_id {
                Some(_) => "NoSuchVersion".into(),
                None => "NoSuchKey".into(),
            },
        };
        let stored = stored.ok_or_else(missing)?;
        let version_differs = object.version_id.is_some() && object.version_id != stored.version_id;
        let etag_differs = object
            .etag
            .as_deref()
            .is_some_and(|e| e.trim_matches('"') != stored.etag);
        if version_differs || etag_differs {
            return Err(superseded("PreconditionFailed"));
        }
        let from = usize::try_from(from)
            .unwrap_or(usize::MAX)
            .min(stored.bytes.len());
        lock(&self.opened).push(from as u64);
        Ok(MemoryChunks {
            bytes: stored.bytes,
            pos: from,
            chunk: self.chunk,
            delay: self.delay,
            fail_after: self.fail_after,
        })
    }
}

impl ChunkStream for MemoryChunks {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, SourceError> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self.fail_after.is_some_and(|n| self.pos >= n) {
            return Err(SourceError::Read {
                bytes: self.pos as u64,
                source: "connection reset by peer".into(),
            });
        }
        if self.pos >= self.bytes.len() {
            return Ok(None);
        }
        let end = (self.pos + self.chunk).min(self.bytes.len());
        let chunk = self.bytes.slice(self.pos..end);
        self.pos = end;
        Ok(Some(chunk))
    }
}

/// Decides the failure of an entry: (call number, index in batch, message).
pub type FailurePlan =
    Box<dyn Fn(usize, usize, &OutgoingMessage) -> Option<EntryFailure> + Send + Sync>;

/// Decides the failure of a whole call, by its call number (from 1).
pub type CallPlan = Box<dyn Fn(usize) -> Option<PublishError> + Send + Sync>;

#[derive(Debug, Default)]
pub struct PublisherLog {
    /// Messages accepted, in the order the queue accepted them.
    pub accepted: Vec<OutgoingMessage>,
    /// Entries failed on purpose.
    pub failed: Vec<(OutgoingMessage, EntryFailure)>,
    pub calls: usize,
    /// Calls failed as a whole on purpose.
    pub failed_calls: usize,
    /// The most batches in flight at once.
    pub max_concurrent: usize,
    concurrent: usize,
    groups_in_flight: HashSet<String>,
}

/// A FIFO queue stand-in. Every call takes some (virtual) time, so batches overlap; it
/// panics if two batches holding the same group are ever in flight together.
pub struct MemoryPublisher {
    pub log: Mutex<PublisherLog>,
    plan: FailurePlan,
    calls_plan: CallPlan,
    /// How long every call takes; by default 1–7 ms.
    pub call_time: Option<Duration>,
    /// Whether two batches holding one group in flight at once panic (off for two runs of
    /// a ledger sending at once, which the queue allows).
    pub one_batch_per_group: bool,
}

impl MemoryPublisher {
    pub fn new() -> Self {
        Self::with_plan(Box::new(|_, _, _| None))
    }

    pub fn with_plan(plan: FailurePlan) -> Self {
        Self {
            log: Mutex::new(PublisherLog::default()),
            plan,
            calls_plan: Box::new(|_| None),
            call_time: None,
            one_batch_per_group: true,
        }
    }

    /// Fails whole calls as `calls_plan` says (before any entry is looked at).
    pub fn failing_calls(mut self, calls_plan: CallPlan) -> Self {
        self.calls_plan = calls_plan;
        self
    }

    pub fn accepted(&self) -> Vec<OutgoingMessage> {
        lock(&self.log).accepted.clone()
    }
}

impl TransactionPublisher for MemoryPublisher {
    async fn send_batch(
        &self,
        batch: &[OutgoingMessage],
    ) -> Result<Vec<EntryFailure>, PublishError> {
        assert!(
            !batch.is_empty() && batch.len() <= 10,
            "batch of {}",
            batch.len()
        );
        let call = {
            let mut log = lock(&self.log);
            let groups: HashSet<&String> = batch.iter().map(|m| &m.group_id).collect();
            for group in groups {
                assert!(
                    log.groups_in_flight.insert(group.clone()) || !self.one_batch_per_group,
                    "two batches holding group {group} in flight"
                );
            }
            log.concurrent += 1;
            log.max_concurrent = log.max_concurrent.max(log.concurrent);
            log.calls += 1;
            log.calls
        };
        // Calls take 1–7 ms, so later calls may finish first.
        let took = Duration::from_millis(1 + (call as u64 * 5) % 7);
        tokio::time::sleep(self.call_time.unwrap_or(took)).await;
        let mut log = lock(&self.log);
        log.concurrent -= 1;
        for m in batch {
            log.groups_in_flight.remove(&m.group_id);
        }
        if let Some(e) = (self.calls_plan)(call) {
            log.failed_calls += 1;
            return Err(e);
        }
        let mut failures = Vec::new();
        for (index, m) in batch.iter().enumerate() {
            match (self.plan)(call, index, m) {
                Some(f) => {
                    log.failed.push((m.clone(), f.clone()));
                    failures.push(EntryFailure { index, ..f });
                }
                None => log.accepted.push(m.clone()),
            }
        }
        Ok(failures)
    }
}

/// Rejects reports by (bucket, key); each call takes `delay` first.
#[derive(Debug, Default)]
pub struct MemoryRejects {
    pub reports: Mutex<HashMap<(String, String), String>>,
    /// Keys deleted, in order (deleting a missing report included).
    pub deleted: Mutex<Vec<String>>,
    pub delay: Duration,
}

impl RejectsSink for MemoryRejects {
    async fn put_report(&self, bucket: &str, key: &str, report: &Path) -> Result<(), SinkError> {
        tokio::time::sleep(self.delay).await;
        let text = std::fs::read_to_string(report).map_err(|e| SinkError {
            action: "store",
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            source: Box::new(e),
        })?;
        lock(&self.reports).insert((bucket.to_owned(), key.to_owned()), text);
        Ok(())
    }

    async fn delete_report(&self, bucket: &str, key: &str) -> Result<(), SinkError> {
        tokio::time::sleep(self.delay).await;
        lock(&self.reports).remove(&(bucket.to_owned(), key.to_owned()));
        lock(&self.deleted).push(key.to_owned());
        Ok(())
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, SinkError> {
        let mut keys: Vec<String> = lock(&self.reports)
            .keys()
            .filter(|(b, k)| b == bucket && k.starts_with(prefix))
            .map(|(_, k)| k.clone())
            .collect();
        keys.sort();
        Ok(keys)
    }

    async fn append(&self, bucket: &str, key: &str, to: &Path) -> Result<(), SinkError> {
        use std::io::Write;
        let fail = |source: convoy_core::BoxError| SinkError {
            action: "read",
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            source,
        };
        let text = lock(&self.reports)
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
            .ok_or_else(|| fail("NoSuchKey".into()))?;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(to)
            .map_err(|e| fail(Box::new(e)))?;
        file.write_all(text.as_bytes())
            .map_err(|e| fail(Box::new(e)))
    }
}

/// The continuation messages sent, in order.
#[derive(Debug, Default)]
pub struct MemoryContinuations {
    pub sent: Mutex<Vec<Continuation>>,
}

impl Continuations for MemoryContinuations {
    async fn send(&self, continuation: &Continuation) -> Result<(), ContinueError> {
        lock(&self.sent).push(continuation.clone());
        Ok(())
    }
}

/// Status records by (bucket, key), with every write kept in order. Writes follow the rule
/// of the DynamoDB adapter's condition ([`LedgerStatus::may_replace`]). A write of a record
/// in state `stall_on` never returns (a store that hangs).
#[derive(Debug, Default)]
pub struct MemoryStatus {
    pub stall_on: Option<crate::status::State>,
    pub records: Mutex<HashMap<(String, String), LedgerStatus>>,
    pub writes: Mutex<Vec<LedgerStatus>>,
    /// Writes refused because a newer version owns the record.
    pub superseded: Mutex<Vec<LedgerStatus>>,
}

impl MemoryStatus {
    pub fn get_now(&self, bucket: &str, key: &str) -> Option<LedgerStatus> {
        lock(&self.records)
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
    }

    pub fn writes(&self) -> Vec<LedgerStatus> {
        lock(&self.writes).clone()
    }

    pub fn superseded(&self) -> Vec<LedgerStatus> {
        lock(&self.superseded).clone()
    }
}

impl StatusStore for MemoryStatus {
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<LedgerStatus>, StatusError> {
        Ok(self.get_now(bucket, key))
    }

    async fn put(
        &self,
        status: &LedgerStatus,
        guard: Guard<'_>,
    ) -> Result<PutOutcome, StatusError> {
        if self.stall_on == Some(status.state) {
            std::future::pending::<()>().await;
        }
        let mut records = lock(&self.records);
        let id = (status.bucket.clone(), status.key.clone());
        let current = records.get(&id);
        if !status.may_replace(current) {
            let current = current.and_then(|c| c.sequencer.clone());
            lock(&self.superseded).push(status.clone());
            return Ok(PutOutcome::Superseded { current });
        }
        if let Some(current) = current.filter(|c| !status.may_replace_under(Some(c), guard)) {
            return Ok(PutOutcome::Taken {
                current: Box::new(current.clone()),
            });
        }
        records.insert(id, status.clone());
        lock(&self.writes).push(status.clone());
        Ok(PutOutcome::Written)
    }
}
