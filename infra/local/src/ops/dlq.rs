//! `convoy dlq list | show | redrive`: what waits in either dead-letter queue, why, and
//! sending it back.

use super::{OpsError, Target};
use crate::deadletter::{DeadLetter, DeadLetterQueue, Dlq, Kind};
use crate::output::{or_dash, Output};
use std::collections::HashMap;
use std::path::Path;

fn queue(target: &Target, which: Dlq) -> DeadLetterQueue {
    DeadLetterQueue::of(target.sqs(), &target.stack, which).with_failures(target.orders())
}

fn name(which: Dlq) -> &'static str {
    match which {
        Dlq::Transactions => "transactions",
        Dlq::Ledger => "ledger",
    }
}

/// What a dead letter is, in a few words.
fn what(letter: &DeadLetter) -> String {
    match &letter.kind {
        Kind::Transaction { order_id, seq } => format!("transaction {order_id} seq {seq}"),
        Kind::Resume { order_id, next_seq } => {
            format!("resume drain of {order_id} from seq {next_seq}")
        }
        Kind::Ledger { bucket, key } => format!("ledger s3://{bucket}/{key}"),
        Kind::Continuation {
            bucket,
            key,
            continuation,
        } => format!("continuation {continuation} of s3://{bucket}/{key}"),
        Kind::Unreadable => "unreadable (poison)".to_owned(),
    }
}

/// Every message waiting in the queue, in its order; nothing is taken. A FIFO queue shows
/// at most ten of a group at a time (it hands out a group's next messages only once those
/// before are deleted); `redrive` takes them all.
pub async fn list(target: &Target, which: Dlq, out: &mut Output<'_>) -> Result<(), OpsError> {
    let letters = queue(target, which).list().await?;
    if out.json() {
        for l in &letters {
            out.line(l)?;
        }
        return Ok(());
    }
    out.table(
        &["message", "group", "receives", "what", "last error"],
        letters.iter().map(|l| {
            vec![
                l.message_id.clone(),
                or_dash(l.group_id.as_ref()),
                l.receive_count.to_string(),
                what(l),
                or_dash(
                    l.last_error
                        .as_ref()
                        .map(|f| format!("{}: {}", f.disposition, f.error)),
                ),
            ]
        }),
    )?;
    Ok(())
}

/// One message, whole: its body and why it failed.
pub async fn show(
    target: &Target,
    which: Dlq,
    message_id: &str,
    out: &mut Output<'_>,
) -> Result<(), OpsError> {
    let letters = queue(target, which).list().await?;
    let letter = letters
        .iter()
        .find(|l| l.message_id == message_id)
        .ok_or_else(|| OpsError::NoMessage {
            queue: name(which).to_owned(),
            message_id: message_id.to_owned(),
        })?;
    if out.json() {
        out.line(letter)?;
        return Ok(());
    }
    let body = serde_json::from_str::<serde_json::Value>(&letter.body)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| letter.body.clone());
    let failure = letter.last_error.as_ref();
    out.fields(&[
        ("message", letter.message_id.clone()),
        ("queue", name(which).to_owned()),
        ("group", or_dash(letter.group_id.as_ref())),
        ("receives", letter.receive_count.to_string()),
        ("what", what(letter)),
        ("failed as", or_dash(failure.map(|f| f.disposition.clone()))),
        ("last error", or_dash(failure.map(|f| f.error.clone()))),
        ("failed at", or_dash(failure.map(|f| f.at.clone()))),
        ("body", body),
    ])?;
    Ok(())
}

/// Which messages to send back, and a corrected body for one of them.
#[derive(Debug, Default)]
pub struct Selection<'a> {
    pub group: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub body: Option<&'a Path>,
}

/// Sends the selected messages back to their source queue (each group's in order, with a
/// fresh deduplication id) and deletes them from the dead-letter queue.
pub async fn redrive(
    target: &Target,
    which: Dlq,
    selection: &Selection<'_>,
    out: &mut Output<'_>,
) -> Result<(), OpsError> {
    let mut corrections = HashMap::new();
    if let (Some(id), Some(path)) = (selection.message_id, selection.body) {
        let body = std::fs::read_to_string(path).map_err(|source| OpsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        corrections.insert(id.to_owned(), body.trim_end_matches('\n').to_owned());
    }
    let done = queue(target, which)
        .redrive(
            |l| {
                selection
                    .group
                    .is_none_or(|g| l.group_id.as_deref() == Some(g))
                    && selection.message_id.is_none_or(|m| l.message_id == m)
            },
            &corrections,
        )
        .await?;
    if let (Some(id), true) = (selection.message_id, done.sent.is_empty()) {
        return Err(OpsError::NoMessage {
            queue: name(which).to_owned(),
            message_id: id.to_owned(),
        });
    }
    if out.json() {
        out.line(&serde_json::json!({"sent": done.sent, "corrected": done.corrected}))?;
    } else {
        out.text(&format!(
            "sent back {} message(s) to the {} queue ({} with a corrected body)",
            done.sent.len(),
            name(which),
            done.corrected
        ))?;
    }
    Ok(())
}
