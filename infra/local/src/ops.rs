//! The operator's commands of `convoy`: a deployed stack — on AWS, or on the emulator at
//! `AWS_ENDPOINT_URL` (or `--local`) — found from its CloudFormation outputs.
//!
//! - [`upload`]: ledgers into `ledgers/` (multipart when large), followed to their status.
//! - [`ledgers`]: ledger status records and rejects reports.
//! - [`orders`]: orders, their history, stalled ones, voiding a seq.
//! - [`dlq`]: both dead-letter queues: list, show, redrive.
//! - [`batches`]: the cutoff batches (`batches/<window>.jsonl`): list, show, run.

pub mod batches;
pub mod dlq;
pub mod ledgers;
pub mod orders;
pub mod upload;

use crate::stack::{Emulator, Stack, StackError};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sts::config::ProvideCredentials;
use convoy_core::BoxError;

/// The stack a command works on, and how to reach it.
pub struct Target {
    pub sdk: SdkConfig,
    pub stack: Stack,
}

/// Why a command failed. Each says what is missing or wrong and what to do; the causes
/// follow it (never an SDK's debug dump).
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(
        "no AWS region: set AWS_REGION or a profile's region (AWS_PROFILE), or use --local for the emulator"
    )]
    NoRegion,
    #[error(
        "no AWS credentials: configure them (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or use --local for the emulator"
    )]
    NoCredentials(#[source] BoxError),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error("{what} failed")]
    Call {
        what: String,
        #[source]
        source: BoxError,
    },
    #[error("no ledger {key} in bucket {bucket}")]
    NoLedger { bucket: String, key: String },
    #[error("no order {order_id} in table {table}")]
    NoOrder { order_id: String, table: String },
    #[error("{path}: {why}")]
    File { path: String, why: String },
    #[error("reading {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid {what}")]
    Argument {
        what: &'static str,
        #[source]
        source: convoy_core::FieldError,
    },
    #[error("the ledger {key} ended {state}{}", .error.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    LedgerEnded {
        key: String,
        state: String,
        error: Option<String>,
    },
    #[error("still processing after {seconds} s: {keys} (follow it with convoy ledger status)")]
    StillProcessing { seconds: u64, keys: String },
    #[error(transparent)]
    DeadLetter(#[from] crate::deadletter::DeadLetterError),
    #[error(transparent)]
    Watchdog(#[from] watchdog::WatchError),
    #[error(transparent)]
    Void(#[from] Box<consumer::void::VoidError>),
    #[error("incomplete: {0}")]
    Incomplete(String),
    #[error("no message {message_id} in the {queue} dead-letter queue")]
    NoMessage { queue: String, message_id: String },
    #[error("writing the output")]
    Write(#[from] std::io::Error),
}

impl OpsError {
    /// The process's exit code: 3 when a wait ran out while a ledger still processes, 1
    /// for everything else (2, usage errors, is clap's).
    pub fn exit_code(&self) -> u8 {
        match self {
            OpsError::StillProcessing { .. } => 3,
            _ => 1,
        }
    }
}

/// The most objects a listing shows (`ledger list`, `batch list`): one ListObjectsV2 page.
pub const MAX_LISTED: usize = 1_000;

/// The stack's bucket's objects under `prefix`, at most [`MAX_LISTED`] in S3's key order;
/// past that it says so on stderr, naming them `what` (`ledgers`, `batches`).
pub async fn list_objects(
    target: &Target,
    prefix: &str,
    what: &str,
) -> Result<Vec<aws_sdk_s3::types::Object>, OpsError> {
    let bucket = &target.stack.bucket;
    let mut pages = target
        .s3()
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut objects = Vec::new();
    while objects.len() <= MAX_LISTED {
        let Some(page) = pages
            .try_next()
            .await
            .map_err(call(format!("listing s3://{bucket}/{prefix}")))?
        else {
            break;
        };
        objects.extend(page.contents().iter().cloned());
    }
    if objects.len() > MAX_LISTED {
        objects.truncate(MAX_LISTED);
        eprintln!(
            "convoy: the first {MAX_LISTED} {what} under {prefix} are listed; --prefix narrows it"
        );
    }
    Ok(objects)
}

/// A failed call's error, named by what it did.
pub fn call<E: std::error::Error + Send + Sync + 'static>(
    what: impl Into<String>,
) -> impl FnOnce(E) -> OpsError {
    let what = what.into();
    move |e| OpsError::Call {
        what,
        source: Box::new(e),
    }
}

impl Target {
    /// Finds stack `name`: on the emulator with dummy credentials when `local`, else where
    /// the environment's AWS configuration points (`AWS_PROFILE`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, …). Fails first on a missing region or missing credentials.
    pub async fn connect(name: &str, local: bool) -> Result<Target, OpsError> {
        let sdk = if local {
            Emulator::from_env().sdk_config().await
        } else {
            aws_config::defaults(BehaviorVersion::latest()).load().await
        };
        if sdk.region().is_none() {
            return Err(OpsError::NoRegion);
        }
        let provider = sdk
            .credentials_provider()
            .ok_or_else(|| OpsError::NoCredentials("no credentials provider".into()))?;
        provider
            .provide_credentials()
            .await
            .map_err(|e| OpsError::NoCredentials(Box::new(e)))?;
        let stack = Stack::describe(&sdk, name).await?;
        Ok(Target { sdk, stack })
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        ledger::aws::s3_client(&self.sdk)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    pub fn orders(&self) -> convoy_store::DynamoOrderStore {
        convoy_store::DynamoOrderStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            self.stack.table_name.clone(),
        )
    }
}

/// A ledger's key: `ledgers/` prepended unless it is there.
pub fn ledger_key(key: &str) -> String {
    if key.starts_with(ledger::notification::LEDGERS_PREFIX) {
        key.to_owned()
    } else {
        format!("{}{key}", ledger::notification::LEDGERS_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_under_ledgers() {
        assert_eq!(ledger_key("a.jsonl"), "ledgers/a.jsonl");
        assert_eq!(ledger_key("ledgers/a.jsonl"), "ledgers/a.jsonl");
        assert_eq!(ledger_key("2026/a.csv"), "ledgers/2026/a.csv");
    }

    #[test]
    fn exit_codes() {
        let still = OpsError::StillProcessing {
            seconds: 5,
            keys: "ledgers/a.jsonl".into(),
        };
        assert_eq!(still.exit_code(), 3);
        assert_eq!(OpsError::NoRegion.exit_code(), 1);
        let ended = OpsError::LedgerEnded {
            key: "ledgers/a.txt".into(),
            state: "unsupported".into(),
            error: Some("not a ledger".into()),
        };
        assert_eq!(
            ended.to_string(),
            "the ledger ledgers/a.txt ended unsupported: not a ledger"
        );
    }
}
