//! One transaction as an SQS FIFO message: body, group, deterministic deduplication id,
//! and where it came from (ledger key and line) for traceability.

use crate::scheduler::Grouped;
use convoy_core::Transaction;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A transaction ready to be sent to the transactions queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// `MessageGroupId`: the order id.
    pub group_id: String,
    /// `MessageDeduplicationId`: see [`dedup_id`].
    pub dedup_id: String,
    /// The transaction's wire JSON.
    pub body: String,
    /// The ledger's key (message attribute `ledger`).
    pub ledger: Arc<str>,
    /// The ledger line the transaction starts on (message attribute `line`).
    pub line: u64,
}

impl OutgoingMessage {
    /// The message for the transaction read at `line` of `ledger`.
    pub fn new(ledger: &Arc<str>, line: u64, txn: &Transaction) -> Result<Self, serde_json::Error> {
        Ok(Self {
            group_id: txn.order_id.as_str().to_owned(),
            dedup_id: dedup_id(txn),
            body: sqs_safe(serde_json::to_string(txn)?),
            ledger: Arc::clone(ledger),
            line,
        })
    }
}

impl Grouped for OutgoingMessage {
    fn group(&self) -> &str {
        &self.group_id
    }
}

/// The deduplication id of a transaction: hex SHA-256 (64 characters) of its order id,
/// sequence number and content fingerprint. A re-upload of the same transaction gets the
/// same id (SQS drops the copy); a conflicting one (same `seq`, other content) does not, so
/// it still reaches the consumer. `note` and `at` are not content, so they do not count.
pub fn dedup_id(txn: &Transaction) -> String {
    let canonical = serde_json::json!([
        txn.order_id.as_str(),
        txn.seq.get(),
        txn.fingerprint().as_str()
    ]);
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Escapes the characters SQS refuses in a message body (U+FFFE and U+FFFF; control
/// characters are already escaped by JSON) as JSON `\u` escapes: the same JSON value.
fn sqs_safe(json: String) -> String {
    if !json.contains(['\u{fffe}', '\u{ffff}']) {
        return json;
    }
    json.replace('\u{fffe}', "\\ufffe")
        .replace('\u{ffff}', "\\uffff")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(json: &str) -> Transaction {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_dedup_id_follows_order_seq_and_content_only() {
        let a = txn(r#"{"order_id":"A-1","seq":2,"op":"add","txn_id":"t1","amount":"12.5"}"#);
        let same = txn(
            r#"{"order_id":"A-1","seq":2,"op":"add","txn_id":"t1","amount":"12.50","note":"again"}"#,
        );
        let conflict = txn(r#"{"order_id":"A-1","seq":2,"op":"add","txn_id":"t1","amount":"13"}"#);
        let other_seq =
            txn(r#"{"order_id":"A-1","seq":3,"op":"add","txn_id":"t1","amount":"12.5"}"#);
        let other_order =
            txn(r#"{"order_id":"A-2","seq":2,"op":"add","txn_id":"t1","amount":"12.5"}"#);
        assert_eq!(dedup_id(&a), dedup_id(&same));
        for other in [&conflict, &other_seq, &other_order] {
            assert_ne!(dedup_id(&a), dedup_id(other));
        }
        let id = dedup_id(&a);
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn the_message_carries_the_wire_json_group_and_origin() {
        let t = txn(r#"{"order_id":"A-1","seq":1,"op":"create","currency":"EUR"}"#);
        let ledger: Arc<str> = Arc::from("ledgers/day 1.jsonl");
        let m = OutgoingMessage::new(&ledger, 7, &t).unwrap();
        assert_eq!(m.group_id, "A-1");
        assert_eq!(m.line, 7);
        assert_eq!(&*m.ledger, "ledgers/day 1.jsonl");
        assert_eq!(serde_json::from_str::<Transaction>(&m.body).unwrap(), t);
    }

    #[test]
    fn characters_sqs_refuses_are_escaped_without_changing_the_value() {
        let t =
            txn("{\"order_id\":\"A\",\"seq\":1,\"op\":\"pay\",\"note\":\"x\u{ffff}y\u{fffe}\"}");
        let m = OutgoingMessage::new(&Arc::from("k"), 1, &t).unwrap();
        assert!(!m.body.contains('\u{ffff}') && !m.body.contains('\u{fffe}'));
        assert_eq!(serde_json::from_str::<Transaction>(&m.body).unwrap(), t);
    }
}
