//! Worst-case sizes, derived from the bounds of the fields: how many bytes a transaction,
//! a history entry, a conflict and an order's state take as JSON at most.
//!
//! The SQS message (`ledger::message`) and the DynamoDB items (`convoy-store`) are built on
//! these; their tests check them against the AWS limits and against values at their
//! maximum. Every figure is computed from the bounds it rests on — change a bound and the
//! sizes follow (and the tests say whether the limits still hold).
//!
//! Each JSON shape is counted as its skeleton (keys and punctuation, written out as a
//! literal whose `len()` is taken) plus the longest value of each field:
//! - text is quoted (2 bytes), and JSON may write one character as 6 bytes (`\u001f`),
//!   so text of `n` characters takes at most `2 + 6n` bytes; ASCII punctuation at most
//!   2 bytes a character (`\"`, `\\`);
//! - a number takes its digits.

use crate::amount::Amount;
use crate::order::{Status, MAX_ITEMS};
use crate::order_id::OrderId;
use crate::seq::Seq;
use crate::sequencer::{MAX_PARKED, MAX_VOIDED};
use crate::transaction::{
    Op, Principal, TxnId, MAX_AT_BYTES, MAX_NOTE_BYTES, MAX_VOID_REASON_BYTES,
};

/// The most bytes JSON (`serde_json`) writes for one character: `\u001f`.
pub const JSON_MAX_BYTES_PER_CHAR: usize = 6;

/// The digits of `n` in decimal.
pub const fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// A JSON string of at most `chars` characters.
const fn text(chars: usize) -> usize {
    2 + JSON_MAX_BYTES_PER_CHAR * chars
}

/// `order_id`: ASCII letters, digits and punctuation; only `"` and `\` are escaped.
pub const MAX_ORDER_ID_JSON: usize = 2 + 2 * OrderId::MAX_LEN;
/// `seq` (and `next_seq`, at most one more): digits.
pub const MAX_SEQ_JSON: usize = digits(Seq::MAX + 1);
/// `op`: the longest op name, quoted.
pub const MAX_OP_JSON: usize = 2 + Op::MAX_NAME_BYTES;
/// `txn_id`: any 128 characters.
pub const MAX_TXN_ID_JSON: usize = text(TxnId::MAX_LEN);
/// `amount`, in its display form, quoted.
pub const MAX_AMOUNT_JSON: usize = 2 + Amount::MAX_TEXT_BYTES;
/// `currency`: three letters, quoted.
pub const MAX_CURRENCY_JSON: usize = 2 + 3;
/// `at`: ASCII, quoted.
pub const MAX_AT_JSON: usize = 2 + MAX_AT_BYTES;
/// `note`: at most [`MAX_NOTE_BYTES`] bytes, so at most as many characters.
pub const MAX_NOTE_JSON: usize = text(MAX_NOTE_BYTES);
/// A content fingerprint: 64 hex digits, quoted.
pub const FINGERPRINT_JSON: usize = 2 + 64;
/// A counter (`applied`, `duplicates`, …): any `u64`.
pub const MAX_COUNTER_JSON: usize = digits(u64::MAX);

/// The wire JSON of a [`Transaction`](crate::Transaction) (SQS message body, parked item):
/// every field present at its longest (more than any one op carries: an op has either
/// `txn_id` and `amount` or `currency`).
pub const MAX_TRANSACTION_JSON_BYTES: usize =
    r#"{"order_id":,"seq":,"op":,"txn_id":,"amount":,"currency":,"at":,"note":}"#.len()
        + MAX_ORDER_ID_JSON
        + MAX_SEQ_JSON
        + MAX_OP_JSON
        + MAX_TXN_ID_JSON
        + MAX_AMOUNT_JSON
        + MAX_CURRENCY_JSON
        + MAX_AT_JSON
        + MAX_NOTE_JSON;

/// The wire JSON of a void: its reason is a short note, its `by` an ARN (ASCII without
/// `"` or `\`, so written as is). Within [`MAX_TRANSACTION_JSON_BYTES`], so every bound
/// built on a transaction holds for a void too.
pub const MAX_VOID_JSON_BYTES: usize = r#"{"order_id":,"seq":,"op":,"at":,"note":,"by":}"#.len()
    + MAX_ORDER_ID_JSON
    + MAX_SEQ_JSON
    + MAX_OP_JSON
    + MAX_AT_JSON
    + text(MAX_VOID_REASON_BYTES)
    + 2
    + Principal::MAX_BYTES;

const _: () = assert!(MAX_VOID_JSON_BYTES <= MAX_TRANSACTION_JSON_BYTES);

/// The longest status name, quoted.
const MAX_STATUS_JSON: usize = {
    let (mut i, mut longest) = (0, 0);
    while i < Status::ALL.len() {
        longest = max(longest, Status::ALL[i].as_str().len());
        i += 1;
    }
    2 + longest
};

/// A [`Rejection`](crate::Rejection) (tagged by `rule`): its longest variant.
pub const MAX_REJECTION_JSON: usize = max(
    max(
        r#"{"rule":"not_allowed","op":,"status":}"#.len() + MAX_OP_JSON + MAX_STATUS_JSON,
        r#"{"rule":"no_such_item","txn_id":}"#.len() + MAX_TXN_ID_JSON,
    ),
    max(
        r#"{"rule":"no_items"}"#.len(),
        r#"{"rule":"too_many_items","limit":}"#.len() + digits(MAX_ITEMS as u64),
    ),
);

/// An [`Outcome`](crate::sequencer::Outcome): applied, or rejected with its reason.
pub const MAX_OUTCOME_JSON: usize = max(
    r#"{"outcome":"applied"}"#.len(),
    r#"{"outcome":"rejected","reason":}"#.len() + MAX_REJECTION_JSON,
);

/// A history entry ([`Processed`](crate::sequencer::Processed)).
pub const MAX_PROCESSED_JSON_BYTES: usize = r#"{"txn":,"fingerprint":,"outcome":}"#.len()
    + MAX_TRANSACTION_JSON_BYTES
    + FINGERPRINT_JSON
    + MAX_OUTCOME_JSON;

/// A recorded conflict ([`ConflictRecord`](crate::sequencer::ConflictRecord)).
pub const MAX_CONFLICT_JSON_BYTES: usize = r#"{"txn":,"fingerprint":,"holder":}"#.len()
    + MAX_TRANSACTION_JSON_BYTES
    + 2 * FINGERPRINT_JSON;

/// An order's total: the sum of at most [`MAX_ITEMS`] amounts, each below 10^18, so it
/// has at most `digits(MAX_ITEMS)` more integer digits than one amount.
pub const MAX_TOTAL_JSON: usize = MAX_AMOUNT_JSON + digits(MAX_ITEMS as u64);

/// An order's head ([`OrderState`](crate::OrderState)): counts of its items and parked
/// transactions, never the items or the transactions themselves, so it is bounded whatever
/// the order's size.
pub const MAX_STATE_JSON_BYTES: usize = r#"{"order_id":,"status":,"currency":,"total":,"item_count":,"next_seq":,"parked_count":,"applied":,"rejected":,"duplicates":,"conflicts":,"voided":[]}"#.len()
    + MAX_ORDER_ID_JSON
    + MAX_STATUS_JSON
    + MAX_CURRENCY_JSON
    + MAX_TOTAL_JSON
    + digits(MAX_ITEMS as u64)
    + MAX_SEQ_JSON
    + digits(MAX_PARKED as u64)
    + 4 * MAX_COUNTER_JSON
    // The voided seqs, comma-separated (a void is of a seq, at most Seq::MAX).
    + MAX_VOIDED * (digits(Seq::MAX) + 1)
    - 1;

/// What a stored item of an order may carry beside its JSON: its keys (`pk` = `order#` +
/// order id, `sk` up to `conflict#` + 20 digits + `#` + fingerprint, or `item#` + a
/// `txn_id`), the attribute names, a few numbers and short texts. One KiB for all but the
/// order id and `txn_id`; the store's tests measure its items against it.
pub const MAX_ITEM_OVERHEAD_BYTES: usize = 1024 + OrderId::MAX_LEN + TxnId::MAX_BYTES;

/// One change of a step as the order's log keeps it: a history entry, a parked
/// transaction, a conflict or an unpark, tagged (`{"record":…,"seq":…}`); 64 bytes for the
/// tag and the seq.
pub const MAX_CHANGE_JSON_BYTES: usize = 64
    + max(
        max(MAX_PROCESSED_JSON_BYTES, MAX_CONFLICT_JSON_BYTES),
        MAX_TRANSACTION_JSON_BYTES,
    );

/// The largest item an order's change makes on its own once the step is committed (a
/// parked transaction or a conflict, copied out of the log).
pub const MAX_CHANGE_ITEM_BYTES: usize = MAX_ITEM_OVERHEAD_BYTES + MAX_CHANGE_JSON_BYTES;

/// The log item of one step of `changes` changes: the head and the changes, at most.
pub const fn max_log_item_bytes(changes: usize) -> usize {
    MAX_ITEM_OVERHEAD_BYTES + MAX_STATE_JSON_BYTES + changes * (MAX_CHANGE_JSON_BYTES + 1)
}

/// DynamoDB's limit on one item (400 KB, taken as 400,000 bytes).
pub const DYNAMODB_MAX_ITEM_BYTES: usize = 400_000;

/// The most changes one step may carry: its log item stays under DynamoDB's item limit.
pub const MAX_STEP_CHANGES: usize = 40;

const _: () = assert!(max_log_item_bytes(MAX_STEP_CHANGES) <= DYNAMODB_MAX_ITEM_BYTES);
const _: () = assert!(MAX_CHANGE_ITEM_BYTES <= DYNAMODB_MAX_ITEM_BYTES);

#[cfg(any(test, feature = "testing"))]
pub mod longest;
#[cfg(test)]
mod tests;
