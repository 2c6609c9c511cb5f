//! The handler against a real DynamoDB API: the emulator of the test command
//! (`bash infra/test.sh` starts LocalStack and exports `AWS_ENDPOINT_URL`), DynamoDB Local
//! or AWS. Without `AWS_ENDPOINT_URL` the test fails saying so. It makes its own table and
//! deletes it at the end.
#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

#[path = "../src/tests/events.rs"]
mod events;

use consumer::handle;
use convoy_store::{emulator, DynamoOrderStore, MemoryOrderStore};
use events::{event_of, fixture, views, NoResume};

/// A deadline no test reaches.
fn later() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(3600)
}

#[tokio::test]
async fn fixtures_end_the_same_in_dynamodb_as_in_memory() {
    let client = emulator::client().await;
    let table = emulator::create_table(&client, "convoy-consumer-live").await;
    let live = DynamoOrderStore::new(client.clone(), &table);
    let memory = MemoryOrderStore::new();
    for name in [
        "mixed_groups",
        "parked_first",
        "gap_closed",
        "poison",
        "mixed_groups",
    ] {
        let a = handle(&live, &NoResume, fixture(name), later())
            .await
            .unwrap();
        let b = handle(&memory, &NoResume, fixture(name), later())
            .await
            .unwrap();
        assert_eq!(a, b, "{name}");
    }
    assert_eq!(views(&live).await, views(&memory).await);

    // A drain of 150 parked transactions: four full transactions in a row.
    let body = |s: u64| match s {
        1 => r#"{"order_id":"D-1","seq":1,"op":"create","currency":"EUR"}"#.to_owned(),
        s => format!(r#"{{"order_id":"D-1","seq":{s},"op":"add","txn_id":"t{s}","amount":"1"}}"#),
    };
    let seqs: Vec<u64> = (2..=151).collect();
    for chunk in seqs.chunks(10) {
        let records: Vec<_> = chunk.iter().map(|s| ("D-1".to_owned(), body(*s))).collect();
        assert!(handle(&live, &NoResume, event_of(&records), later())
            .await
            .unwrap()
            .batch_item_failures
            .is_empty());
    }
    let last = event_of(&[("D-1".to_owned(), body(1))]);
    assert!(handle(&live, &NoResume, last, later())
        .await
        .unwrap()
        .batch_item_failures
        .is_empty());
    let v = serde_json::json!(views(&live).await);
    assert_eq!(v["D-1"]["next_seq"], 152);
    assert_eq!(v["D-1"]["total"], "150.00");
    assert_eq!(v["D-1"]["parked"], serde_json::json!([]));

    emulator::delete_table(&client, &table).await;
}
