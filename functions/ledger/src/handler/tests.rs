//! End-to-end tests of the handler with in-memory adapters, from real SQS/S3 event fixtures
//! and the conformance vectors.

use super::*;
use crate::memory::{
    FailurePlan, MemoryContinuations, MemoryPublisher, MemoryRejects, MemorySource, MemoryStatus,
    StoredObject,
};
use crate::message::OutgoingMessage;
use crate::ports::{EntryFailure, PublishError, PutOutcome};
use crate::scheduler::{Backoff, SchedulerOptions};
use crate::sender::SenderOptions;
use crate::status::Guard;
use bytes::Bytes;
use convoy_core::{vectors, Transaction};
use ledger_format::{kind_of_key, Decoder, Parsed};
use std::collections::{BTreeMap, HashSet};

mod continuations;

type TestHandler =
    Handler<MemorySource, MemoryPublisher, MemoryRejects, MemoryStatus, MemoryContinuations>;
type JsonObject = serde_json::Map<String, serde_json::Value>;

const BUCKET: &str = "convoy-ledgers";
const PUT: &str = include_str!("../fixtures/sqs-s3-put.json");
const PUT_ODD_KEY: &str = include_str!("../fixtures/sqs-s3-put-odd-key.json");
const TEST_EVENT: &str = include_str!("../fixtures/sqs-s3-test-event.json");

fn options() -> HandlerOptions {
    HandlerOptions {
        deadline_margin: Duration::from_secs(10),
        checkpoint_every: Duration::from_secs(30),
        pipeline: PipelineOptions {
            channel: 4,
            sender: SenderOptions {
                scheduler: SchedulerOptions {
                    max_in_flight: 8,
                    max_batch: 10,
                    backoff: Backoff {
                        base: Duration::from_millis(100),
                        cap: Duration::from_secs(2),
                        max_attempts: 5,
                    },
                },
                window: 64,
            },
        },
    }
}

fn handler_with(publisher: MemoryPublisher, source: MemorySource) -> TestHandler {
    Handler::new(
        source,
        publisher,
        MemoryRejects::default(),
        MemoryStatus::default(),
        MemoryContinuations::default(),
        options(),
    )
}

fn handler() -> TestHandler {
    handler_with(MemoryPublisher::new(), MemorySource::new(13))
}

/// S3's form encoding of a key in event notifications.
fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b' ' => out.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The put-notification fixture, announcing `key` with `etag`, its S3 object then edited
/// by `edit`.
fn announce(key: &str, etag: &str, edit: impl FnOnce(&mut JsonObject)) -> SqsEvent {
    let mut sqs: serde_json::Value = serde_json::from_str(PUT).unwrap();
    let body = sqs["Records"][0]["body"].as_str().unwrap();
    let mut s3: serde_json::Value = serde_json::from_str(body).unwrap();
    let object = s3["Records"][0]["s3"]["object"].as_object_mut().unwrap();
    object.insert("key".into(), encode_key(key).into());
    object.insert("eTag".into(), etag.into());
    edit(object);
    sqs["Records"][0]["body"] = s3.to_string().into();
    serde_json::from_value(sqs).unwrap()
}

/// The put-notification fixture, announcing `key` with `etag` (no version: unversioned).
fn put_event(key: &str, etag: &str) -> SqsEvent {
    announce(key, etag, |object| {
        object.remove("versionId");
    })
}

fn event(fixture: &str) -> SqsEvent {
    serde_json::from_str(fixture).unwrap()
}

/// Stores `bytes` as the current version of `key` (unversioned).
fn store(h: &TestHandler, key: &str, bytes: &[u8], etag: &str) {
    insert(h, key, bytes, None, etag);
}

fn insert(h: &TestHandler, key: &str, bytes: &[u8], version: Option<&str>, etag: &str) {
    h.source.insert(
        BUCKET,
        key,
        StoredObject {
            bytes: Bytes::copy_from_slice(bytes),
            version_id: version.map(str::to_owned),
            etag: etag.to_owned(),
        },
    );
}

fn far_deadline() -> Instant {
    Instant::now() + Duration::from_secs(900)
}

/// The decoder's reading of a whole file in one push: the reference.
fn reference(key: &str, bytes: &[u8]) -> (Vec<(u64, Transaction)>, u64) {
    let mut decoder = Decoder::new(kind_of_key(key).unwrap());
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        rest = &rest[decoder.feed(rest, &mut out).unwrap()..];
    }
    decoder.finish(&mut out).unwrap();
    let txns = out
        .into_iter()
        .filter_map(|p| match p {
            Parsed::Txn { line, txn } => Some((line, txn)),
            Parsed::Refused(_) => None,
        })
        .collect();
    (txns, decoder.lines_read())
}

fn lines_and_fields(jsonl: &str) -> Vec<(u64, Option<String>)> {
    jsonl
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["line"].as_u64().unwrap(),
                v["field"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// Each group's messages were accepted in increasing line order, each line once.
fn assert_group_order(accepted: &[OutgoingMessage]) {
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for m in accepted {
        if let Some(prev) = last.insert(&m.group_id, m.line) {
            assert!(
                prev < m.line,
                "group {}: line {} after {prev}",
                m.group_id,
                m.line
            );
        }
    }
}

fn report(h: &TestHandler, key: &str) -> Option<String> {
    h.rejects
        .reports
        .lock()
        .unwrap()
        .get(&(BUCKET.to_owned(), key.to_owned()))
        .cloned()
}

#[tokio::test(start_paused = true)]
async fn every_vector_is_sent_exactly_once_in_group_order_with_its_rejects_and_status() {
    for v in &vectors::ALL {
        let (name, text, rejects) = (v.name, v.ledger, v.rejects);
        let key = format!("ledgers/{name}");
        let h = handler();
        store(&h, &key, text.as_bytes(), "etag-1");
        let response = h
            .handle(put_event(&key, "etag-1"), far_deadline())
            .await
            .unwrap();
        assert!(response.batch_item_failures.is_empty(), "{name}");

        let accepted = h.publisher.accepted();
        let (want, lines) = reference(&key, text.as_bytes());
        let mut got: Vec<(u64, Transaction)> = accepted
            .iter()
            .map(|m| (m.line, serde_json::from_str(&m.body).unwrap()))
            .collect();
        got.sort_by_key(|(line, _)| *line);
        assert_eq!(
            got, want,
            "{name}: sent exactly the valid transactions, once"
        );
        assert_group_order(&accepted);
        for m in &accepted {
            assert_eq!(&*m.ledger, key.as_str());
            let txn: Transaction = serde_json::from_str(&m.body).unwrap();
            assert_eq!(m.group_id, txn.order_id.as_str());
            assert_eq!(m.dedup_id, crate::message::dedup_id(&txn));
        }
        if name.ends_with(".jsonl") {
            let non_blank = text.lines().filter(|l| !l.trim().is_empty()).count();
            let refused = lines_and_fields(rejects).len();
            assert_eq!(accepted.len(), non_blank - refused, "{name}");
        }

        let rejects_key = format!("rejects/{name}.jsonl");
        let expected = lines_and_fields(rejects);
        match report(&h, &rejects_key) {
            None => assert!(expected.is_empty(), "{name}: no rejects report"),
            Some(got) => {
                assert_eq!(lines_and_fields(&got), expected, "{name}");
                for l in got.lines() {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    assert!(!v["reason"].as_str().unwrap().is_empty());
                    assert!(v["text"].is_string());
                }
            }
        }

        let status = h.status.get_now(BUCKET, &key).unwrap();
        assert_eq!(status.state, State::Done, "{name}");
        assert_eq!(status.lines_read, lines, "{name}");
        assert_eq!(status.sent, accepted.len() as u64, "{name}");
        assert_eq!(status.refused, expected.len() as u64, "{name}");
        assert_eq!(
            status.rejects_key,
            (!expected.is_empty()).then_some(rejects_key)
        );
        assert_eq!(status.etag.as_deref(), Some("etag-1"));
        assert_eq!(status.error, None);
        let writes = h.status.writes();
        assert_eq!(writes.first().unwrap().state, State::Processing);
    }
}

#[tokio::test(start_paused = true)]
async fn batches_overlap_but_never_share_a_group() {
    let (name, text) = (vectors::ALL[0].name, vectors::ALL[0].ledger);
    let key = format!("ledgers/{name}");
    let h = handler_with(MemoryPublisher::new(), MemorySource::new(4096));
    store(&h, &key, text.as_bytes(), "e");
    h.handle(put_event(&key, "e"), far_deadline())
        .await
        .unwrap();
    let log = h.publisher.log.lock().unwrap();
    assert!(
        log.max_concurrent > 1,
        "batches were sent concurrently: {}",
        log.max_concurrent
    );
    assert!(log.max_concurrent <= 8);
    assert!(
        log.calls < log.accepted.len(),
        "batches hold several entries"
    );
}

/// Every valid transaction of `text` was accepted exactly once, each order's in order;
/// returns how many there are.
fn assert_sent_once_in_group_order(h: &TestHandler, key: &str, name: &str, text: &str) -> usize {
    let accepted = h.publisher.accepted();
    let sent = assert_sent_once(&accepted, key, name, text);
    assert_group_order(&accepted);
    sent
}

fn assert_sent_once(accepted: &[OutgoingMessage], key: &str, name: &str, text: &str) -> usize {
    let (want, _) = reference(key, text.as_bytes());
    assert_eq!(accepted.len(), want.len(), "{name}: each once");
    let lines: HashSet<u64> = accepted.iter().map(|m| m.line).collect();
    assert_eq!(lines.len(), want.len(), "{name}: no line twice");
    want.len()
}

#[tokio::test(start_paused = true)]
async fn partially_failed_batches_are_retried_and_only_a_failed_line_is_overtaken() {
    let mut overtaken = 0;
    for (name, text) in vectors::ALL.iter().map(|v| (v.name, v.ledger)) {
        let key = format!("ledgers/{name}");
        let h = handler_with(
            MemoryPublisher::with_plan(flaky_plan()),
            MemorySource::new(64),
        );
        store(&h, &key, text.as_bytes(), "e");
        h.handle(put_event(&key, "e"), far_deadline())
            .await
            .unwrap();
        let accepted = h.publisher.accepted();
        let sent = assert_sent_once(&accepted, &key, name, text);
        let failed: HashSet<u64> = h
            .publisher
            .log
            .lock()
            .unwrap()
            .failed
            .iter()
            .map(|(m, _)| m.line)
            .collect();
        assert!(!failed.is_empty(), "{name}: failures were injected");
        // A line sent in the call where an earlier line of its order failed is enqueued
        // before it (the consumer parks it by seq); nothing else is ever overtaken.
        for (i, m) in accepted.iter().enumerate() {
            for later in accepted[i + 1..]
                .iter()
                .filter(|n| n.group_id == m.group_id)
            {
                if later.line < m.line {
                    assert!(
                        failed.contains(&later.line),
                        "{name}: line {} overtook {}",
                        m.line,
                        later.line
                    );
                    overtaken += 1;
                }
            }
        }
        let status = h.status.get_now(BUCKET, &key).unwrap();
        assert_eq!((status.state, status.sent), (State::Done, sent as u64));
    }
    assert!(
        overtaken > 0,
        "some batch held lines of one order after a failed one"
    );
}

/// Every third call fails its first and last entries, retryably — each message at most
/// three times, so that it gets through within the five attempts allowed.
fn flaky_plan() -> FailurePlan {
    let failures = std::sync::Mutex::new(BTreeMap::<u64, u32>::new());
    Box::new(move |call, index, m| {
        if call % 3 != 0 || !(index == 0 || index == 9) {
            return None;
        }
        let mut failures = failures.lock().unwrap();
        let count = failures.entry(m.line).or_default();
        *count += 1;
        (*count <= 3).then(|| entry_failure(index, false, "InternalError", "try again"))
    })
}

fn entry_failure(index: usize, sender_fault: bool, code: &str, message: &str) -> EntryFailure {
    EntryFailure {
        index,
        sender_fault,
        code: code.into(),
        message: message.into(),
    }
}

/// Fails the entry of `line` on every attempt.
fn fail_line(
    line: u64,
    sender_fault: bool,
    code: &'static str,
    message: &'static str,
) -> FailurePlan {
    Box::new(move |_, index, m| {
        (m.line == line).then(|| entry_failure(index, sender_fault, code, message))
    })
}

#[tokio::test(start_paused = true)]
async fn a_sender_fault_entry_becomes_a_refused_line_in_line_order() {
    // v5: the decoder refuses lines 8, 15, 16, 17; SQS refuses the transaction of line 11.
    let plan = fail_line(11, true, "InvalidParameterValue", "message too long");
    let (name, text) = (vectors::ALL[4].name, vectors::ALL[4].ledger);
    let key = format!("ledgers/{name}");
    let h = handler_with(MemoryPublisher::with_plan(plan), MemorySource::new(7));
    store(&h, &key, text.as_bytes(), "e");
    h.handle(put_event(&key, "e"), far_deadline())
        .await
        .unwrap();
    let got = report(&h, &format!("rejects/{name}.jsonl")).unwrap();
    let lines: Vec<u64> = lines_and_fields(&got).iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![8, 11, 15, 16, 17]);
    let eleven: serde_json::Value = serde_json::from_str(got.lines().nth(1).unwrap()).unwrap();
    assert_eq!(eleven["field"], serde_json::Value::Null);
    assert!(
        eleven["reason"]
            .as_str()
            .unwrap()
            .contains("message too long"),
        "{eleven}"
    );
    assert!(eleven["text"].as_str().unwrap().contains("E-2"));
    assert!(h.publisher.accepted().iter().all(|m| m.line != 11));
    let status = h.status.get_now(BUCKET, &key).unwrap();
    assert_eq!((status.state, status.refused), (State::Done, 5));
}

#[tokio::test(start_paused = true)]
async fn running_out_of_retries_fails_the_ledger() {
    let plan = fail_line(3, false, "ServiceUnavailable", "");
    let (name, text) = (vectors::ALL[0].name, vectors::ALL[0].ledger);
    let key = format!("ledgers/{name}");
    let h = handler_with(MemoryPublisher::with_plan(plan), MemorySource::new(64));
    store(&h, &key, text.as_bytes(), "e");
    let err = h
        .handle(put_event(&key, "e"), far_deadline())
        .await
        .unwrap_err();
    assert!(
        chain(&err).contains("line 3") && chain(&err).contains("5 attempts"),
        "{}",
        chain(&err)
    );
    let status = h.status.get_now(BUCKET, &key).unwrap();
    assert_eq!(status.state, State::Failed);
    assert!(status.error.unwrap().contains("ServiceUnavailable"));
}

#[tokio::test(start_paused = true)]
async fn throttled_calls_are_retried_and_the_ledger_is_done() {
    // Calls 1, 3, 5 and 7 fail as a whole (throttled after the SDK's retries): no entry
    // fails more than four times, within the five attempts allowed.
    let throttled = |call: usize| {
        (call <= 7 && call % 2 == 1)
            .then(|| PublishError::transient("RequestThrottled: rate exceeded"))
    };
    for (name, text) in vectors::ALL.iter().map(|v| (v.name, v.ledger)) {
        let key = format!("ledgers/{name}");
        let publisher = MemoryPublisher::new().failing_calls(Box::new(throttled));
        let h = handler_with(publisher, MemorySource::new(64));
        store(&h, &key, text.as_bytes(), "e");
        h.handle(put_event(&key, "e"), far_deadline())
            .await
            .unwrap();
        let sent = assert_sent_once_in_group_order(&h, &key, name, text);
        let failed_calls = h.publisher.log.lock().unwrap().failed_calls;
        assert!(failed_calls > 0, "{name}: failures were injected");
        let status = h.status.get_now(BUCKET, &key).unwrap();
        assert_eq!((status.state, status.sent), (State::Done, sent as u64));
    }
}

#[tokio::test(start_paused = true)]
async fn an_unsupported_extension_is_recorded_and_nothing_is_sent() {
    let key = "ledgers/report.xlsx";
    let h = handler();
    store(&h, key, b"{}", "e");
    let response = h.handle(put_event(key, "e"), far_deadline()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert!(h.publisher.accepted().is_empty());
    let status = h.status.get_now(BUCKET, key).unwrap();
    assert_eq!(status.state, State::Unsupported);
    assert!(status.error.unwrap().contains("unsupported"));
}

fn gzip(parts: &[&[u8]]) -> Vec<u8> {
    use std::io::Write;
    let mut all = Vec::new();
    for part in parts {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(part).unwrap();
        all.extend(gz.finish().unwrap());
    }
    all
}

#[tokio::test(start_paused = true)]
async fn a_gzip_ledger_is_streamed_all_members() {
    let (name, text) = (vectors::ALL[0].name, vectors::ALL[0].ledger);
    let (first, second) = text.as_bytes().split_at(text.len() / 3);
    let key = format!("ledgers/{name}.GZ");
    let h = handler();
    store(&h, &key, &gzip(&[first, second]), "e");
    h.handle(put_event(&key, "e"), far_deadline())
        .await
        .unwrap();
    let (want, lines) = reference(&format!("ledgers/{name}"), text.as_bytes());
    assert_eq!(h.publisher.accepted().len(), want.len());
    let status = h.status.get_now(BUCKET, &key).unwrap();
    assert_eq!(
        (status.state, status.lines_read, status.sent),
        (State::Done, lines, want.len() as u64)
    );
}

#[tokio::test(start_paused = true)]
async fn a_corrupt_gzip_fails_for_good_naming_the_line_it_got_to() {
    let key = "ledgers/broken.jsonl.gz";
    let mut bytes = gzip(&[vectors::ALL[0].ledger.as_bytes()]);
    bytes.truncate(bytes.len() / 2);
    bytes.extend_from_slice(b"garbage that is not deflate");
    let h = handler();
    store(&h, key, &bytes, "e");
    // Not retried: a retry reads the same bytes. The status says why, and where.
    let response = h.handle(put_event(key, "e"), far_deadline()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let status = h.status.get_now(BUCKET, key).unwrap();
    assert_eq!(status.state, State::Failed);
    let error = status.error.unwrap();
    assert!(error.contains("gzip"), "{error}");
    assert!(
        error.contains(&format!("after line {}", status.lines_read)),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_read_error_fails_the_ledger() {
    let (name, text) = (vectors::ALL[0].name, vectors::ALL[0].ledger);
    let key = format!("ledgers/{name}");
    let mut source = MemorySource::new(100);
    source.fail_after = Some(1000);
    let h = handler_with(MemoryPublisher::new(), source);
    store(&h, &key, text.as_bytes(), "e");
    let err = h
        .handle(put_event(&key, "e"), far_deadline())
        .await
        .unwrap_err();
    let status = h.status.get_now(BUCKET, &key).unwrap();
    assert_eq!(status.state, State::Failed);
    assert!(status.error.unwrap().contains("connection reset"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn the_s3_test_event_is_ignored() {
    let h = handler();
    let response = h.handle(event(TEST_EVENT), far_deadline()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert!(h.status.writes().is_empty());
    assert_eq!(h.publisher.log.lock().unwrap().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn the_fixture_notification_is_processed_under_its_version() {
    let h = handler();
    store_version(
        &h,
        "ledgers/v1-interleaved.jsonl",
        vectors::ALL[0].ledger.as_bytes(),
        "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        "8f2a6d4c1b0e7f3a9c5d2e1f0a4b6c8d",
    );
    h.handle(event(PUT), far_deadline()).await.unwrap();
    let status = h
        .status
        .get_now(BUCKET, "ledgers/v1-interleaved.jsonl")
        .unwrap();
    assert_eq!(status.state, State::Done);
    assert_eq!(
        status.version_id.as_deref(),
        Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    );
    assert_eq!(status.size, Some(14231));
}

#[tokio::test(start_paused = true)]
async fn a_key_with_spaces_plus_and_unicode_is_found_and_reported() {
    let key = "ledgers/Q4 2026/a+b Zürich €.jsonl";
    let h = handler();
    store_version(
        &h,
        key,
        vectors::ALL[4].ledger.as_bytes(),
        "Ea_3rAbpN6rA9qmXW7Hd6eoRpFDfH2y.",
        "1c5e1b0c2f3c4a7b8d9e0f1a2b3c4d5e",
    );
    h.handle(event(PUT_ODD_KEY), far_deadline()).await.unwrap();
    let accepted = h.publisher.accepted();
    assert!(!accepted.is_empty());
    assert!(accepted.iter().all(|m| &*m.ledger == key));
    assert!(report(&h, "rejects/Q4 2026/a+b Zürich €.jsonl.jsonl").is_some());
    assert_eq!(h.status.get_now(BUCKET, key).unwrap().state, State::Done);
}

#[tokio::test(start_paused = true)]
async fn a_redelivered_done_ledger_is_skipped_but_a_new_upload_is_processed() {
    let (name, text) = (vectors::ALL[0].name, vectors::ALL[0].ledger);
    let key = format!("ledgers/{name}");
    let h = handler();
    store(&h, &key, text.as_bytes(), "e1");
    h.handle(put_event(&key, "e1"), far_deadline())
        .await
        .unwrap();
    let first = h.publisher.accepted().len();
    let writes = h.status.writes().len();
    h.handle(put_event(&key, "e1"), far_deadline())
        .await
        .unwrap();
    assert_eq!(h.publisher.accepted().len(), first, "nothing resent");
    assert_eq!(h.status.writes().len(), writes, "status untouched");

    store(&h, &key, text.as_bytes(), "e2");
    h.handle(put_event(&key, "e2"), far_deadline())
        .await
        .unwrap();
    let accepted = h.publisher.accepted();
    assert_eq!(accepted.len(), 2 * first, "a re-upload is sent again");
    // ... with the same deduplication ids, so SQS drops the copies.
    let ids: HashSet<&str> = accepted.iter().map(|m| m.dedup_id.as_str()).collect();
    let distinct_first: HashSet<&str> = accepted[..first]
        .iter()
        .map(|m| m.dedup_id.as_str())
        .collect();
    assert_eq!(ids, distinct_first);
}

#[tokio::test(start_paused = true)]
async fn a_superseded_notification_is_dropped_quietly() {
    let key = "ledgers/day.jsonl";
    let h = handler();
    store(&h, key, vectors::ALL[0].ledger.as_bytes(), "newer");
    let response = h
        .handle(put_event(key, "older"), far_deadline())
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert!(h.status.writes().is_empty());
    assert!(h.publisher.accepted().is_empty());
}

#[tokio::test(start_paused = true)]
async fn objects_outside_ledgers_are_ignored() {
    let key = "rejects/v5-edges.jsonl.jsonl";
    let h = handler();
    store(&h, key, vectors::ALL[4].ledger.as_bytes(), "e");
    h.handle(put_event(key, "e"), far_deadline()).await.unwrap();
    assert!(h.status.writes().is_empty());
    assert!(h.publisher.accepted().is_empty());
}

#[tokio::test(start_paused = true)]
async fn only_the_failed_record_of_a_batch_is_reported() {
    let h = handler();
    let good = "ledgers/good.jsonl";
    let bad = "ledgers/bad.jsonl.gz";
    store(&h, good, vectors::ALL[1].ledger.as_bytes(), "g");
    let mut events = put_event(good, "g");
    let mut second = put_event(bad, "b").records.remove(0);
    second.message_id = Some("second-message".into());
    second.body = Some("{\"not\":\"s3\"}".into());
    events.records.push(second);
    let response = h.handle(events, far_deadline()).await.unwrap();
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["second-message"]);
    assert_eq!(h.status.get_now(BUCKET, good).unwrap().state, State::Done);
}

#[tokio::test(start_paused = true)]
async fn a_body_that_is_not_an_s3_event_fails_the_message() {
    let mut e = event(PUT);
    e.records[0].body = Some("{\"not\":\"s3\"}".into());
    let err = handler().handle(e, far_deadline()).await.unwrap_err();
    assert_eq!(err.message_id, "059f36b4-87a3-44ab-83d2-661975830a7d");
    assert!(matches!(err.source, LedgerError::Notification(_)));
}

#[tokio::test(start_paused = true)]
async fn progress_is_written_while_a_slow_ledger_runs() {
    let (name, text) = (vectors::ALL[0].name, vectors::ALL[0].ledger);
    let key = format!("ledgers/{name}");
    let mut source = MemorySource::new(2048);
    source.delay = Duration::from_secs(20);
    let h = handler_with(MemoryPublisher::new(), source);
    store(&h, &key, text.as_bytes(), "e");
    h.handle(put_event(&key, "e"), far_deadline())
        .await
        .unwrap();
    let writes = h.status.writes();
    let progress: Vec<&LedgerStatus> = writes
        .iter()
        .filter(|w| w.state == State::Processing)
        .collect();
    assert!(progress.len() >= 3, "{}", progress.len());
    assert!(progress.last().unwrap().lines_read > 0);
    assert_eq!(writes.last().unwrap().state, State::Done);
}

/// Sequencers of two uploads of one key, the second later (as S3 orders them).
const OLDER_SEQ: &str = "0055AED6DCD90281E5";
const NEWER_SEQ: &str = "0055AED6DCD9028200";

/// The put-notification fixture, announcing version `version` of `key` with `etag` and
/// `sequencer` (left out if `None`, as some emulators do).
fn versioned_event(key: &str, version: &str, etag: &str, sequencer: Option<&str>) -> SqsEvent {
    announce(key, etag, |object| {
        object.insert("versionId".into(), version.into());
        match sequencer {
            Some(seq) => object.insert("sequencer".into(), seq.into()),
            None => object.remove("sequencer"),
        };
    })
}

fn store_version(h: &TestHandler, key: &str, bytes: &[u8], version: &str, etag: &str) {
    insert(h, key, bytes, Some(version), etag);
}

/// The status record as left by a version: `state`, with that version's sequencer.
fn seeded(key: &str, version: &str, sequencer: Option<&str>, state: State) -> LedgerStatus {
    let object = ObjectRef {
        bucket: BUCKET.into(),
        key: key.into(),
        version_id: Some(version.into()),
        etag: None,
        size: None,
        sequencer: sequencer.and_then(crate::notification::normalize_sequencer),
    };
    LedgerStatus::start(&object, state)
}

#[tokio::test(start_paused = true)]
async fn an_older_version_finishing_after_a_newer_one_leaves_the_newer_record_and_report() {
    // Superseded seen at a progress update, or only at the last check before the report.
    for progress_every in [Duration::from_secs(2), Duration::from_secs(300)] {
        older_finishing_after_newer(progress_every).await;
    }
}

/// The older version (v3: one rejected line) is slow; the newer one (v5: four) is uploaded
/// while it runs and finishes first.
async fn older_finishing_after_newer(progress_every: Duration) {
    let key = "ledgers/same key.jsonl";
    let (older, newer) = (
        vectors::ALL[2].ledger.as_bytes(),
        vectors::ALL[4].ledger.as_bytes(),
    );
    let mut source = MemorySource::new(256);
    source.delay = Duration::from_secs(1);
    let h = Handler::new(
        source,
        MemoryPublisher::new(),
        MemoryRejects::default(),
        MemoryStatus::default(),
        MemoryContinuations::default(),
        HandlerOptions {
            checkpoint_every: progress_every,
            ..options()
        },
    );
    store_version(&h, key, older, "v-old", "e-old");
    store_version(&h, key, newer, "v-new", "e-new");
    let (first, second) = tokio::join!(
        h.handle(
            versioned_event(key, "v-old", "e-old", Some(OLDER_SEQ)),
            far_deadline()
        ),
        async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            h.handle(
                versioned_event(key, "v-new", "e-new", Some(NEWER_SEQ)),
                far_deadline(),
            )
            .await
        }
    );
    assert!(first.unwrap().batch_item_failures.is_empty(), "older: ok");
    assert!(second.unwrap().batch_item_failures.is_empty(), "newer: ok");

    let status = h.status.get_now(BUCKET, key).unwrap();
    let (newer_txns, newer_lines) = reference(key, newer);
    assert_eq!(status.version_id.as_deref(), Some("v-new"), "{status:?}");
    assert_eq!(
        (status.state, status.lines_read, status.refused),
        (State::Done, newer_lines, 4)
    );
    assert_eq!(
        status.sequencer,
        crate::notification::normalize_sequencer(NEWER_SEQ)
    );
    let rejects_key = "rejects/same key.jsonl.jsonl";
    assert_eq!(status.rejects_key.as_deref(), Some(rejects_key));
    assert_eq!(
        lines_and_fields(&report(&h, rejects_key).unwrap()),
        lines_and_fields(vectors::ALL[4].rejects),
        "the newer version's report"
    );

    // Every version is a ledger: the older one was sent in full all the same.
    let (older_txns, _) = reference(key, older);
    assert_eq!(
        h.publisher.accepted().len(),
        older_txns.len() + newer_txns.len()
    );

    // The older version wrote until the newer one took over, then only tried to.
    let writes = h.status.writes();
    let takeover = writes
        .iter()
        .position(|w| w.version_id.as_deref() == Some("v-new"))
        .unwrap();
    assert!(takeover > 0 && writes[0].version_id.as_deref() == Some("v-old"));
    assert!(writes[takeover..]
        .iter()
        .all(|w| w.version_id.as_deref() == Some("v-new")));
    let refused = h.status.superseded();
    assert!(!refused.is_empty());
    assert!(refused
        .iter()
        .all(|w| w.version_id.as_deref() == Some("v-old")));
    assert!(
        writes
            .iter()
            .chain(&refused)
            .all(|w| !(w.version_id.as_deref() == Some("v-old") && w.state == State::Done)),
        "the older version stopped writing once superseded"
    );
}

#[tokio::test(start_paused = true)]
async fn an_older_version_delivered_after_the_newer_one_is_sent_without_status_or_report() {
    let key = "ledgers/late.jsonl";
    let (older, newer) = (
        vectors::ALL[2].ledger.as_bytes(),
        vectors::ALL[4].ledger.as_bytes(),
    );
    let h = handler();
    store_version(&h, key, older, "v-old", "e-old");
    store_version(&h, key, newer, "v-new", "e-new");
    h.handle(
        versioned_event(key, "v-new", "e-new", Some(NEWER_SEQ)),
        far_deadline(),
    )
    .await
    .unwrap();
    let newer_status = h.status.get_now(BUCKET, key).unwrap();
    let newer_report = report(&h, "rejects/late.jsonl.jsonl").unwrap();
    let writes = h.status.writes().len();

    let response = h
        .handle(
            versioned_event(key, "v-old", "e-old", Some(OLDER_SEQ)),
            far_deadline(),
        )
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(h.status.get_now(BUCKET, key).unwrap(), newer_status);
    assert_eq!(h.status.writes().len(), writes, "nothing written");
    assert_eq!(
        h.status.superseded().len(),
        1,
        "one refused write, then no more tries"
    );
    assert_eq!(
        report(&h, "rejects/late.jsonl.jsonl").unwrap(),
        newer_report
    );
    let (older_txns, _) = reference(key, older);
    let (newer_txns, _) = reference(key, newer);
    assert_eq!(
        h.publisher.accepted().len(),
        newer_txns.len() + older_txns.len(),
        "the older version was sent"
    );
}

#[tokio::test(start_paused = true)]
async fn an_older_unsupported_version_leaves_the_newer_record() {
    let key = "ledgers/report.xlsx";
    let h = handler();
    let newer = seeded(key, "v-new", Some(NEWER_SEQ), State::Unsupported);
    assert_eq!(
        h.status.put(&newer, Guard::Any).await.unwrap(),
        PutOutcome::Written
    );
    let response = h
        .handle(
            versioned_event(key, "v-old", "e-old", Some(OLDER_SEQ)),
            far_deadline(),
        )
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(h.status.get_now(BUCKET, key).unwrap(), newer);
}

#[tokio::test(start_paused = true)]
async fn the_same_version_redelivered_may_write_its_record_again() {
    // A first attempt left `processing` behind (say, the Lambda was killed); the
    // redelivery has the same sequencer, so it takes over its own record.
    let (name, text) = (vectors::ALL[0].name, vectors::ALL[0].ledger);
    let key = format!("ledgers/{name}");
    let h = handler();
    store_version(&h, &key, text.as_bytes(), "v1", "e1");
    let crashed = seeded(&key, "v1", Some(OLDER_SEQ), State::Processing);
    assert_eq!(
        h.status.put(&crashed, Guard::Any).await.unwrap(),
        PutOutcome::Written
    );
    h.handle(
        versioned_event(&key, "v1", "e1", Some(OLDER_SEQ)),
        far_deadline(),
    )
    .await
    .unwrap();
    let status = h.status.get_now(BUCKET, &key).unwrap();
    assert_eq!(status.state, State::Done);
    assert_eq!(status.sequencer, crashed.sequencer);
    assert!(h.status.superseded().is_empty());

    // Redelivered once more: done for this version, skipped.
    let writes = h.status.writes().len();
    h.handle(
        versioned_event(&key, "v1", "e1", Some(OLDER_SEQ)),
        far_deadline(),
    )
    .await
    .unwrap();
    assert_eq!(h.status.writes().len(), writes);
}

#[tokio::test(start_paused = true)]
async fn without_a_sequencer_status_writes_are_unconditional() {
    // Events of emulators that send no sequencer cannot be ordered: written as they come.
    let (name, text) = (vectors::ALL[1].name, vectors::ALL[1].ledger);
    let key = format!("ledgers/{name}");
    let h = handler();
    store_version(&h, &key, text.as_bytes(), "v-old", "e-old");
    let newer = seeded(&key, "v-new", Some(NEWER_SEQ), State::Done);
    assert_eq!(
        h.status.put(&newer, Guard::Any).await.unwrap(),
        PutOutcome::Written
    );
    h.handle(
        versioned_event(&key, "v-old", "e-old", None),
        far_deadline(),
    )
    .await
    .unwrap();
    let status = h.status.get_now(BUCKET, &key).unwrap();
    assert_eq!(
        (status.version_id.as_deref(), status.state, status.sequencer),
        (Some("v-old"), State::Done, None)
    );
}

/// A handler whose sender retries without end (until the deadline stops it).
fn patient_handler(publisher: MemoryPublisher) -> TestHandler {
    let mut options = options();
    options.pipeline.sender.scheduler.backoff.max_attempts = u32::MAX;
    Handler::new(
        MemorySource::new(64),
        publisher,
        MemoryRejects::default(),
        MemoryStatus::default(),
        MemoryContinuations::default(),
        options,
    )
}

#[tokio::test(start_paused = true)]
async fn the_deadline_error_names_the_last_transient_send_failure() {
    let throttled = MemoryPublisher::new().failing_calls(Box::new(|_| {
        Some(PublishError::transient("RequestThrottled: rate exceeded"))
    }));
    let flaky = MemoryPublisher::with_plan(Box::new(|_, index, _| {
        Some(entry_failure(index, false, "InternalError", "try again"))
    }));
    for (publisher, cause) in [
        (
            throttled,
            "SendMessageBatch failed: RequestThrottled: rate exceeded",
        ),
        (flaky, "InternalError: try again"),
    ] {
        let (name, text) = (vectors::ALL[0].name, vectors::ALL[0].ledger);
        let key = format!("ledgers/{name}");
        let h = patient_handler(publisher);
        store(&h, &key, text.as_bytes(), "e");
        let deadline = Instant::now() + Duration::from_secs(15);
        let err = h.handle(put_event(&key, "e"), deadline).await.unwrap_err();
        assert!(
            matches!(
                &err.source,
                LedgerError::Deadline {
                    slowed_by: Some(_),
                    ..
                }
            ),
            "{err:?}"
        );
        let why = format!("sending was slowed by transient failures, the last: {cause}");
        assert!(chain(&err).ends_with(&why), "{}", chain(&err));
        let status = h.status.get_now(BUCKET, &key).unwrap();
        assert_eq!(status.state, State::Failed);
        let error = status.error.unwrap();
        assert!(
            error.starts_with("no checkpoint within one invocation: ") && error.ends_with(&why),
            "{error}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_rejects_report_not_written_by_the_deadline_fails_the_record_in_time() {
    let (name, text) = (vectors::ALL[4].name, vectors::ALL[4].ledger);
    let key = format!("ledgers/{name}");
    let rejects = MemoryRejects {
        delay: Duration::from_secs(3600),
        ..MemoryRejects::default()
    };
    let h = Handler::new(
        MemorySource::new(64),
        MemoryPublisher::new(),
        rejects,
        MemoryStatus::default(),
        MemoryContinuations::default(),
        options(),
    );
    store(&h, &key, text.as_bytes(), "e");
    let deadline = Instant::now() + Duration::from_secs(60);
    let err = h.handle(put_event(&key, "e"), deadline).await.unwrap_err();
    assert!(Instant::now() <= deadline, "done before the deadline");
    let what = format!(
        "writing the rejects report s3://{BUCKET}/rejects/{name}.jsonl: not done before the invocation's deadline"
    );
    assert!(
        matches!(&err.source, LedgerError::OutOfTime { .. }),
        "{err:?}"
    );
    assert_eq!(chain(&err.source), what);
    let status = h.status.get_now(BUCKET, &key).unwrap();
    assert_eq!(status.state, State::Failed);
    assert_eq!(status.error.as_deref(), Some(what.as_str()));
}

#[tokio::test(start_paused = true)]
async fn a_status_write_not_done_by_the_deadline_fails_the_record_in_time() {
    let (name, text) = (vectors::ALL[0].name, vectors::ALL[0].ledger);
    let key = format!("ledgers/{name}");
    let status = MemoryStatus {
        stall_on: Some(State::Done),
        ..MemoryStatus::default()
    };
    let h = Handler::new(
        MemorySource::new(64),
        MemoryPublisher::new(),
        MemoryRejects::default(),
        status,
        MemoryContinuations::default(),
        options(),
    );
    store(&h, &key, text.as_bytes(), "e");
    let deadline = Instant::now() + Duration::from_secs(60);
    let err = h.handle(put_event(&key, "e"), deadline).await.unwrap_err();
    assert!(Instant::now() <= deadline, "done before the deadline");
    assert_eq!(
        chain(&err.source),
        "writing the status record (done): not done before the invocation's deadline"
    );
    // Everything was sent; the record stays `processing`, and the retry finishes it.
    assert_sent_once_in_group_order(&h, &key, name, text);
    let status = h.status.get_now(BUCKET, &key).unwrap();
    assert_eq!(status.state, State::Processing);
}

#[tokio::test(start_paused = true)]
async fn a_missing_object_is_recorded_as_failed() {
    // No such key (unversioned), and no such version (versioned: another version is there).
    let h = handler();
    let gone = "ledgers/gone.jsonl";
    let response = h
        .handle(put_event(gone, "e"), far_deadline())
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty(), "no retry helps");
    let status = h.status.get_now(BUCKET, gone).unwrap();
    assert_eq!(status.state, State::Failed);
    assert_eq!(
        status.error.as_deref(),
        Some("s3://convoy-ledgers/ledgers/gone.jsonl (version null) no longer exists: NoSuchKey")
    );

    let key = "ledgers/versioned.jsonl";
    store_version(&h, key, vectors::ALL[0].ledger.as_bytes(), "v-other", "e");
    let event = versioned_event(key, "v-gone", "e", Some(OLDER_SEQ));
    let response = h.handle(event, far_deadline()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let status = h.status.get_now(BUCKET, key).unwrap();
    assert_eq!(
        (status.state, status.version_id.as_deref()),
        (State::Failed, Some("v-gone"))
    );
    assert!(
        status
            .error
            .unwrap()
            .contains("(version v-gone) no longer exists"),
        "the reason is recorded"
    );
    assert!(h.publisher.accepted().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_replaced_object_leaves_the_status_to_its_replacement() {
    // Versioned: the event's version is there, but with another ETag (replaced in place,
    // as an emulator may); unversioned: the key holds a newer upload.
    let h = handler();
    let key = "ledgers/replaced.jsonl";
    store_version(&h, key, vectors::ALL[0].ledger.as_bytes(), "v1", "newer");
    let event = versioned_event(key, "v1", "older", Some(OLDER_SEQ));
    let response = h.handle(event, far_deadline()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(h.status.get_now(BUCKET, key), None);
    assert!(h.publisher.accepted().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_corrected_upload_deletes_the_old_rejects_report() {
    let key = "ledgers/day.jsonl";
    let rejects_key = "rejects/day.jsonl.jsonl";
    let h = handler();
    store_version(&h, key, vectors::ALL[4].ledger.as_bytes(), "v1", "e1");
    h.handle(
        versioned_event(key, "v1", "e1", Some(OLDER_SEQ)),
        far_deadline(),
    )
    .await
    .unwrap();
    assert!(report(&h, rejects_key).is_some());
    // The corrected version: no line refused.
    store_version(&h, key, vectors::ALL[0].ledger.as_bytes(), "v2", "e2");
    h.handle(
        versioned_event(key, "v2", "e2", Some(NEWER_SEQ)),
        far_deadline(),
    )
    .await
    .unwrap();
    assert_eq!(report(&h, rejects_key), None, "the old report is gone");
    let status = h.status.get_now(BUCKET, key).unwrap();
    assert_eq!(
        (status.state, status.refused, status.rejects_key),
        (State::Done, 0, None)
    );
    // Redelivered with its report already deleted: deleting it again is fine.
    store_version(&h, key, vectors::ALL[0].ledger.as_bytes(), "v3", "e3");
    h.handle(
        versioned_event(key, "v3", "e3", Some("0055AED6DCD9028300")),
        far_deadline(),
    )
    .await
    .unwrap();
    assert_eq!(h.status.get_now(BUCKET, key).unwrap().state, State::Done);
    assert_eq!(h.rejects.deleted.lock().unwrap().len(), 2);
}
