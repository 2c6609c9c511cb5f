//! Values at their longest, for the tests of the bounds (here and where messages and items
//! are built from them).

use super::*;
use crate::order::OrderState;
use crate::transaction::{Content, Currency, Transaction, MAX_AT_FRACTION_DIGITS};

/// An order id of the most characters, every one escaped by JSON (`\"`, `\\`).
pub fn order_id() -> OrderId {
    OrderId::parse(&"\"\\".repeat(OrderId::MAX_LEN / 2)).unwrap_or_else(|e| panic!("{e}"))
}

/// A `txn_id` of the most characters, every one written by JSON at its longest (`\u0001`
/// and the like); the first two tell ids apart by `tag` (up to 675).
pub fn txn_id(tag: usize) -> TxnId {
    // The control characters JSON writes as `\u00XX`, not as `\n`, `\t`, `\b`, `\f`, `\r`.
    let six: Vec<char> = ('\u{1}'..='\u{1f}')
        .filter(|c| !matches!(c, '\u{8}'..='\u{a}' | '\u{c}' | '\u{d}'))
        .collect();
    let n = six.len();
    let s: String = [six[tag / n % n], six[tag % n]]
        .into_iter()
        .chain(std::iter::repeat('\u{1}'))
        .take(TxnId::MAX_LEN)
        .collect();
    TxnId::parse(&s).unwrap_or_else(|e| panic!("{e}"))
}

/// `-999999999999999999.9999`.
pub fn amount() -> Amount {
    let text = format!(
        "-{}.{}",
        "9".repeat(Amount::MAX_INT_DIGITS),
        "9".repeat(Amount::MAX_FRACTION_DIGITS)
    );
    Amount::parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// The longest `at`: `2026-11-24T09:00:00.111111111+02:00`.
pub fn at() -> String {
    format!(
        "2026-11-24T09:00:00.{}+02:00",
        "1".repeat(MAX_AT_FRACTION_DIGITS)
    )
}

/// A note of the most bytes, every one written by JSON at its longest (`\u0001`).
pub fn note() -> String {
    "\u{1}".repeat(MAX_NOTE_BYTES)
}

/// A transaction with every field it can have at its longest: a `modify` (`txn_id` and
/// `amount`; `currency` belongs to `create` alone).
pub fn transaction() -> Transaction {
    Transaction {
        order_id: order_id(),
        seq: Seq::new(Seq::MAX).unwrap_or_else(|e| panic!("{e}")),
        content: Content::Modify {
            txn_id: txn_id(0),
            amount: amount(),
        },
        at: Some(at()),
        note: Some(note()),
    }
}

/// A void with every field at its longest: its reason written by JSON at its longest, its
/// `by` an ARN of the most bytes.
pub fn void() -> Transaction {
    let by =
        crate::transaction::Principal::parse(&"a".repeat(crate::transaction::Principal::MAX_BYTES))
            .unwrap_or_else(|e| panic!("{e}"));
    Transaction::void(
        order_id(),
        Seq::new(Seq::MAX).unwrap_or_else(|e| panic!("{e}")),
        &"\u{1}".repeat(crate::transaction::MAX_VOID_REASON_BYTES),
        by,
        at(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// An order's state at its largest: the most items, each at its longest, the most parked
/// sequence numbers, each at its longest, every counter at its maximum.
pub fn state() -> OrderState {
    let mut state = OrderState::new(order_id());
    state.status = Status::Completed;
    state.currency = Currency::parse("EUR").ok();
    for _ in 0..MAX_ITEMS {
        state.total = state.total + amount();
    }
    state.item_count = MAX_ITEMS as u64;
    state.next_seq = Seq::MAX + 1;
    state.parked_count = MAX_PARKED as u64;
    state.voided = (0..MAX_VOIDED as u64).map(|i| Seq::MAX - i).rev().collect();
    (
        state.applied,
        state.rejected,
        state.duplicates,
        state.conflicts,
    ) = (u64::MAX, u64::MAX, u64::MAX, u64::MAX);
    state
}
