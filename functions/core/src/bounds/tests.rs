//! Values at their maximum serialize within the derived bounds, and not far below them.

use super::*;
use crate::order::Rejection;
use crate::sequencer::{ConflictRecord, Outcome, Processed};
use crate::transaction::Transaction;

fn json_len<T: serde::Serialize>(value: &T) -> usize {
    serde_json::to_string(value).unwrap().len()
}

/// `len` is within `bound`, and the bound is no looser than `slack` bytes.
fn assert_tight(what: &str, len: usize, bound: usize, slack: usize) {
    assert!(len <= bound, "{what}: {len} bytes > bound {bound}");
    assert!(
        bound - len <= slack,
        "{what}: {len} bytes, bound {bound} is loose"
    );
}

#[test]
fn the_longest_transaction_fits_its_bound() {
    let txn = longest::transaction();
    let len = json_len(&txn);
    // Slack: the `currency` a modify does not carry (`,"currency":"EUR"`), and `complete`
    // is longer than `modify`.
    assert_tight("transaction", len, MAX_TRANSACTION_JSON_BYTES, 19);
    let back: Transaction = serde_json::from_str(&serde_json::to_string(&txn).unwrap()).unwrap();
    assert_eq!(back, txn);
}

#[test]
fn the_longest_void_fits_its_bound_within_a_transaction_s() {
    let void = longest::void();
    // Slack: `void` is shorter than `complete`, the longest op.
    assert_tight("void", json_len(&void), MAX_VOID_JSON_BYTES, 4);
    let back: Transaction = serde_json::from_str(&serde_json::to_string(&void).unwrap()).unwrap();
    assert_eq!(back, void);
}

#[test]
fn the_longest_history_entry_and_conflict_fit_their_bounds() {
    let txn = longest::transaction();
    let fingerprint = txn.fingerprint();
    for reason in [
        Rejection::NoSuchItem {
            txn_id: longest::txn_id(1),
        },
        Rejection::ItemExists {
            txn_id: longest::txn_id(1),
        },
    ] {
        let processed = Processed {
            txn: txn.clone(),
            fingerprint: fingerprint.clone(),
            outcome: Outcome::Rejected { reason },
        };
        assert_tight(
            "history entry",
            json_len(&processed),
            MAX_PROCESSED_JSON_BYTES,
            19 + 1,
        );
    }
    let conflict = ConflictRecord {
        txn,
        fingerprint: fingerprint.clone(),
        holder: fingerprint,
    };
    assert_tight("conflict", json_len(&conflict), MAX_CONFLICT_JSON_BYTES, 19);
}

#[test]
fn the_largest_order_state_fits_its_bound() {
    let state = longest::state();
    assert_tight("state", json_len(&state), MAX_STATE_JSON_BYTES, 3);
}

#[test]
fn digits_counts_decimal_digits() {
    assert_eq!(
        [
            digits(0),
            digits(9),
            digits(10),
            digits(Seq::MAX),
            digits(u64::MAX)
        ],
        [1, 1, 2, 16, 20]
    );
}

#[test]
fn the_figures() {
    // The derived sizes, as docs/ledger-format.md quotes them: change a bound, update both.
    assert_eq!(MAX_TRANSACTION_JSON_BYTES, 7_340);
    assert_eq!(MAX_PROCESSED_JSON_BYTES, 8_275);
    assert_eq!(MAX_CONFLICT_JSON_BYTES, 7_505);
    assert_eq!(MAX_STATE_JSON_BYTES, 2_262);
    assert_eq!(MAX_CHANGE_JSON_BYTES, 8_339);
    assert_eq!(MAX_CHANGE_ITEM_BYTES, 10_003);
    assert_eq!(max_log_item_bytes(MAX_STEP_CHANGES), 337_526);
}
