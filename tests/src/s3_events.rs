//! S3 event sequencers as S3 writes them, for the tests that need them.
//!
//! S3 puts a `sequencer` in every event: for one key, a later version's is greater, and
//! every delivery of the same event carries the same one. LocalStack writes one constant
//! sequencer into every event, so versions of a key cannot be ordered on the emulator.
//! [`S3Sequencers`] wraps the ledger function and gives each version of a key a sequencer
//! in the order its events are first seen (the tests upload a key's versions one after
//! another), keeping it on redeliveries.

use convoy_local::function::{InvokeError, LambdaFunction};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

/// The ledger function, with every S3 event's `sequencer` replaced as above.
pub struct S3Sequencers<F> {
    inner: F,
    /// (bucket, key, version) → its sequencer; the next one is the map's size + 1.
    seen: Mutex<HashMap<(String, String, String), u64>>,
}

impl<F> S3Sequencers<F> {
    pub fn new(inner: F) -> Self {
        Self {
            inner,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// The sequencer of this version: upper-case hex, 18 digits like S3's.
    fn sequencer(&self, bucket: &str, key: &str, version: &str) -> String {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let next = seen.len() as u64 + 1;
        let n = *seen
            .entry((bucket.to_owned(), key.to_owned(), version.to_owned()))
            .or_insert(next);
        format!("{n:018X}")
    }

    /// Rewrites the S3 records of one SQS message body (a body that is not an S3 event is
    /// left as it is: the ledger function deals with it).
    fn rewrite_body(&self, body: &str) -> Option<String> {
        let mut event: Value = serde_json::from_str(body).ok()?;
        for record in event.get_mut("Records")?.as_array_mut()? {
            let Some(s3) = record.get_mut("s3") else {
                continue;
            };
            let bucket = s3["bucket"]["name"].as_str().unwrap_or_default().to_owned();
            let object = &mut s3["object"];
            let key = object["key"].as_str().unwrap_or_default().to_owned();
            let version = object["versionId"]
                .as_str()
                .or_else(|| object["eTag"].as_str())
                .unwrap_or_default()
                .to_owned();
            object["sequencer"] = Value::String(self.sequencer(&bucket, &key, &version));
        }
        serde_json::to_string(&event).ok()
    }
}

impl<F: LambdaFunction> LambdaFunction for S3Sequencers<F> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn invoke(&self, mut event: Value) -> Result<Value, InvokeError> {
        if let Some(records) = event.get_mut("Records").and_then(Value::as_array_mut) {
            for record in records {
                let rewritten = record["body"].as_str().and_then(|b| self.rewrite_body(b));
                if let Some(body) = rewritten {
                    record["body"] = Value::String(body);
                }
            }
        }
        self.inner.invoke(event).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl LambdaFunction for Echo {
        fn name(&self) -> &str {
            "echo"
        }
        async fn invoke(&self, event: Value) -> Result<Value, InvokeError> {
            Ok(event)
        }
    }

    fn sqs_event(version: &str) -> Value {
        let s3 = serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
            "bucket": {"name": "b"},
            "object": {"key": "ledgers/a.jsonl", "versionId": version,
                       "sequencer": "0055AED6DCD90281E5"}}}]});
        serde_json::json!({"Records": [{"messageId": "m", "body": s3.to_string()}]})
    }

    fn sequencer_of(response: &Value) -> String {
        let body: Value =
            serde_json::from_str(response["Records"][0]["body"].as_str().unwrap()).unwrap();
        body["Records"][0]["s3"]["object"]["sequencer"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[tokio::test]
    async fn later_versions_get_greater_sequencers_and_redeliveries_keep_theirs() {
        let f = S3Sequencers::new(Echo);
        let v1 = sequencer_of(&f.invoke(sqs_event("v1")).await.unwrap());
        let v2 = sequencer_of(&f.invoke(sqs_event("v2")).await.unwrap());
        let v1_again = sequencer_of(&f.invoke(sqs_event("v1")).await.unwrap());
        assert!(v2 > v1, "{v2} after {v1}");
        assert_eq!(v1, v1_again);
        assert_eq!(v1.len(), 18);
    }

    #[tokio::test]
    async fn a_body_that_is_not_an_s3_event_is_passed_on_unchanged() {
        let f = S3Sequencers::new(Echo);
        let event = serde_json::json!({"Records": [{"messageId": "m", "body": "not json"}]});
        assert_eq!(f.invoke(event.clone()).await.unwrap(), event);
    }
}
