//! One transaction as an SQS FIFO message: body, group, deterministic deduplication id,
//! and where it came from (ledger key and line) for traceability; and what a message and
//! a batch of them weigh at most, derived from the bounds of the fields
//! ([`convoy_core::bounds`]), against the limits of SQS.

use crate::scheduler::Grouped;
use convoy_core::bounds::{digits, MAX_TRANSACTION_JSON_BYTES};
use convoy_core::{OrderId, Transaction};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The message attribute naming the ledger's key.
pub const LEDGER_ATTRIBUTE: &str = "ledger";
/// The message attribute holding the ledger line.
pub const LINE_ATTRIBUTE: &str = "line";

/// S3's limit on a key, in bytes: the `ledger` attribute's value.
pub const S3_MAX_KEY_BYTES: usize = 1024;
/// SQS's limit on the entries of one `SendMessageBatch`.
pub const SQS_MAX_BATCH_ENTRIES: usize = 10;
/// SQS's limit on one `SendMessageBatch`: the sum of its messages' sizes, 1 MiB.
pub const SQS_MAX_BATCH_BYTES: usize = 1024 * 1024;

/// The `MaximumMessageSize` of the transactions queue and its dead-letter queue
/// (`template.yaml`): room for [`MAX_MESSAGE_BYTES`], and ten of it in one batch.
pub const QUEUE_MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// The body: the transaction's wire JSON. [`sqs_safe`] writes U+FFFE and U+FFFF (3 bytes
/// each) as 6, as JSON writes a control character: within 6 bytes a character.
pub const MAX_BODY_BYTES: usize = MAX_TRANSACTION_JSON_BYTES;

/// The message attributes: SQS counts each one's name, data type and value.
pub const MAX_ATTRIBUTES_BYTES: usize = LEDGER_ATTRIBUTE.len()
    + "String".len()
    + S3_MAX_KEY_BYTES
    + LINE_ATTRIBUTE.len()
    + "Number".len()
    + digits(u64::MAX);

/// One message as SQS counts it against its size limits: body and attributes.
pub const MAX_MESSAGE_BYTES: usize = MAX_BODY_BYTES + MAX_ATTRIBUTES_BYTES;

/// What an entry of a batch carries beside its message: its id (the index), group id and
/// deduplication id. SQS does not count them toward the batch limit; counted here anyway.
pub const MAX_ENTRY_OVERHEAD_BYTES: usize =
    digits(SQS_MAX_BATCH_ENTRIES as u64 - 1) + OrderId::MAX_LEN + DEDUP_ID_BYTES;

/// A full `SendMessageBatch`, at most.
pub const MAX_BATCH_BYTES: usize =
    SQS_MAX_BATCH_ENTRIES * (MAX_MESSAGE_BYTES + MAX_ENTRY_OVERHEAD_BYTES);

/// The length of a deduplication id ([`dedup_id`]): hex SHA-256.
pub const DEDUP_ID_BYTES: usize = 64;

const _: () = assert!(MAX_BATCH_BYTES <= SQS_MAX_BATCH_BYTES);
const _: () = assert!(MAX_MESSAGE_BYTES <= QUEUE_MAX_MESSAGE_BYTES);
const _: () = assert!(SQS_MAX_BATCH_ENTRIES * QUEUE_MAX_MESSAGE_BYTES <= SQS_MAX_BATCH_BYTES);

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

impl OutgoingMessage {
    /// The message's size as SQS counts it: body and attributes (names, types, values).
    pub fn size(&self) -> usize {
        self.body.len()
            + LEDGER_ATTRIBUTE.len()
            + "String".len()
            + self.ledger.len()
            + LINE_ATTRIBUTE.len()
            + "Number".len()
            + digits(self.line)
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
    use convoy_core::bounds::longest;

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

    /// A ledger key of S3's most bytes.
    fn longest_key() -> Arc<str> {
        let key = format!("ledgers/{}", "é".repeat((S3_MAX_KEY_BYTES - 8) / 2));
        assert_eq!(key.len(), S3_MAX_KEY_BYTES);
        Arc::from(key)
    }

    #[test]
    fn a_message_with_every_field_at_its_longest_fits_the_bound() {
        let mut notes = vec![longest::note()];
        // U+FFFF is escaped by `sqs_safe`: 3 bytes become 6.
        notes.push("\u{ffff}".repeat(convoy_core::transaction::MAX_NOTE_BYTES / 3));
        for note in notes {
            let mut txn = longest::transaction();
            txn.note = Some(note);
            let m = OutgoingMessage::new(&longest_key(), u64::MAX, &txn).unwrap();
            assert!(m.body.len() <= MAX_BODY_BYTES, "{}", m.body.len());
            assert!(m.size() <= MAX_MESSAGE_BYTES, "{}", m.size());
            assert_eq!(m.dedup_id.len(), DEDUP_ID_BYTES);
            assert_eq!(serde_json::from_str::<Transaction>(&m.body).unwrap(), txn);
        }
        let m = OutgoingMessage::new(&longest_key(), u64::MAX, &longest::transaction()).unwrap();
        assert!(MAX_MESSAGE_BYTES - m.size() <= 32, "the bound is tight");
    }

    #[test]
    fn a_full_batch_of_the_longest_messages_fits_sqs_limits() {
        // (2) ten messages at the bound, with their ids, fit one `SendMessageBatch`.
        const {
            assert!(
                SQS_MAX_BATCH_ENTRIES * (MAX_MESSAGE_BYTES + MAX_ENTRY_OVERHEAD_BYTES)
                    <= SQS_MAX_BATCH_BYTES
            )
        };
        let m = OutgoingMessage::new(&longest_key(), u64::MAX, &longest::transaction()).unwrap();
        let batch = SQS_MAX_BATCH_ENTRIES
            * (m.size()
                + (SQS_MAX_BATCH_ENTRIES - 1).to_string().len()
                + m.group_id.len()
                + m.dedup_id.len());
        assert!(batch <= MAX_BATCH_BYTES, "{batch}");
        // (3) one message fits the queue, and so do ten of the queue's largest.
        assert!(m.size() <= QUEUE_MAX_MESSAGE_BYTES);
        const { assert!(SQS_MAX_BATCH_ENTRIES * QUEUE_MAX_MESSAGE_BYTES <= SQS_MAX_BATCH_BYTES) };
    }

    #[test]
    fn the_figures() {
        // As docs/ledger-format.md quotes them: change a bound, update both.
        assert_eq!(MAX_MESSAGE_BYTES, 8_406);
        assert_eq!(MAX_BATCH_BYTES, 85_990);
    }

    /// The `MaximumMessageSize` values among the properties of the resource `name` of
    /// `template.yaml` (its lines indented deeper than the resource's own).
    fn maximum_message_sizes(template: &str, name: &str) -> Vec<usize> {
        let header = format!("  {name}:");
        let mut lines = template.lines().skip_while(|l| *l != header);
        assert!(lines.next().is_some(), "{name} is not in template.yaml");
        lines
            .take_while(|l| l.is_empty() || l.starts_with("   "))
            .filter_map(|l| l.trim().strip_prefix("MaximumMessageSize:"))
            .map(|v| v.split('#').next().unwrap().trim().parse().unwrap())
            .collect()
    }

    #[test]
    fn the_transactions_queues_take_the_largest_message() {
        let template = include_str!("../../../template.yaml");
        for queue in ["TransactionsQueue", "TransactionsDeadLetterQueue"] {
            assert_eq!(
                maximum_message_sizes(template, queue),
                vec![QUEUE_MAX_MESSAGE_BYTES],
                "{queue}: MaximumMessageSize"
            );
        }
    }
}
