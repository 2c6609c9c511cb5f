//! The ledger bounds every field it sends, so the consumer's DynamoDB items are bounded:
//! the store's own items, built from values at their longest, weigh no more than
//! [`convoy_core::bounds`] derives, and a commit of [`MAX_CHANGES`] changes fits one
//! `TransactWriteItems`.

use aws_sdk_dynamodb::types::AttributeValue;
use convoy_core::bounds::{
    longest, max_commit_bytes, DYNAMODB_MAX_ITEM_BYTES, DYNAMODB_MAX_TRANSACTION_BYTES,
    MAX_CHANGE_ITEM_BYTES, MAX_STATE_ITEM_BYTES,
};
use convoy_core::sequencer::{Change, ConflictRecord, Outcome, Processed, Step};
use convoy_core::{Rejection, Seq};
use convoy_store::item::Item;
use convoy_store::plan::{self, Write};
use convoy_store::{Version, MAX_CHANGES};

/// An item's size as DynamoDB counts it: each attribute's name and value in bytes (a
/// number counted as its digits, more than DynamoDB's about one byte per two digits).
fn item_bytes(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                    other => panic!("{name}: an attribute the store does not write: {other:?}"),
                }
        })
        .sum()
}

/// The change `i` of a worst-case step: history entries (rejected, naming an item), parked
/// transactions and conflicts, in turn, each at its longest.
fn change(i: u64) -> Change {
    let mut txn = longest::transaction();
    txn.seq = Seq::new(Seq::MAX - i).unwrap();
    let fingerprint = txn.fingerprint();
    match i % 3 {
        0 => Change::Record(
            txn.seq,
            Processed {
                txn,
                fingerprint,
                outcome: Outcome::Rejected {
                    reason: Rejection::NoSuchItem {
                        txn_id: longest::txn_id(1),
                    },
                },
            },
        ),
        1 => Change::Park(txn),
        _ => Change::Conflict(
            txn.seq,
            ConflictRecord {
                txn,
                fingerprint: fingerprint.clone(),
                holder: fingerprint,
            },
        ),
    }
}

#[test]
fn the_largest_commit_fits_one_transact_write_items_and_each_item_fits() {
    let state = longest::state();
    let step = Step {
        changes: (0..MAX_CHANGES as u64).map(change).collect(),
        state: state.clone(),
        dispositions: Vec::new(),
        drained: Vec::new(),
    };
    let planned = plan::commit(
        &state.order_id,
        Some(Version::new(u64::MAX - 1)),
        &step,
        "2026-11-24T09:00:00.123456789Z",
    )
    .unwrap();
    assert_eq!(planned.writes.len(), MAX_CHANGES + 1);
    let mut total = 0;
    for (i, write) in planned.writes.iter().enumerate() {
        let Write::Put { item, .. } = write else {
            panic!("write {i} is not a put");
        };
        let bytes = item_bytes(item);
        let bound = if i == 0 {
            MAX_STATE_ITEM_BYTES
        } else {
            MAX_CHANGE_ITEM_BYTES
        };
        assert!(bytes <= bound, "item {i}: {bytes} bytes > bound {bound}");
        assert!(bytes <= DYNAMODB_MAX_ITEM_BYTES, "item {i}: {bytes} bytes");
        total += bytes;
    }
    assert!(total <= max_commit_bytes(MAX_CHANGES), "{total}");
    // As docs/ledger-format.md quotes it.
    assert_eq!(max_commit_bytes(MAX_CHANGES), 1_347_641);
    assert!(max_commit_bytes(MAX_CHANGES) <= DYNAMODB_MAX_TRANSACTION_BYTES);
    const { assert!(MAX_STATE_ITEM_BYTES <= DYNAMODB_MAX_ITEM_BYTES) };
    const { assert!(MAX_CHANGE_ITEM_BYTES <= DYNAMODB_MAX_ITEM_BYTES) };
}
