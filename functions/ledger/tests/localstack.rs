//! The AWS adapters against an emulator (LocalStack): the handler built with
//! `ledger::build_handler` on throwaway resources of its own (bucket, FIFO queue, table),
//! named uniquely, so they run beside the end-to-end tests on the same emulator.
//!
//! They need the emulator: `bash infra/test.sh` starts it and runs them with its
//! environment (`AWS_ENDPOINT_URL=http://127.0.0.1:4566`, `AWS_REGION=us-east-1`,
//! `AWS_ACCESS_KEY_ID=test`, `AWS_SECRET_ACCESS_KEY=test`). Without `AWS_ENDPOINT_URL` they
//! fail, saying so: they never run against real AWS, nor pass without running.

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

use aws_config::{BehaviorVersion, SdkConfig};
use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use ledger::aws::DynamoStatusStore;
use ledger::notification::{normalize_sequencer, ObjectRef};
use ledger::status::Guard;
use ledger::{Config, LedgerStatus, PutOutcome, State, StatusStore};
use std::time::Duration;

const PUT: &str = include_str!("../src/fixtures/sqs-s3-put.json");

/// The edge-case conformance vector, uploaded as the ledger.
fn v5() -> &'static convoy_core::vectors::Vector {
    convoy_core::vectors::get("v5-edges.jsonl").unwrap()
}

/// The put-notification fixture, announcing `bucket`/`key` (already URL-encoded) with `etag`.
fn put_event(bucket: &str, encoded_key: &str, etag: &str) -> SqsEvent {
    let mut sqs: serde_json::Value = serde_json::from_str(PUT).unwrap();
    let body = sqs["Records"][0]["body"].as_str().unwrap();
    let mut s3: serde_json::Value = serde_json::from_str(body).unwrap();
    s3["Records"][0]["s3"]["bucket"]["name"] = bucket.into();
    let object = &mut s3["Records"][0]["s3"]["object"];
    object["key"] = encoded_key.into();
    object["eTag"] = etag.into();
    object.as_object_mut().unwrap().remove("versionId");
    sqs["Records"][0]["body"] = s3.to_string().into();
    serde_json::from_value(sqs).unwrap()
}

#[tokio::test]
async fn the_aws_adapters_stream_send_report_and_record_status() {
    let sdk = emulator().await;
    let s3 = ledger::aws::s3_client(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let name = unique_name();

    s3.create_bucket().bucket(&name).send().await.unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("{name}.fifo"))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(
            QueueAttributeName::MaximumMessageSize,
            ledger::message::QUEUE_MAX_MESSAGE_BYTES.to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    create_status_table(&ddb, &name).await;

    let key = "ledgers/it run/a+b €.jsonl";
    let etag = s3
        .put_object()
        .bucket(&name)
        .key(key)
        .body(ByteStream::from_static(v5().ledger.as_bytes()))
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap();
    let config = Config {
        transactions_queue_url: queue_url.clone(),
        table_name: name.clone(),
        // Never used: the ledger is far shorter than an invocation (no continuation).
        ledger_queue_url: format!("{queue_url}-no-continuations"),
    };
    let handler = ledger::build_handler(&sdk, &config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let encoded = "ledgers/it+run/a%2Bb+%E2%82%AC.jsonl";

    // A notification for another ETag (a replaced object) is dropped without a trace.
    let stale = put_event(&name, encoded, "0123456789abcdef0123456789abcdef");
    let response = handler.handle(stale, deadline).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let status = ledger::get_status(&sdk, &name, &name, key).await.unwrap();
    assert_eq!(status, None);

    let event = put_event(&name, encoded, etag.trim_matches('"'));
    let response = handler.handle(event, deadline).await.unwrap();
    assert!(response.batch_item_failures.is_empty());

    let status = ledger::get_status(&sdk, &name, &name, key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.state, State::Done, "{status:?}");
    assert_eq!(
        (status.lines_read, status.sent, status.refused),
        (19, 13, 4)
    );
    let rejects_key = "rejects/it run/a+b €.jsonl.jsonl";
    assert_eq!(status.rejects_key.as_deref(), Some(rejects_key));

    let report = s3
        .get_object()
        .bucket(&name)
        .key(rejects_key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let lines: Vec<u64> = String::from_utf8(report.to_vec())
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["line"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(lines, vec![8, 15, 16, 17]);

    let mut received = Vec::new();
    for _ in 0..20 {
        let out = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in out.messages() {
            let attrs = m.message_attributes().unwrap();
            assert_eq!(attrs["ledger"].string_value(), Some(key));
            let line: u64 = attrs["line"].string_value().unwrap().parse().unwrap();
            let txn: convoy_core::Transaction = serde_json::from_str(m.body().unwrap()).unwrap();
            received.push((line, txn));
            sqs.delete_message()
                .queue_url(&queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        // 13 sent; identical transactions (same order, seq and content) deduplicate in SQS.
        if received.len() >= 11 {
            break;
        }
    }
    received.sort_by_key(|(line, _)| *line);
    let got: Vec<u64> = received.iter().map(|(l, _)| *l).collect();
    assert_eq!(
        got,
        vec![1, 3, 5, 6, 9, 10, 11, 12, 13, 18, 19],
        "{received:?}"
    );

    // Redelivery of a done ledger: skipped.
    let again = put_event(&name, encoded, etag.trim_matches('"'));
    handler.handle(again, deadline).await.unwrap();
    let after = ledger::get_status(&sdk, &name, &name, key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.updated_at, status.updated_at);

    for k in [key, rejects_key] {
        s3.delete_object()
            .bucket(&name)
            .key(k)
            .send()
            .await
            .unwrap();
    }
    s3.delete_bucket().bucket(&name).send().await.unwrap();
    sqs.delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();
    ddb.delete_table().table_name(&name).send().await.unwrap();
}

#[tokio::test]
async fn status_writes_of_an_older_version_are_refused() {
    let sdk = emulator().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let name = unique_name();
    create_status_table(&ddb, &name).await;
    let store = DynamoStatusStore::new(ddb.clone(), name.clone());
    let status = |version: &str, sequencer: Option<&str>| {
        let object = ObjectRef {
            bucket: "b".into(),
            key: "ledgers/k.jsonl".into(),
            version_id: Some(version.into()),
            etag: None,
            size: None,
            sequencer: sequencer.map(|s| normalize_sequencer(s).unwrap()),
        };
        LedgerStatus::start(&object, State::Processing)
    };
    let get = || async { store.get("b", "ledgers/k.jsonl").await.unwrap().unwrap() };

    // "FF" < "100" once padded, though not as raw strings.
    let newer = status("v-new", Some("100"));
    let older = status("v-old", Some("ff"));
    assert_eq!(
        store.put(&newer, Guard::Any).await.unwrap(),
        PutOutcome::Written
    );
    assert_eq!(
        store.put(&older, Guard::Any).await.unwrap(),
        PutOutcome::Superseded {
            current: newer.sequencer.clone()
        }
    );
    assert_eq!(get().await, newer);
    let mut again = newer.clone();
    again.state = State::Done;
    assert_eq!(
        store.put(&again, Guard::Any).await.unwrap(),
        PutOutcome::Written,
        "same version"
    );
    assert_eq!(get().await, again);
    // Without a sequencer: unconditional; a record without one is replaced by any.
    let unordered = status("v-x", None);
    assert_eq!(
        store.put(&unordered, Guard::Any).await.unwrap(),
        PutOutcome::Written
    );
    assert_eq!(get().await, unordered);
    assert_eq!(
        store.put(&older, Guard::Any).await.unwrap(),
        PutOutcome::Written
    );
    assert_eq!(get().await, older);

    // Runs of one version: a write under a guard lands only over the guard's owner.
    let run = |owner: &str| {
        let mut st = status("v-run", Some("200"));
        st.owner = Some(owner.into());
        st
    };
    let (m1, m2) = (run("m1"), run("m2"));
    assert_eq!(
        store.put(&m1, Guard::Owner(Some("nobody"))).await.unwrap(),
        PutOutcome::Written,
        "over an older version"
    );
    assert_eq!(
        store.put(&m1, Guard::Owner(Some("m1"))).await.unwrap(),
        PutOutcome::Written,
        "as the owner"
    );
    assert!(
        matches!(store.put(&m2, Guard::Owner(None)).await.unwrap(), PutOutcome::Taken { current } if current.owner.as_deref() == Some("m1")),
        "a claim from a stale owner"
    );
    assert_eq!(
        store.put(&m2, Guard::Owner(Some("m1"))).await.unwrap(),
        PutOutcome::Written,
        "a takeover"
    );
    assert!(
        matches!(store.put(&m1, Guard::Owner(Some("m1"))).await.unwrap(), PutOutcome::Taken { current } if current.owner.as_deref() == Some("m2")),
        "the old owner's next write"
    );
    assert_eq!(get().await, m2);
    assert!(
        matches!(
            store.put(&older, Guard::Owner(Some("m2"))).await.unwrap(),
            PutOutcome::Superseded { .. }
        ),
        "an older version, even as the owner"
    );

    ddb.delete_table().table_name(&name).send().await.unwrap();
}

/// The SDK configuration of the emulator named by `AWS_ENDPOINT_URL`; without one the test
/// fails (it must not reach real AWS, nor pass without having run).
async fn emulator() -> SdkConfig {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(endpoint) if !endpoint.trim().is_empty() => {}
        _ => panic!(
            "this test needs the emulator (LocalStack) and AWS_ENDPOINT_URL is not set: run \
             `bash infra/test.sh`, which starts LocalStack and sets AWS_ENDPOINT_URL, \
             AWS_REGION and the test credentials"
        ),
    }
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// A name for this test's own bucket, queue and table, unlike any other test's.
fn unique_name() -> String {
    format!("ledger-it-{}-{}", std::process::id(), fastrand::u32(..))
}

/// Creates the status table `name` (the template's key schema) and waits until it is active.
async fn create_status_table(ddb: &aws_sdk_dynamodb::Client, name: &str) {
    ddb.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .unwrap();
    for _ in 0..100 {
        let out = ddb.describe_table().table_name(name).send().await.unwrap();
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("table {name} did not become active within 10 s");
}

fn attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap()
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap()
}
