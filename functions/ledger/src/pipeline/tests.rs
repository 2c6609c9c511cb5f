//! The rejects report's cap end to end: a ledger through the handler with in-memory ports;
//! the report lists the first [`MAX_REPORTED_REJECTS`] refused lines, the status record
//! counts them all and says whether some were left out.

use crate::handler::{Handler, HandlerOptions};
use crate::memory::{
    MemoryContinuations, MemoryPublisher, MemoryRejects, MemorySource, MemoryStatus, StoredObject,
};
use crate::ports::{PutOutcome, RejectsSink, SinkError, StatusError, StatusStore};
use crate::rejects::MAX_REPORTED_REJECTS;
use crate::status::{Guard, LedgerStatus, State};
use aws_lambda_events::sqs::SqsEvent;
use bytes::Bytes;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const BUCKET: &str = "convoy-ledgers";
const PUT: &str = include_str!("../fixtures/sqs-s3-put.json");
const CREATE: &str = r#"{"order_id":"A","seq":1,"op":"create","currency":"EUR"}"#;
const CANCEL: &str = r#"{"order_id":"A","seq":2,"op":"cancel"}"#;

/// A port the test keeps a handle on while the handler owns it.
struct Shared<T>(Arc<T>);

impl<T: RejectsSink> RejectsSink for Shared<T> {
    async fn put_report(&self, bucket: &str, key: &str, report: &Path) -> Result<(), SinkError> {
        self.0.put_report(bucket, key, report).await
    }

    async fn delete_report(&self, bucket: &str, key: &str) -> Result<(), SinkError> {
        self.0.delete_report(bucket, key).await
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, SinkError> {
        self.0.list(bucket, prefix).await
    }

    async fn append(&self, bucket: &str, key: &str, to: &Path) -> Result<(), SinkError> {
        self.0.append(bucket, key, to).await
    }
}

impl<T: StatusStore> StatusStore for Shared<T> {
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<LedgerStatus>, StatusError> {
        self.0.get(bucket, key).await
    }

    async fn put(
        &self,
        status: &LedgerStatus,
        guard: Guard<'_>,
    ) -> Result<PutOutcome, StatusError> {
        self.0.put(status, guard).await
    }
}

/// The put-notification fixture, announcing `key` with ETag `e` (unversioned).
fn put_event(key: &str) -> SqsEvent {
    let mut sqs: serde_json::Value = serde_json::from_str(PUT).unwrap();
    let body = sqs["Records"][0]["body"].as_str().unwrap();
    let mut s3: serde_json::Value = serde_json::from_str(body).unwrap();
    let object = s3["Records"][0]["s3"]["object"].as_object_mut().unwrap();
    object.insert("key".into(), key.into());
    object.insert("eTag".into(), "e".into());
    object.remove("versionId");
    sqs["Records"][0]["body"] = s3.to_string().into();
    serde_json::from_value(sqs).unwrap()
}

/// A ledger of `refused` refused lines (`x`) between two valid ones, through the handler:
/// its status and rejects report.
async fn run(refused: u64) -> (LedgerStatus, String) {
    let key = format!("ledgers/refused-{refused}.jsonl");
    let mut text = format!("{CREATE}\n");
    for _ in 0..refused {
        text.push_str("x\n");
    }
    text.push_str(CANCEL);
    let source = MemorySource::new(64 * 1024);
    source.insert(
        BUCKET,
        &key,
        StoredObject {
            bytes: Bytes::from(text),
            version_id: None,
            etag: "e".into(),
        },
    );
    let (rejects, statuses) = (
        Arc::new(MemoryRejects::default()),
        Arc::new(MemoryStatus::default()),
    );
    let h = Handler::new(
        source,
        MemoryPublisher::new(),
        Shared(Arc::clone(&rejects)),
        Shared(Arc::clone(&statuses)),
        MemoryContinuations::default(),
        HandlerOptions::default(),
    );
    let deadline = Instant::now() + Duration::from_secs(900);
    let response = h.handle(put_event(&key), deadline).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let status = statuses.get_now(BUCKET, &key).unwrap();
    let rejects_key = format!("rejects/refused-{refused}.jsonl.jsonl");
    assert_eq!(status.rejects_key.as_deref(), Some(rejects_key.as_str()));
    let report = rejects.reports.lock().unwrap()[&(BUCKET.to_owned(), rejects_key)].clone();
    (status, report)
}

fn report_lines(report: &str) -> Vec<u64> {
    report
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["line"].as_u64().unwrap()
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn past_the_cap_the_report_stops_and_the_status_counts_all_and_says_so() {
    // (`sent` = 2 below: both valid lines around the refused ones were sent.)
    let (status, report) = run(MAX_REPORTED_REJECTS + 7).await;
    assert_eq!(status.state, State::Done);
    assert_eq!(status.lines_read, MAX_REPORTED_REJECTS + 9);
    assert_eq!((status.sent, status.refused), (2, MAX_REPORTED_REJECTS + 7));
    assert!(status.rejects_truncated);
    // The first refused lines, in line order: lines 2 to cap + 1.
    let lines = report_lines(&report);
    assert_eq!(lines.len() as u64, MAX_REPORTED_REJECTS);
    assert!(lines.iter().copied().eq(2..MAX_REPORTED_REJECTS + 2));
}

#[tokio::test(start_paused = true)]
async fn up_to_the_cap_the_report_lists_every_refused_line() {
    let (status, report) = run(MAX_REPORTED_REJECTS).await;
    assert_eq!((status.sent, status.refused), (2, MAX_REPORTED_REJECTS));
    assert!(!status.rejects_truncated);
    assert_eq!(report_lines(&report).len() as u64, MAX_REPORTED_REJECTS);

    let (status, report) = run(3).await;
    assert_eq!((status.refused, status.rejects_truncated), (3, false));
    assert_eq!(report_lines(&report), [2, 3, 4]);
}
