//! In-memory ports for measuring the ledger function's peak memory in a process of its
//! own (the `peak_memory` test, the `memory` bench): a publisher that discards, a rejects
//! sink that only measures the report, a status store that keeps the last record.

// Shared by a test and a bench: a failed unwrap fails the measurement.
#![allow(clippy::unwrap_used, dead_code)]

use aws_lambda_events::sqs::SqsEvent;
use ledger::message::OutgoingMessage;
use ledger::notification::Continuation;
use ledger::ports::{
    Continuations, ContinueError, EntryFailure, PublishError, PutOutcome, RejectsSink, SinkError,
    StatusError, StatusStore, TransactionPublisher,
};
use ledger::status::Guard;
use ledger::LedgerStatus;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub const PUT: &str = include_str!("../../src/fixtures/sqs-s3-put.json");
pub const BUCKET: &str = "convoy-ledgers";

/// The peak resident set of this process so far, in KiB.
pub fn vm_hwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The put-notification fixture, announcing `key` (no version, no ETag check).
pub fn put_event(key: &str) -> SqsEvent {
    let mut sqs: serde_json::Value = serde_json::from_str(PUT).unwrap();
    let body = sqs["Records"][0]["body"].as_str().unwrap();
    let mut s3: serde_json::Value = serde_json::from_str(body).unwrap();
    let object = s3["Records"][0]["s3"]["object"].as_object_mut().unwrap();
    object.insert("key".into(), key.into());
    object.remove("versionId");
    object.remove("eTag");
    sqs["Records"][0]["body"] = s3.to_string().into();
    serde_json::from_value(sqs).unwrap()
}

/// Accepts everything, keeps nothing.
#[derive(Default)]
pub struct Discard {
    pub sent: AtomicU64,
}

impl TransactionPublisher for Discard {
    async fn send_batch(
        &self,
        batch: &[OutgoingMessage],
    ) -> Result<Vec<EntryFailure>, PublishError> {
        self.sent.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(Vec::new())
    }
}

/// Reads the report line by line: its lines, bytes and longest line.
#[derive(Default, Clone)]
pub struct Measure(pub Arc<Mutex<(u64, u64, usize)>>);

impl RejectsSink for Measure {
    async fn put_report(&self, bucket: &str, key: &str, report: &Path) -> Result<(), SinkError> {
        assert_eq!(bucket, BUCKET);
        assert!(key.starts_with("rejects/"), "{key}");
        let mut measured = (0u64, 0u64, 0usize);
        let file = std::fs::File::open(report).unwrap();
        for line in BufReader::new(file).split(b'\n') {
            let line = line.unwrap();
            measured.0 += 1;
            measured.1 += line.len() as u64 + 1;
            measured.2 = measured.2.max(line.len() + 1);
        }
        *self.0.lock().unwrap() = measured;
        Ok(())
    }

    /// A ledger with no refused line deletes an earlier version's report: nothing here.
    async fn delete_report(&self, _bucket: &str, _key: &str) -> Result<(), SinkError> {
        Ok(())
    }

    async fn list(&self, _bucket: &str, _prefix: &str) -> Result<Vec<String>, SinkError> {
        panic!("one segment: no parts");
    }

    async fn append(&self, _bucket: &str, _key: &str, _to: &Path) -> Result<(), SinkError> {
        panic!("one segment: no parts");
    }
}

/// Done within its invocation.
pub struct NoContinuation;

impl Continuations for NoContinuation {
    async fn send(&self, _continuation: &Continuation) -> Result<(), ContinueError> {
        panic!("done within its invocation");
    }
}

/// The last status written.
#[derive(Default, Clone)]
pub struct Status(pub Arc<Mutex<Option<LedgerStatus>>>);

impl StatusStore for Status {
    async fn get(&self, _bucket: &str, _key: &str) -> Result<Option<LedgerStatus>, StatusError> {
        Ok(self.0.lock().unwrap().clone())
    }

    async fn put(
        &self,
        status: &LedgerStatus,
        _guard: Guard<'_>,
    ) -> Result<PutOutcome, StatusError> {
        *self.0.lock().unwrap() = Some(status.clone());
        Ok(PutOutcome::Written)
    }
}
