//! `convoy ledger list | status KEY | rejects KEY`: what became of uploaded ledgers.

use super::{call, ledger_key, OpsError, Target};
use crate::output::{or_dash, Output};
use futures::{StreamExt, TryStreamExt};
use ledger::LedgerStatus;

pub use super::MAX_LISTED;

/// A ledger object and its status record (`None` before its notification was handled).
#[derive(Debug, serde::Serialize)]
pub struct Listed {
    pub key: String,
    pub size: Option<i64>,
    pub last_modified: Option<String>,
    pub status: Option<LedgerStatus>,
}

/// Every ledger under `ledgers/` (at most [`MAX_LISTED`]) with its status record: one
/// ListObjectsV2 page per 1,000 keys and a GetItem per ledger, never a table scan.
pub async fn list(target: &Target, prefix: &str, out: &mut Output<'_>) -> Result<(), OpsError> {
    let prefix = ledger_key(prefix);
    let objects = super::list_objects(target, &prefix, "ledgers").await?;
    let listed: Vec<Listed> = futures::stream::iter(objects)
        .map(|o| async move {
            let key = o.key().unwrap_or_default().to_owned();
            let status = status_of(target, &key).await?;
            Ok::<_, OpsError>(Listed {
                size: o.size(),
                last_modified: o.last_modified().map(|t| t.to_string()),
                status,
                key,
            })
        })
        .buffered(16)
        .try_collect()
        .await?;
    if out.json() {
        for l in &listed {
            out.line(l)?;
        }
        return Ok(());
    }
    out.table(
        &[
            "ledger", "bytes", "state", "lines", "sent", "refused", "cont.", "updated",
        ],
        listed.iter().map(|l| {
            let s = l.status.as_ref();
            vec![
                l.key.clone(),
                or_dash(l.size),
                or_dash(s.map(|s| s.state)),
                or_dash(s.map(|s| s.lines_read)),
                or_dash(s.map(|s| s.sent)),
                or_dash(s.map(|s| s.refused)),
                or_dash(s.map(|s| s.continuations)),
                or_dash(s.map(|s| s.updated_at.clone())),
            ]
        }),
    )?;
    Ok(())
}

async fn status_of(target: &Target, key: &str) -> Result<Option<LedgerStatus>, OpsError> {
    let stack = &target.stack;
    ledger::get_status(&target.sdk, &stack.table_name, &stack.bucket, key)
        .await
        .map_err(call(format!("reading the status of {key}")))
}

/// The status record of ledger `key`; a ledger without one is named as missing when the
/// object is missing too.
pub async fn status(target: &Target, key: &str) -> Result<LedgerStatus, OpsError> {
    let key = ledger_key(key);
    match status_of(target, &key).await? {
        Some(status) => Ok(status),
        None => {
            let bucket = &target.stack.bucket;
            let head = target
                .s3()
                .head_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await;
            match head {
                Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
                    Err(OpsError::NoLedger {
                        bucket: bucket.clone(),
                        key,
                    })
                }
                Err(e) => Err(call(format!("HeadObject s3://{bucket}/{key}"))(e)),
                Ok(_) => Err(OpsError::File {
                    path: format!("s3://{bucket}/{key}"),
                    why: "uploaded, but no status yet: its notification waits in the ledger queue (or its dead-letter queue: convoy dlq list --queue ledger)".into(),
                }),
            }
        }
    }
}

/// Prints a status record: every field, or one JSON line.
pub fn print_status(status: &LedgerStatus, out: &mut Output<'_>) -> Result<(), OpsError> {
    if out.json() {
        out.line(status)?;
        return Ok(());
    }
    let checkpoint = status.checkpoint.map(|c| {
        format!(
            "line {} ({} sent, {} refused)",
            c.settled.line, c.sent, c.refused
        )
    });
    out.fields(&[
        ("ledger", format!("s3://{}/{}", status.bucket, status.key)),
        ("version", or_dash(status.version_id.as_ref())),
        ("bytes", or_dash(status.size)),
        ("state", status.state.to_string()),
        ("lines read", status.lines_read.to_string()),
        ("sent", status.sent.to_string()),
        ("refused", status.refused.to_string()),
        ("rejects report", or_dash(status.rejects_key.as_ref())),
        ("rejects truncated", status.rejects_truncated.to_string()),
        ("continuations", status.continuations.to_string()),
        ("checkpoint", or_dash(checkpoint)),
        ("error", or_dash(status.error.as_ref())),
        ("started", status.started_at.clone()),
        ("updated", status.updated_at.clone()),
    ])?;
    Ok(())
}

/// The rejects report of ledger `key`, a line per refused line (none when nothing was
/// refused, or while the ledger still processes: the report is written at its end).
pub async fn rejects(target: &Target, key: &str, out: &mut Output<'_>) -> Result<(), OpsError> {
    let status = status(target, key).await?;
    let Some(report) = status.rejects_key.as_deref() else {
        if !out.json() {
            out.text(&format!(
                "no rejects report: {} lines refused, state {}",
                status.refused, status.state
            ))?;
        }
        return Ok(());
    };
    let bucket = &target.stack.bucket;
    let object = target
        .s3()
        .get_object()
        .bucket(bucket)
        .key(report)
        .send()
        .await
        .map_err(call(format!("GetObject s3://{bucket}/{report}")))?;
    let bytes = object
        .body
        .collect()
        .await
        .map_err(call(format!("reading s3://{bucket}/{report}")))?
        .into_bytes();
    let text = String::from_utf8_lossy(&bytes);
    let lines = text.lines().filter(|l| !l.is_empty());
    if out.json() {
        for line in lines {
            out.text(line)?;
        }
        return Ok(());
    }
    let field = |v: &serde_json::Value, name: &str| match &v[name] {
        serde_json::Value::Null => "-".to_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = lines
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
            vec![
                field(&v, "line"),
                field(&v, "field"),
                field(&v, "reason"),
                field(&v, "text"),
            ]
        })
        .collect();
    let listed = rows.len();
    out.table(&["line", "field", "reason", "text"], rows)?;
    if status.rejects_truncated {
        out.text(&format!(
            "(the report lists the first {listed} of {} refused lines)",
            status.refused
        ))?;
    }
    Ok(())
}
