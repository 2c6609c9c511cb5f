//! The receipt sequence: a step that applies a `pay` takes a number and commits it with
//! the step; nothing else takes one, and no payment ever has two.

use super::{event_of, later, oid, NoResume};
use crate::settings::Clock;
use crate::{handle_with, Settings};
use convoy_store::{MemoryOrderStore, OrderStore, ReceiptReader};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn line(order: &str, seq: u64, rest: &str) -> (String, String) {
    (
        order.to_owned(),
        format!(r#"{{"order_id":"{order}","seq":{seq}{rest}}}"#),
    )
}

/// create, add, add, pay for `order`.
fn paid(order: &str) -> Vec<(String, String)> {
    vec![
        line(order, 1, r#","op":"create","currency":"EUR""#),
        line(order, 2, r#","op":"add","txn_id":"t1","amount":"12.5""#),
        line(order, 3, r#","op":"add","txn_id":"t2","amount":"15""#),
        line(order, 4, r#","op":"pay""#),
    ]
}

fn clock_at(ms: &Arc<AtomicU64>) -> Settings {
    let ms = ms.clone();
    Settings {
        clock: Clock::new(move || ms.load(Ordering::SeqCst)),
        ..Settings::default()
    }
}

const T0: u64 = 1_796_652_000_000; // 2026-12-07T14:00:00Z
const DAY: u64 = 86_400_000;

#[tokio::test]
async fn a_payment_commits_one_receipt_with_its_time_and_nothing_else_takes_one() {
    let store = MemoryOrderStore::new();
    let now = Arc::new(AtomicU64::new(T0 - 1_000));
    let settings = clock_at(&now);
    let mut records = paid("A-1");
    records.push(line("B-1", 1, r#","op":"create","currency":"USD""#));
    let response = handle_with(&store, &NoResume, event_of(&records), &settings, later())
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    now.store(T0 + 1_000, Ordering::SeqCst);
    let response = handle_with(
        &store,
        &NoResume,
        event_of(&paid("C-1")),
        &settings,
        later(),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());

    let all = store.receipts(T0 - DAY, T0 + DAY).await.unwrap();
    let got: Vec<_> = all
        .iter()
        .map(|p| {
            (
                p.order_id.to_string(),
                p.receipt.number,
                p.receipt.paid_at,
                p.total.to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("A-1".to_owned(), 1, T0 - 1_000, "27.50".to_owned()),
            ("C-1".to_owned(), 2, T0 + 1_000, "27.50".to_owned()),
        ]
    );
    assert_eq!(all[0].currency.as_deref(), Some("EUR"));
    // The window's bounds: one before the cutoff, one after.
    let before = store.receipts(T0 - DAY, T0).await.unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].order_id, oid("A-1"));
    let after = store.receipts(T0, T0 + DAY).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].order_id, oid("C-1"));
}

#[tokio::test]
async fn a_redelivered_payment_is_a_duplicate_and_takes_no_number() {
    let store = MemoryOrderStore::new();
    let now = Arc::new(AtomicU64::new(T0));
    let settings = clock_at(&now);
    for _ in 0..3 {
        let response = handle_with(
            &store,
            &NoResume,
            event_of(&paid("A-1")),
            &settings,
            later(),
        )
        .await
        .unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
    let all = store.receipts(T0 - DAY, T0 + DAY).await.unwrap();
    assert_eq!(all.len(), 1);
    // The next number is 2: the duplicates took none.
    assert_eq!(store.take_receipt().await.unwrap(), 2);
}

#[tokio::test]
async fn a_payment_that_loses_a_race_leaves_a_gap_never_a_second_receipt() {
    let inner = MemoryOrderStore::new();
    let records = paid("A-1");
    let rival: Vec<convoy_core::Transaction> = records
        .iter()
        .map(|(_, body)| serde_json::from_str(body).unwrap())
        .collect();
    let store = super::Racing {
        inner: &inner,
        rival: std::sync::Mutex::new(Some(rival)),
    };
    let response = handle_with(
        &store,
        &NoResume,
        event_of(&records),
        &Settings::default(),
        later(),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
    // The rival ran with the system clock: its receipt is read from the table as it is.
    let receipts: Vec<u64> = inner
        .items()
        .iter()
        .map(convoy_store::item::Reader::new)
        .filter(|r| r.pk().starts_with("receipts#2"))
        .map(|r| r.number("receipt").unwrap())
        .collect();
    // Ours took 1 and lost the race to the rival's commit (2); the retry found the
    // payment applied: a duplicate, no number.
    assert_eq!(receipts, [2]);
    assert_eq!(inner.take_receipt().await.unwrap(), 3);
}

#[tokio::test]
async fn a_payment_behind_the_seal_is_paid_at_the_seal() {
    let store = MemoryOrderStore::new();
    // A batch read the receipts up to T0; this consumer's clock is a second behind.
    assert_eq!(store.seal(T0).await.unwrap(), T0);
    assert_eq!(store.seal(T0 - DAY).await.unwrap(), T0, "never lowered");
    let now = Arc::new(AtomicU64::new(T0 - 1_000));
    let response = handle_with(
        &store,
        &NoResume,
        event_of(&paid("A-1")),
        &clock_at(&now),
        later(),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let all = store.receipts(T0 - DAY, T0 + DAY).await.unwrap();
    // Its first number (1) was refused with the seal; the second is paid at the seal: in
    // the window after the one read.
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].receipt.number, all[0].receipt.paid_at), (2, T0));
}
