//! The dead-letter queues, for an operator: list what waits there (what it is, its group,
//! how often it was received) and redrive it to its source queue, a body corrected if need
//! be, keeping each group's order.
//!
//! A FIFO dead-letter queue returns a group's messages in order and no more of a group while
//! one is in flight, so listing receives until nothing more comes, holding what it got
//! invisible, then makes it visible again. Redriving sends each chosen message to the source
//! queue in that order, in its own `MessageGroupId`, with a fresh deduplication id (the
//! original's would make SQS drop it silently within 5 minutes of the first send), and
//! deletes it from the dead-letter queue only once the send succeeded. A copy delivered twice
//! is harmless: the consumer's `seq` makes it a duplicate, the ledger's status a repeat.

use crate::stack::Stack;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use convoy_core::BoxError;
use ledger::notification::Notification;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;

/// SQS's largest message body, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The most messages one listing holds (an operator's view, not a bulk export).
pub const MAX_LISTED: usize = 1_000;
/// The most rounds one redrive makes (each up to [`MAX_LISTED`] messages).
pub const MAX_ROUNDS: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error("{action} on {queue} failed")]
    Sqs {
        action: &'static str,
        queue: String,
        #[source]
        source: BoxError,
    },
    #[error("the corrected body for message {message_id} is {bytes} bytes; SQS takes at most {MAX_BODY_BYTES}")]
    BodyTooLarge { message_id: String, bytes: usize },
    #[error("the corrected body for message {message_id} is empty")]
    EmptyBody { message_id: String },
    #[error("no message {0} in the dead-letter queue to correct")]
    NoSuchMessage(String),
    #[error("message {message_id} in the FIFO dead-letter queue has no MessageGroupId")]
    NoGroup { message_id: String },
    #[error("reading why the consumer failed a dead letter")]
    Failure(#[source] convoy_store::StoreError),
}

/// What a dead letter's body is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    /// A transaction of the ledger function's (contract section 1).
    Transaction { order_id: String, seq: u64 },
    /// The consumer's resume message: a drain cut off by its deadline.
    Resume { order_id: String, next_seq: u64 },
    /// An S3 notification of a ledger upload.
    Ledger { bucket: String, key: String },
    /// The ledger function's continuation: the rest of a ledger, from its checkpoint.
    Continuation {
        bucket: String,
        key: String,
        continuation: u64,
    },
    /// Anything else: not JSON, or not one of the above (a poison message).
    Unreadable,
}

impl Kind {
    /// Reads a body.
    pub fn of(body: &str) -> Kind {
        let Ok(v) = serde_json::from_str::<Value>(body) else {
            return Kind::Unreadable;
        };
        let text = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).map(str::to_owned);
        let num = |v: &Value, f: &str| v.get(f).and_then(Value::as_u64);
        if let Ok(Notification::Continuation(c)) = Notification::parse(Some(body)) {
            return Kind::Continuation {
                bucket: c.object.bucket,
                key: c.object.key,
                continuation: c.continuation,
            };
        }
        if let (Some(order_id), Some(next_seq)) = (text(&v, "resume_drain"), num(&v, "next_seq")) {
            return Kind::Resume { order_id, next_seq };
        }
        if let (Some(order_id), Some(seq)) = (text(&v, "order_id"), num(&v, "seq")) {
            return Kind::Transaction { order_id, seq };
        }
        let s3 = v
            .get("Records")
            .and_then(|r| r.get(0))
            .and_then(|r| r.get("s3"));
        if let Some(s3) = s3 {
            if let (Some(bucket), Some(key)) = (
                s3.get("bucket").and_then(|b| text(b, "name")),
                s3.get("object").and_then(|o| text(o, "key")),
            ) {
                return Kind::Ledger { bucket, key };
            }
        }
        Kind::Unreadable
    }
}

/// One message of a dead-letter queue, as listed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadLetter {
    pub message_id: String,
    #[serde(skip)]
    receipt_handle: String,
    pub group_id: Option<String>,
    pub receive_count: u64,
    #[serde(flatten)]
    pub kind: Kind,
    pub body: String,
    /// Why the consumer last failed it, as it kept it in the order's partition (none for a
    /// ledger's notification: its status record holds the ledger function's error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<convoy_store::Failure>,
}

/// Which dead-letter queue of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dlq {
    /// The transactions queue's (FIFO): transactions and resume messages.
    Transactions,
    /// The ledger queue's: S3 notifications of ledgers that failed.
    Ledger,
}

/// A dead-letter queue and the queue its messages came from.
#[derive(Debug, Clone)]
pub struct DeadLetterQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
    source_url: String,
    /// Where the consumer keeps why it failed a message, for [`DeadLetterQueue::list`].
    failures: Option<convoy_store::DynamoOrderStore>,
}

/// What a redrive did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Redriven {
    /// The message ids sent back to the source queue, in the order sent.
    pub sent: Vec<String>,
    /// Of them, those sent with a corrected body.
    pub corrected: usize,
}

impl DeadLetterQueue {
    pub fn new(sqs: aws_sdk_sqs::Client, url: String, source_url: String) -> Self {
        Self {
            sqs,
            url,
            source_url,
            failures: None,
        }
    }

    /// Lists each dead letter with why the consumer last failed it, read from `store`.
    pub fn with_failures(mut self, store: convoy_store::DynamoOrderStore) -> Self {
        self.failures = Some(store);
        self
    }

    /// The stack's dead-letter queue `which`, with its source queue.
    pub fn of(sqs: aws_sdk_sqs::Client, stack: &Stack, which: Dlq) -> Self {
        let (url, source_url) = match which {
            Dlq::Transactions => (&stack.transactions_dlq_url, &stack.transactions_queue_url),
            Dlq::Ledger => (&stack.ledger_dlq_url, &stack.ledger_queue_url),
        };
        Self::new(sqs, url.clone(), source_url.clone())
    }

    fn is_fifo(&self) -> bool {
        self.url.ends_with(".fifo")
    }

    fn err<E: std::error::Error + Send + Sync + 'static>(
        &self,
        action: &'static str,
    ) -> impl FnOnce(E) -> DeadLetterError + '_ {
        move |e| DeadLetterError::Sqs {
            action,
            queue: self.url.clone(),
            source: Box::new(e),
        }
    }

    /// Receives up to [`MAX_LISTED`] messages, in the queue's order, each held invisible for
    /// `hold`.
    async fn receive_all(&self, hold: Duration) -> Result<Vec<DeadLetter>, DeadLetterError> {
        let mut letters = Vec::new();
        while letters.len() < MAX_LISTED {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .visibility_timeout(i32::try_from(hold.as_secs()).unwrap_or(i32::MAX))
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .map_err(self.err("ReceiveMessage"))?;
            if out.messages().is_empty() {
                break;
            }
            for m in out.messages() {
                let attribute = |name: MessageSystemAttributeName| {
                    m.attributes().and_then(|a| a.get(&name)).cloned()
                };
                let body = m.body().unwrap_or_default().to_owned();
                letters.push(DeadLetter {
                    message_id: m.message_id().unwrap_or_default().to_owned(),
                    receipt_handle: m.receipt_handle().unwrap_or_default().to_owned(),
                    group_id: attribute(MessageSystemAttributeName::MessageGroupId),
                    receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0),
                    kind: Kind::of(&body),
                    body,
                    last_error: None,
                });
            }
        }
        Ok(letters)
    }

    /// Makes held messages visible again.
    async fn release(&self, letters: &[&DeadLetter]) -> Result<(), DeadLetterError> {
        for l in letters {
            self.sqs
                .change_message_visibility()
                .queue_url(&self.url)
                .receipt_handle(&l.receipt_handle)
                .visibility_timeout(0)
                .send()
                .await
                .map_err(self.err("ChangeMessageVisibility"))?;
        }
        Ok(())
    }

    /// What waits in the queue (at most [`MAX_LISTED`]), in its order; nothing is taken.
    pub async fn list(&self) -> Result<Vec<DeadLetter>, DeadLetterError> {
        let mut letters = self.receive_all(Duration::from_secs(60)).await?;
        self.release(&letters.iter().collect::<Vec<_>>()).await?;
        if let Some(store) = &self.failures {
            use convoy_store::OrderReader;
            for l in &mut letters {
                // A FIFO message's group is its order (a poison body may name none).
                let Some(id) = l
                    .group_id
                    .as_deref()
                    .and_then(|g| convoy_core::OrderId::parse(g).ok())
                else {
                    continue;
                };
                l.last_error = store
                    .last_failure(&id, &l.message_id)
                    .await
                    .map_err(DeadLetterError::Failure)?;
            }
        }
        Ok(letters)
    }

    /// Sends the messages `chosen` picks back to the source queue, in the queue's order,
    /// each with its body from `corrections` (by message id) when there is one, and deletes
    /// them from the dead-letter queue; the others are made visible again. Every correction
    /// must name a chosen message of the first round, and every body is checked before
    /// anything is sent. Rounds go on until one picks nothing: a FIFO queue hands out a
    /// group's next messages only once those received before are deleted.
    pub async fn redrive(
        &self,
        chosen: impl Fn(&DeadLetter) -> bool,
        corrections: &HashMap<String, String>,
    ) -> Result<Redriven, DeadLetterError> {
        let mut done = self.redrive_round(&chosen, corrections).await?;
        let none = HashMap::new();
        // Bounded: a round takes at least one message of at most MAX_LISTED.
        for _ in 0..MAX_ROUNDS {
            let round = self.redrive_round(&chosen, &none).await?;
            if round.sent.is_empty() {
                break;
            }
            done.sent.extend(round.sent);
        }
        Ok(done)
    }

    /// One round of [`DeadLetterQueue::redrive`]: what one pass of receives picks.
    async fn redrive_round(
        &self,
        chosen: &impl Fn(&DeadLetter) -> bool,
        corrections: &HashMap<String, String>,
    ) -> Result<Redriven, DeadLetterError> {
        for (message_id, body) in corrections {
            check_body(message_id, body)?;
        }
        let letters = self.receive_all(Duration::from_secs(300)).await?;
        let (picked, others): (Vec<&DeadLetter>, Vec<&DeadLetter>) =
            letters.iter().partition(|l| chosen(l));
        self.release(&others).await?;
        if let Some(missing) = corrections
            .keys()
            .find(|id| !picked.iter().any(|l| &l.message_id == *id))
        {
            self.release(&picked).await?;
            return Err(DeadLetterError::NoSuchMessage(missing.clone()));
        }
        let mut done = Redriven::default();
        for (i, l) in picked.iter().enumerate() {
            let corrected = corrections.get(&l.message_id);
            let body = corrected.unwrap_or(&l.body);
            let sent = self.send(l, body).await;
            if let Err(e) = sent {
                // What was not sent stays in the dead-letter queue, visible again (or once
                // its hold ends, if even that fails).
                if let Err(release) = self.release(&picked[i..]).await {
                    tracing::error!(error = %convoy_core::chain(&release), "releasing the dead letters not redriven");
                }
                return Err(e);
            }
            self.sqs
                .delete_message()
                .queue_url(&self.url)
                .receipt_handle(&l.receipt_handle)
                .send()
                .await
                .map_err(self.err("DeleteMessage"))?;
            tracing::info!(message_id = %l.message_id, group = ?l.group_id, corrected = corrected.is_some(), "redriven");
            done.sent.push(l.message_id.clone());
            done.corrected += usize::from(corrected.is_some());
        }
        Ok(done)
    }

    async fn send(&self, l: &DeadLetter, body: &str) -> Result<(), DeadLetterError> {
        let mut send = self
            .sqs
            .send_message()
            .queue_url(&self.source_url)
            .message_body(body);
        if self.is_fifo() {
            let group = l.group_id.clone().ok_or_else(|| DeadLetterError::NoGroup {
                message_id: l.message_id.clone(),
            })?;
            send = send
                .message_group_id(group)
                .message_deduplication_id(redrive_dedup_id(&l.message_id, body));
        }
        send.send().await.map_err(|e| DeadLetterError::Sqs {
            action: "SendMessage",
            queue: self.source_url.clone(),
            source: Box::new(e),
        })?;
        Ok(())
    }
}

/// A corrected body must be one SQS takes.
fn check_body(message_id: &str, body: &str) -> Result<(), DeadLetterError> {
    if body.is_empty() {
        return Err(DeadLetterError::EmptyBody {
            message_id: message_id.to_owned(),
        });
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(DeadLetterError::BodyTooLarge {
            message_id: message_id.to_owned(),
            bytes: body.len(),
        });
    }
    Ok(())
}

/// The deduplication id of a redriven message: new for each dead letter and body, so it
/// never collides with the original send's, and the same if one redrive is retried.
pub fn redrive_dedup_id(message_id: &str, body: &str) -> String {
    let mut h = Sha256::new();
    for part in ["redrive", message_id, body] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_read_for_what_they_are() {
        let txn = r#"{"order_id":"A-1","seq":3,"op":"pay","at":"2026-11-24T09:00:00Z"}"#;
        assert_eq!(
            Kind::of(txn),
            Kind::Transaction {
                order_id: "A-1".into(),
                seq: 3
            }
        );
        assert_eq!(
            Kind::of(r#"{"next_seq":7,"resume_drain":"A-1"}"#),
            Kind::Resume {
                order_id: "A-1".into(),
                next_seq: 7
            }
        );
        let s3 = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"ledgers/a.jsonl","size":5}}}]}"#;
        assert_eq!(
            Kind::of(s3),
            Kind::Ledger {
                bucket: "b".into(),
                key: "ledgers/a.jsonl".into()
            }
        );
        let continuation = ledger::notification::Continuation {
            object: ledger::notification::ObjectRef {
                bucket: "b".into(),
                key: "ledgers/a.jsonl".into(),
                version_id: Some("v1".into()),
                etag: None,
                size: Some(5),
                sequencer: None,
            },
            from: "m-1".into(),
            continuation: 2,
        };
        assert_eq!(
            Kind::of(&continuation.to_body().unwrap()),
            Kind::Continuation {
                bucket: "b".into(),
                key: "ledgers/a.jsonl".into(),
                continuation: 2
            }
        );
        for poison in [
            r#"{"order_id":"A-1","seq":1,"op":"create","currency":"#,
            "",
            "[]",
            r#"{"seq":1}"#,
        ] {
            assert_eq!(Kind::of(poison), Kind::Unreadable, "{poison}");
        }
    }

    #[test]
    fn a_corrected_body_is_checked_against_sqs_limits() {
        assert!(check_body("m", "x").is_ok());
        assert!(check_body("m", &"x".repeat(MAX_BODY_BYTES)).is_ok());
        let e = check_body("m", &"x".repeat(MAX_BODY_BYTES + 1)).unwrap_err();
        assert!(e.to_string().contains("1048577 bytes"), "{e}");
        assert!(matches!(
            check_body("m", ""),
            Err(DeadLetterError::EmptyBody { .. })
        ));
    }

    #[test]
    fn dedup_ids_differ_by_message_and_body_and_fit_sqs() {
        let a = redrive_dedup_id("m1", "body");
        assert_eq!(a, redrive_dedup_id("m1", "body"));
        assert_ne!(a, redrive_dedup_id("m2", "body"));
        assert_ne!(a, redrive_dedup_id("m1", "body2"));
        assert_ne!(
            redrive_dedup_id("m1b", "ody"),
            redrive_dedup_id("m1", "body")
        );
        assert!(a.len() <= 128);
    }
}
