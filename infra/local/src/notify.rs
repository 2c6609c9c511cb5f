//! The S3 → ledger queue notification: draining S3's `s3:TestEvent` after a deploy, and
//! checking that an object under `ledgers/` notifies while one under `rejects/` does not.
//! Messages that are not ours are kept invisible meanwhile and released afterwards.

use crate::stack::Stack;
use convoy_core::BoxError;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{action} failed")]
    Aws {
        action: String,
        #[source]
        source: BoxError,
    },
    #[error(
        "no notification for {key} within {waited:?}; note that --check needs an idle ledger \
         queue: a local driver or function polling it takes the message first"
    )]
    NotNotified { key: String, waited: Duration },
    #[error("unexpected notification for {0}")]
    Unexpected(String),
}

fn aws<E: std::error::Error + Send + Sync + 'static>(
    action: impl Into<String>,
) -> impl FnOnce(E) -> NotifyError {
    let action = action.into();
    move |e| NotifyError::Aws {
        action,
        source: Box::new(e),
    }
}

/// What a message on the ledger queue is to the check.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    /// A notification about the check's own objects (their keys).
    Ours(Vec<String>),
    /// S3's test event for this bucket, sent when the notification is configured.
    TestEvent,
    /// Someone else's: left alone.
    Other,
}

/// Classifies a message body; `tag` marks the check's objects (`…/_convoy-check/<tag>…`).
pub fn classify(body: &str, bucket: &str, tag: Option<&str>) -> Message {
    let Ok(body) = serde_json::from_str::<Value>(body) else {
        return Message::Other;
    };
    if body["Event"] == "s3:TestEvent" && body["Bucket"] == bucket {
        return Message::TestEvent;
    }
    let ours: Vec<String> = body["Records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["s3"]["object"]["key"].as_str())
        .filter(|k| tag.is_some_and(|t| k.contains(&format!("/_convoy-check/{t}"))))
        .map(str::to_owned)
        .collect();
    if ours.is_empty() {
        Message::Other
    } else {
        Message::Ours(ours)
    }
}

/// How long a drain receives.
enum Until<'a> {
    /// The first empty receive.
    Empty,
    /// Every one of these keys seen.
    Seen(&'a BTreeSet<String>),
    /// The whole time.
    Deadline,
}

struct Drain<'a> {
    sqs: &'a aws_sdk_sqs::Client,
    stack: &'a Stack,
    tag: Option<String>,
    /// Receipt handles of other messages, by message id.
    others: BTreeMap<String, String>,
}

impl Drain<'_> {
    /// Receives for at most `seconds`; deletes ours and S3 test events; our keys seen.
    async fn run(
        &mut self,
        until: Until<'_>,
        seconds: u64,
    ) -> Result<BTreeSet<String>, NotifyError> {
        let queue = &self.stack.ledger_queue_url;
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut seen = BTreeSet::new();
        while Instant::now() < deadline {
            let out = self
                .sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .visibility_timeout(60)
                .send()
                .await
                .map_err(aws(format!("ReceiveMessage {queue}")))?;
            for m in out.messages() {
                let body = m.body().unwrap_or_default();
                match classify(body, &self.stack.bucket, self.tag.as_deref()) {
                    Message::Other => {
                        if let (Some(id), Some(handle)) = (m.message_id(), m.receipt_handle()) {
                            self.others.insert(id.to_owned(), handle.to_owned());
                        }
                        continue;
                    }
                    Message::Ours(keys) => seen.extend(keys),
                    Message::TestEvent => {}
                }
                if let Some(handle) = m.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(queue)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .map_err(aws(format!("DeleteMessage {queue}")))?;
                }
            }
            let done = match until {
                Until::Empty => out.messages().is_empty(),
                Until::Seen(want) => want.is_subset(&seen),
                Until::Deadline => false,
            };
            if done {
                break;
            }
        }
        Ok(seen)
    }

    /// Makes the messages that are not ours visible again.
    async fn release(&mut self) -> Result<(), NotifyError> {
        for handle in std::mem::take(&mut self.others).into_values() {
            self.sqs
                .change_message_visibility()
                .queue_url(&self.stack.ledger_queue_url)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await
                .map_err(aws("ChangeMessageVisibility"))?;
        }
        Ok(())
    }
}

/// Removes S3's test events from the ledger queue (until it is empty, at most 5 s).
pub async fn drop_test_events(sqs: &aws_sdk_sqs::Client, stack: &Stack) -> Result<(), NotifyError> {
    let mut drain = Drain {
        sqs,
        stack,
        tag: None,
        others: BTreeMap::new(),
    };
    let drained = drain.run(Until::Empty, 5).await;
    drain.release().await?;
    drained.map(|_| ())
}

/// An object under `ledgers/` must notify the ledger queue within 15 s, one under
/// `rejects/` must not; both objects (every version) are removed afterwards.
pub async fn check(
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
    stack: &Stack,
) -> Result<(), NotifyError> {
    let tag = format!(
        "{:x}-{:08x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros()),
        fastrand::u32(..)
    );
    let notified = format!("ledgers/_convoy-check/{tag}.txt");
    let silent = format!("rejects/_convoy-check/{tag}.jsonl");
    let mut drain = Drain {
        sqs,
        stack,
        tag: Some(tag),
        others: BTreeMap::new(),
    };
    let outcome = async {
        put(s3, stack, &silent, b"{}\n").await?;
        put(s3, stack, &notified, b"check\n").await?;
        let want = BTreeSet::from([notified.clone()]);
        let mut seen = drain.run(Until::Seen(&want), 15).await?;
        seen.extend(drain.run(Until::Deadline, 2).await?); // anything late for rejects/?
        if !seen.contains(&notified) {
            return Err(NotifyError::NotNotified {
                key: notified.clone(),
                waited: Duration::from_secs(15),
            });
        }
        if seen.contains(&silent) {
            return Err(NotifyError::Unexpected(silent.clone()));
        }
        Ok(())
    }
    .await;
    let released = drain.release().await;
    let removed = remove(s3, stack, &[&notified, &silent]).await;
    outcome.and(released).and(removed)
}

async fn put(
    s3: &aws_sdk_s3::Client,
    stack: &Stack,
    key: &str,
    body: &[u8],
) -> Result<(), NotifyError> {
    s3.put_object()
        .bucket(&stack.bucket)
        .key(key)
        .body(body.to_vec().into())
        .send()
        .await
        .map_err(aws(format!("PutObject {key}")))?;
    Ok(())
}

/// Deletes every version and delete marker of the keys.
async fn remove(s3: &aws_sdk_s3::Client, stack: &Stack, keys: &[&str]) -> Result<(), NotifyError> {
    for key in keys {
        let listing = s3
            .list_object_versions()
            .bucket(&stack.bucket)
            .prefix(*key)
            .send()
            .await
            .map_err(aws(format!("ListObjectVersions {key}")))?;
        let versions = listing.versions().iter().map(|v| v.version_id());
        let markers = listing.delete_markers().iter().map(|m| m.version_id());
        for version in versions.chain(markers) {
            s3.delete_object()
                .bucket(&stack.bucket)
                .key(*key)
                .set_version_id(version.map(str::to_owned))
                .send()
                .await
                .map_err(aws(format!("DeleteObject {key}")))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET: &str = "ledger-convoy-ledgers-000000000000";

    fn notification(key: &str) -> String {
        serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 6}}}]})
        .to_string()
    }

    #[test]
    fn test_events_of_our_bucket() {
        let body =
            format!(r#"{{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"{BUCKET}"}}"#);
        assert_eq!(classify(&body, BUCKET, None), Message::TestEvent);
        assert_eq!(classify(&body, "another-bucket", None), Message::Other);
    }

    #[test]
    fn our_objects_by_tag() {
        let key = "ledgers/_convoy-check/abc.txt";
        assert_eq!(
            classify(&notification(key), BUCKET, Some("abc")),
            Message::Ours(vec![key.into()])
        );
        assert_eq!(
            classify(&notification(key), BUCKET, Some("abd")),
            Message::Other
        );
        assert_eq!(classify(&notification(key), BUCKET, None), Message::Other);
        assert_eq!(
            classify(&notification("ledgers/day1.jsonl"), BUCKET, Some("abc")),
            Message::Other
        );
    }

    #[test]
    fn anything_else_is_left_alone() {
        assert_eq!(classify("not json", BUCKET, Some("abc")), Message::Other);
        assert_eq!(
            classify(r#"{"Records": "x"}"#, BUCKET, Some("abc")),
            Message::Other
        );
    }
}
