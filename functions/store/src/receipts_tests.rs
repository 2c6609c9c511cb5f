//! The receipt of a paying step: committed with the step or not at all, and read back
//! by window in receipt order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::keys;
use crate::memory::MemoryOrderStore;
use crate::port::{OrderStore, ReceiptReader};
use crate::StoreError;
use convoy_core::sequencer::{process, Step};
use convoy_core::{OrderId, OrderState, Receipt, Transaction};

fn oid(s: &str) -> OrderId {
    OrderId::parse(s).unwrap()
}

fn paying_step(order: &str) -> Step {
    let txns: Vec<Transaction> = [
        r#""seq":1,"op":"create","currency":"EUR""#,
        r#""seq":2,"op":"add","txn_id":"t1","amount":"2.5""#,
        r#""seq":3,"op":"pay""#,
    ]
    .iter()
    .map(|rest| serde_json::from_str(&format!(r#"{{"order_id":"{order}",{rest}}}"#)).unwrap())
    .collect();
    process(&OrderState::new(oid(order)), &Default::default(), &txns, 40).unwrap()
}

#[test]
fn receipts_partitions_are_utc_hours() {
    // 2026-12-07T13:59:59.999Z and the next millisecond.
    assert_eq!(
        keys::receipts_pk(1_796_651_999_999),
        "receipts#2026-12-07T13"
    );
    assert_eq!(
        keys::receipts_pk(1_796_652_000_000),
        "receipts#2026-12-07T14"
    );
    assert_eq!(
        crate::dynamo::partitions(1_796_651_999_999, 1_796_652_000_001).unwrap(),
        ["receipts#2026-12-07T13", "receipts#2026-12-07T14"]
    );
    assert!(crate::dynamo::partitions(5, 5).unwrap().is_empty());
    let e = crate::dynamo::partitions(0, 32 * 24 * 3_600_000).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a read of receipts over 768 hours: at most 744"
    );
}

#[tokio::test]
async fn a_paying_step_needs_its_receipt_and_only_a_paying_step_has_one() {
    let store = MemoryOrderStore::new();
    let step = paying_step("A-1");
    assert!(step.pays());
    let e = store.commit(&oid("A-1"), None, &step).await.unwrap_err();
    assert!(matches!(e, StoreError::Receipt { .. }), "{e}");
    let mut other = paying_step("B-1");
    other.changes.truncate(1); // the create alone
    other.receipt = Some(Receipt {
        number: 1,
        paid_at: 5,
    });
    assert!(!other.pays());
    let e = store.commit(&oid("B-1"), None, &other).await.unwrap_err();
    assert!(matches!(e, StoreError::Receipt { .. }), "{e}");
    assert!(store.items().is_empty(), "nothing written");
}

#[tokio::test]
async fn a_paying_step_that_loses_its_race_writes_no_receipt() {
    let store = MemoryOrderStore::new();
    let id = oid("A-1");
    let mut first = paying_step("A-1");
    first.receipt = Some(Receipt {
        number: 7,
        paid_at: 1_000,
    });
    store.commit(&id, None, &first).await.unwrap();
    let mut racer = paying_step("A-1");
    racer.receipt = Some(Receipt {
        number: 8,
        paid_at: 2_000,
    });
    let e = store.commit(&id, None, &racer).await.unwrap_err();
    assert!(e.is_conflict(), "{e}");
    let all = store.receipts(0, 10_000).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].receipt.number, 7);
    assert_eq!(all[0].total.to_string(), "2.50");
    // The log of the step that paid keeps its receipt.
    let log = store
        .items()
        .into_iter()
        .find(|i| {
            crate::item::Reader::new(i)
                .sk()
                .starts_with(keys::LOG_PREFIX)
        })
        .unwrap();
    assert_eq!(
        crate::item::Reader::new(&log)
            .number(crate::item::RECEIPT)
            .unwrap(),
        7
    );
}

#[tokio::test]
async fn a_taken_number_is_never_committed_twice() {
    let store = MemoryOrderStore::new();
    let mut a = paying_step("A-1");
    a.receipt = Some(Receipt {
        number: 1,
        paid_at: 1,
    });
    store.commit(&oid("A-1"), None, &a).await.unwrap();
    let mut b = paying_step("B-1");
    b.receipt = a.receipt;
    let e = store.commit(&oid("B-1"), None, &b).await.unwrap_err();
    assert!(matches!(e, StoreError::Receipt { .. }), "{e}");
    assert!(
        store.load(&oid("B-1")).await.unwrap().is_none(),
        "B-1 not committed"
    );
}

#[tokio::test]
async fn a_window_reads_its_receipts_in_number_order_across_hours() {
    let store = MemoryOrderStore::new();
    // Numbers out of clock order across an hour boundary.
    let hour = 3_600_000;
    for (order, number, paid_at) in [
        ("A", 3, 10 * hour - 1),
        ("B", 2, 10 * hour + 5),
        ("C", 1, 9 * hour + 1),
        ("D", 4, 11 * hour),
    ] {
        let mut step = paying_step(order);
        step.receipt = Some(Receipt { number, paid_at });
        store.commit(&oid(order), None, &step).await.unwrap();
    }
    let got: Vec<String> = store
        .receipts(9 * hour + 1, 11 * hour)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.order_id.to_string())
        .collect();
    assert_eq!(got, ["C", "B", "A"]);
}

/// `step` with a receipt when it applies a payment (as the consumer commits it).
pub(crate) fn with_receipt(mut step: Step) -> Step {
    if step.pays() {
        step.receipt = Some(Receipt {
            number: 1,
            paid_at: 1_000,
        });
    }
    step
}
