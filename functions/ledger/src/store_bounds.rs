//! The ledger bounds every field it sends, so the consumer's DynamoDB items are bounded:
//! the store's own items, built from values at their longest, weigh no more than
//! [`convoy_core::bounds`] derives: a step of [`MAX_CHANGES`] changes fits one log item,
//! and each item copied out of it fits its bound.

use convoy_core::bounds::{
    longest, max_log_item_bytes, DYNAMODB_MAX_ITEM_BYTES, MAX_CHANGE_ITEM_BYTES,
};
use convoy_core::sequencer::{Change, ConflictRecord, Outcome, Processed, Step};
use convoy_core::{Rejection, Seq};
use convoy_store::capacity::item_size;
use convoy_store::plan;
use convoy_store::{Head, Version, MAX_CHANGES};

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
fn the_largest_step_fits_one_log_item_and_each_copy_fits() {
    let state = longest::state();
    let step = Step {
        changes: (0..MAX_CHANGES as u64).map(change).collect(),
        state: state.clone(),
        dispositions: Vec::new(),
        drained: Vec::new(),
        more_to_drain: false,
        receipt: None,
    };
    let base = Head {
        state: state.clone(),
        version: Version::new(u64::MAX - 2),
        last: step.changes.clone(),
        waiting_since: None,
    };
    let planned = plan::commit(
        &state.order_id,
        Some(&base),
        &step,
        &plan::Now {
            text: "2026-11-24T09:00:00.123456789Z".into(),
            millis: 1_795_000_000_000,
        },
    )
    .unwrap();
    let log = item_size(&planned.log.item);
    assert!(
        log <= max_log_item_bytes(MAX_CHANGES),
        "log item: {log} bytes"
    );
    assert!(
        log > max_log_item_bytes(MAX_CHANGES) * 9 / 10,
        "{log}: the bound is loose"
    );
    assert!(log <= DYNAMODB_MAX_ITEM_BYTES);
    assert!(!planned.copies.is_empty());
    for copy in &planned.copies {
        let bytes = item_size(&copy.item);
        assert!(
            bytes <= MAX_CHANGE_ITEM_BYTES,
            "{:?}: {bytes} bytes",
            copy.key()
        );
    }
}
