//! LocalStack's readiness: its health endpoint, waiting until the wanted services are up,
//! and a DynamoDB round trip that fails fast when DynamoDB Local is not usable.

use crate::stack::Emulator;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, TransactWriteItem, Update,
};
use convoy_core::BoxError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum LocalStackError {
    #[error("LocalStack not healthy after {waited:?} at {url}: {last}")]
    NotHealthy {
        waited: Duration,
        url: String,
        last: String,
    },
    #[error("LocalStack (pid {0}) exited during start-up")]
    Exited(u32),
    #[error("the DynamoDB round trip failed: {what}")]
    Smoke {
        what: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("the DynamoDB round trip took longer than {0:?}")]
    SmokeTimeout(Duration),
    #[error("the DynamoDB round trip found {0} items, not 2")]
    SmokeCount(i32),
}

/// The body of `/_localstack/health`: each service's state.
#[derive(Debug, Deserialize)]
struct Health {
    #[serde(default)]
    services: BTreeMap<String, String>,
}

/// The wanted services the health body does not report `available` or `running`
/// (all of them when the body is not LocalStack's health JSON).
pub fn not_ready<'a>(body: &str, wanted: &[&'a str]) -> Vec<&'a str> {
    let services = serde_json::from_str::<Health>(body)
        .map(|h| h.services)
        .unwrap_or_default();
    wanted
        .iter()
        .copied()
        .filter(|s| {
            !matches!(
                services.get(*s).map(String::as_str),
                Some("available" | "running")
            )
        })
        .collect()
}

/// What one look at the health endpoint found: `Ok` when every wanted service is up.
async fn check(client: &reqwest::Client, url: &str, wanted: &[&str]) -> Result<(), String> {
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let body = response.text().await.map_err(|e| e.to_string())?;
    match not_ready(&body, wanted).as_slice() {
        [] => Ok(()),
        missing => Err(format!("not ready: {}", missing.join(", "))),
    }
}

/// Waits (at most `wait`; zero: one look) until LocalStack reports every wanted service up.
/// With `pid`, fails as soon as that process is gone.
pub async fn wait_healthy(
    emulator: &Emulator,
    wanted: &[&str],
    wait: Duration,
    pid: Option<u32>,
) -> Result<Duration, LocalStackError> {
    let url = format!(
        "{}/_localstack/health",
        emulator.endpoint_url.trim_end_matches('/')
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| LocalStackError::NotHealthy {
            waited: Duration::ZERO,
            url: url.clone(),
            last: e.to_string(),
        })?;
    let started = Instant::now();
    loop {
        let last = match check(&client, &url, wanted).await {
            Ok(()) => return Ok(started.elapsed()),
            Err(last) => last,
        };
        if let Some(pid) = pid.filter(|p| !process_alive(*p)) {
            return Err(LocalStackError::Exited(pid));
        }
        if started.elapsed() >= wait {
            return Err(LocalStackError::NotHealthy {
                waited: started.elapsed(),
                url,
                last,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Whether process `pid` runs (exists and is not a zombie), from `/proc/<pid>/stat`.
pub fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat_alive(&stat))
        .unwrap_or(false)
}

/// The state in a `/proc/<pid>/stat` line (`pid (comm) S …`; comm may hold `)`) is not
/// zombie or dead.
fn stat_alive(stat: &str) -> bool {
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| !matches!(state, "Z" | "X" | "x"))
}

/// A DynamoDB round trip like the consumer's (create a table, conditional put,
/// TransactWriteItems, query, delete), within `limit`. Its duration.
pub async fn dynamodb_smoke(
    emulator: &Emulator,
    limit: Duration,
) -> Result<Duration, LocalStackError> {
    let ddb = aws_sdk_dynamodb::Client::new(&emulator.sdk_config().await);
    let name = format!(
        "convoy-smoke-{:08x}",
        fastrand::u32(..) ^ std::process::id()
    );
    let started = Instant::now();
    let round_trip = async {
        smoke_create(&ddb, &name).await?;
        let used = smoke_use(&ddb, &name).await;
        let deleted = ddb.delete_table().table_name(&name).send().await;
        let count = used?;
        deleted.map_err(smoke("DeleteTable"))?;
        match count {
            2 => Ok(()),
            n => Err(LocalStackError::SmokeCount(n)),
        }
    };
    tokio::time::timeout(limit, round_trip)
        .await
        .map_err(|_| LocalStackError::SmokeTimeout(limit))??;
    Ok(started.elapsed())
}

fn smoke<E: std::error::Error + Send + Sync + 'static>(
    what: &'static str,
) -> impl FnOnce(E) -> LocalStackError {
    move |e| LocalStackError::Smoke {
        what,
        source: Box::new(e),
    }
}

fn build<T>(
    what: &'static str,
    built: Result<T, aws_sdk_dynamodb::error::BuildError>,
) -> Result<T, LocalStackError> {
    built.map_err(smoke(what))
}

async fn smoke_create(ddb: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), LocalStackError> {
    let attribute = |n: &str| {
        build(
            "an attribute definition",
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build(),
        )
    };
    let key = |n: &str, t: KeyType| {
        build(
            "a key schema element",
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(t)
                .build(),
        )
    };
    ddb.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .send()
        .await
        .map_err(smoke("CreateTable"))?;
    Ok(())
}

/// The conditional writes and the query; the number of items found.
async fn smoke_use(ddb: &aws_sdk_dynamodb::Client, name: &str) -> Result<i32, LocalStackError> {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    ddb.put_item()
        .table_name(name)
        .item("pk", s("a"))
        .item("sk", s("1"))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .map_err(smoke("PutItem"))?;
    let put = build(
        "a Put",
        Put::builder()
            .table_name(name)
            .item("pk", s("a"))
            .item("sk", s("2"))
            .build(),
    )?;
    let update = build(
        "an Update",
        Update::builder()
            .table_name(name)
            .key("pk", s("a"))
            .key("sk", s("1"))
            .update_expression("SET n = :n")
            .expression_attribute_values(":n", AttributeValue::N("1".into()))
            .build(),
    )?;
    ddb.transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put).build())
        .transact_items(TransactWriteItem::builder().update(update).build())
        .send()
        .await
        .map_err(smoke("TransactWriteItems"))?;
    let found = ddb
        .query()
        .table_name(name)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("a"))
        .consistent_read(true)
        .send()
        .await
        .map_err(smoke("Query"))?;
    Ok(found.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WANTED: [&str; 3] = ["s3", "sqs", "dynamodb"];

    #[test]
    fn every_wanted_service_available_or_running() {
        let body = r#"{"services": {"s3": "running", "sqs": "available", "dynamodb": "running",
            "lambda": "disabled"}, "edition": "community", "version": "4.0.0"}"#;
        assert!(not_ready(body, &WANTED).is_empty());
    }

    #[test]
    fn services_not_up_are_named() {
        let body = r#"{"services": {"s3": "running", "sqs": "initializing"}}"#;
        assert_eq!(not_ready(body, &WANTED), ["sqs", "dynamodb"]);
    }

    #[test]
    fn a_body_that_is_not_health_json_is_not_ready() {
        assert_eq!(not_ready("<html>", &WANTED), WANTED);
        assert_eq!(not_ready("{}", &["s3"]), ["s3"]);
    }

    #[test]
    fn proc_stat_states() {
        assert!(stat_alive("4242 (python) S 1 4242 4242 0 -1"));
        assert!(stat_alive("7 (a) b) R 1 7"));
        assert!(!stat_alive("4242 (python) Z 1 4242"));
        assert!(!stat_alive("garbage"));
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(u32::MAX));
    }
}
