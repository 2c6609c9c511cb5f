//! Drains that outlast an invocation. A drain cut short by the deadline, after it made
//! progress, goes on in a *resume message*: a small message to the order's own message
//! group of the transactions queue, which the next invocation of that group takes up. The
//! record that started the drain is done and leaves the queue, so its receive count — which
//! sends it to the dead-letter queue after `maxReceiveCount` — counts failures only, never
//! the length of a drain. A drain that made no progress still fails its record.
//!
//! A resume message changes nothing by itself: its group's next invocation loads the order
//! and drains what is next, if anything. A copy, or one for an order drained meanwhile, is
//! harmless.

use convoy_core::OrderId;
use sha2::{Digest, Sha256};
use std::future::Future;

/// The body of a resume message: `{"resume_drain":"<order id>","next_seq":<n>}`, the order
/// and where its drain stopped (for the logs and the deduplication id).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    pub resume_drain: OrderId,
    pub next_seq: u64,
}

impl Resume {
    /// The message body.
    pub fn body(&self) -> String {
        serde_json::json!({"resume_drain": self.resume_drain, "next_seq": self.next_seq})
            .to_string()
    }

    /// `MessageDeduplicationId`: hex SHA-256 of the order id and `next_seq`. A drain that
    /// stops twice at the same seq (a copy of the record that started it) sends it once;
    /// every stop after progress has a new one, since progress moves `next_seq`.
    pub fn dedup_id(&self) -> String {
        let canonical = serde_json::json!(["resume_drain", self.resume_drain, self.next_seq]);
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Where resume messages go: the transactions queue, in the order's message group.
pub trait DrainQueue: Send + Sync {
    fn resume(&self, resume: &Resume) -> impl Future<Output = Result<(), ResumeError>> + Send;
}

/// A resume message could not be sent; the record that started the drain fails instead,
/// and its redelivery resumes the drain.
#[derive(Debug, thiserror::Error)]
#[error("the resume message for order {order_id} could not be sent")]
pub struct ResumeError {
    pub order_id: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resume(order: &str, next_seq: u64) -> Resume {
        Resume {
            resume_drain: OrderId::parse(order).unwrap(),
            next_seq,
        }
    }

    #[test]
    fn the_body_reads_back_and_is_no_transaction() {
        let r = resume("A-1", 21);
        let body = r.body();
        assert_eq!(body, r#"{"next_seq":21,"resume_drain":"A-1"}"#);
        assert_eq!(serde_json::from_str::<Resume>(&body).unwrap(), r);
        assert!(serde_json::from_str::<convoy_core::Transaction>(&body).is_err());
        assert!(
            serde_json::from_str::<Resume>(r#"{"resume_drain":"A-1","next_seq":2,"x":1}"#).is_err()
        );
    }

    #[test]
    fn the_dedup_id_follows_order_and_next_seq() {
        let id = resume("A-1", 21).dedup_id();
        assert_eq!(id.len(), 64);
        assert_eq!(id, resume("A-1", 21).dedup_id());
        assert_ne!(id, resume("A-1", 22).dedup_id());
        assert_ne!(id, resume("A-2", 21).dedup_id());
    }
}
