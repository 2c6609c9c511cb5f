//! The DynamoDB API of the test command's emulator (feature `testing`): a client from the
//! environment and fresh tables, one per test, so tests run side by side on one emulator.
//!
//! A test that needs it fails — never passes silently — when `AWS_ENDPOINT_URL` is unset.

use crate::keys::{PK, SK, WAITING_INDEX, WAITING_PROJECTION, WAITING_SHARD, WAITING_SINCE};
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use convoy_core::{chain, BoxError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How to get an emulator, for failure messages.
pub const HOW: &str = "this test needs a DynamoDB API: run `bash infra/test.sh` (it starts \
LocalStack and exports AWS_ENDPOINT_URL=http://127.0.0.1:4566 with test credentials), or \
export AWS_ENDPOINT_URL, AWS_REGION and credentials for DynamoDB Local yourself";

/// A client for the endpoint in `AWS_ENDPOINT_URL`; panics saying how to start the
/// emulator when that is unset.
pub async fn client() -> Client {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => {}
        _ => panic!("AWS_ENDPOINT_URL is unset; {HOW}"),
    }
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Client::new(&config)
}

/// A table name no other test uses: `<prefix>-<pid>-<nanos>-<n>`.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{n}", std::process::id())
}

/// Creates a fresh table with string keys `pk` and `sk` and the waiting index (the layout
/// of [`crate`], as `template.yaml` declares it) named after `prefix`, waits until it is
/// active and returns its name.
pub async fn create_table(client: &Client, prefix: &str) -> String {
    let name = unique_name(prefix);
    if let Err(e) = try_create_table(client, &name).await {
        panic!("creating table {name}: {}; {HOW}", chain(&*e));
    }
    name
}

async fn try_create_table(client: &Client, name: &str) -> Result<(), BoxError> {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let number = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::N)
            .build()
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
    };
    client
        .create_table()
        .table_name(name)
        .attribute_definitions(attr(PK)?)
        .attribute_definitions(attr(SK)?)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .attribute_definitions(attr(WAITING_SHARD)?)
        .attribute_definitions(number(WAITING_SINCE)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(WAITING_INDEX)
                .key_schema(key(WAITING_SHARD, KeyType::Hash)?)
                .key_schema(key(WAITING_SINCE, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .set_non_key_attributes(Some(
                            WAITING_PROJECTION.iter().map(|a| a.to_string()).collect(),
                        ))
                        .build(),
                )
                .build()?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await?;
    client
        .wait_until_table_exists()
        .table_name(name)
        .wait(Duration::from_secs(60))
        .await?;
    Ok(())
}

/// Deletes a table made by [`create_table`].
pub async fn delete_table(client: &Client, name: &str) {
    if let Err(e) = client.delete_table().table_name(name).send().await {
        panic!("deleting table {name}: {}", chain(&e));
    }
}
