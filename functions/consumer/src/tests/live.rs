//! The handler against a real DynamoDB API (DynamoDB Local, LocalStack or AWS), ignored by
//! default: `AWS_ENDPOINT_URL=http://127.0.0.1:8000 AWS_REGION=us-east-1
//! AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x cargo test -p consumer live -- --ignored`.

use super::{event_of, fixture, views};
use crate::handle;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use convoy_store::{DynamoOrderStore, MemoryOrderStore};

async fn store() -> (Client, DynamoOrderStore) {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = Client::new(&config);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("convoy-consumer-live-{nanos}");
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(&name)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    (client.clone(), DynamoOrderStore::new(client, name))
}

#[tokio::test]
#[ignore = "needs a DynamoDB endpoint (AWS_ENDPOINT_URL)"]
async fn fixtures_end_the_same_in_dynamodb_as_in_memory() {
    let (client, live) = store().await;
    let memory = MemoryOrderStore::new();
    for name in [
        "mixed_groups",
        "parked_first",
        "gap_closed",
        "poison",
        "mixed_groups",
    ] {
        let a = handle(&live, fixture(name)).await;
        let b = handle(&memory, fixture(name)).await;
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
        assert!(handle(&live, event_of(&records))
            .await
            .batch_item_failures
            .is_empty());
    }
    let last = event_of(&[("D-1".to_owned(), body(1))]);
    assert!(handle(&live, last).await.batch_item_failures.is_empty());
    let v = serde_json::json!(views(&live).await);
    assert_eq!(v["D-1"]["next_seq"], 152);
    assert_eq!(v["D-1"]["total"], "150.00");
    assert_eq!(v["D-1"]["parked"], serde_json::json!([]));

    client
        .delete_table()
        .table_name(live.table())
        .send()
        .await
        .unwrap();
}
