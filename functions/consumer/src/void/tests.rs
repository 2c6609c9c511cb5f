//! Voids against the in-memory store: a gap voided drains the order; ahead, again, and
//! where a transaction holds the seq.

use super::*;
use crate::tests::{later, views};
use convoy_store::{MemoryOrderStore, OrderReader};

fn txn(json: &str) -> Transaction {
    serde_json::from_str(json).unwrap()
}

fn oid(s: &str) -> OrderId {
    OrderId::parse(s).unwrap()
}

fn request(order: &str, seq: u64) -> VoidRequest {
    VoidRequest {
        order_id: oid(order),
        seq: Seq::new(seq).unwrap(),
        reason: "the upstream system lost it".to_owned(),
        by: Principal::parse("arn:aws:sts::123456789012:assumed-role/ops/alice").unwrap(),
        at: "2026-12-03T10:00:00Z".to_owned(),
    }
}

/// Order A: created, then seq 2 lost, 3 and 4 parked behind it.
async fn with_a_gap() -> MemoryOrderStore {
    let store = MemoryOrderStore::new();
    let inputs = [
        txn(r#"{"order_id":"A","seq":1,"op":"create","currency":"EUR"}"#),
        txn(r#"{"order_id":"A","seq":3,"op":"add","txn_id":"t","amount":"5"}"#),
        txn(r#"{"order_id":"A","seq":4,"op":"pay"}"#),
    ];
    let applied = apply_order(&store, &oid("A"), &inputs, &Settings::default(), later()).await;
    assert!(applied.error.is_none());
    store
}

#[tokio::test]
async fn voiding_the_missing_seq_drains_the_order_and_lists_it() {
    let store = with_a_gap().await;
    let outcome = void(&store, &request("A", 2), &Settings::default(), later())
        .await
        .unwrap();
    assert_eq!(
        outcome,
        VoidOutcome::Now {
            next_seq: 5,
            drained: 2,
            drain_unfinished: false
        }
    );
    let v = &views(&store).await["A"];
    assert_eq!(
        (&v["status"], &v["voided"], &v["parked"], &v["applied"]),
        (
            &serde_json::json!("paid"),
            &serde_json::json!([2]),
            &serde_json::json!([]),
            &serde_json::json!(3)
        )
    );
    // Who, when and why are in the order's history.
    let stored = store.load_stored_order(&oid("A")).await.unwrap().unwrap();
    let record = &stored.processed[&2];
    assert_eq!(
        record.txn.note.as_deref(),
        Some("the upstream system lost it")
    );
    assert_eq!(record.txn.at.as_deref(), Some("2026-12-03T10:00:00Z"));
    let convoy_core::Content::Void { by } = &record.txn.content else {
        panic!("{:?}", record.txn.content)
    };
    assert!(by.as_str().ends_with("assumed-role/ops/alice"));
}

#[tokio::test]
async fn a_void_ahead_waits_and_a_second_void_changes_nothing() {
    let store = with_a_gap().await;
    let settings = Settings::default();
    let ahead = void(&store, &request("A", 6), &settings, later())
        .await
        .unwrap();
    assert_eq!(ahead, VoidOutcome::Ahead { next_seq: 2 });
    let again = void(&store, &request("A", 6), &settings, later())
        .await
        .unwrap();
    assert_eq!(again, VoidOutcome::Already { next_seq: 2 });
    void(&store, &request("A", 2), &settings, later())
        .await
        .unwrap();
    let more = [txn(r#"{"order_id":"A","seq":5,"op":"ship"}"#)];
    apply_order(&store, &oid("A"), &more, &settings, later()).await;
    let v = &views(&store).await["A"];
    assert_eq!(
        (&v["next_seq"], &v["voided"]),
        (&serde_json::json!(7), &serde_json::json!([2, 6]))
    );
    assert_eq!(&v["status"], &serde_json::json!("shipped"));
}

#[tokio::test]
async fn a_seq_that_is_not_missing_is_refused_with_a_clear_error() {
    let store = with_a_gap().await;
    let settings = Settings::default();
    let before = views(&store).await;
    let processed = void(&store, &request("A", 1), &settings, later())
        .await
        .unwrap_err();
    assert_eq!(
        processed.to_string(),
        "order A: seq 1 was processed meanwhile (applied or rejected); nothing was voided"
    );
    let parked = void(&store, &request("A", 3), &settings, later())
        .await
        .unwrap_err();
    assert!(
        matches!(parked, VoidError::Parked { seq: 3, .. }),
        "{parked}"
    );
    let missing = void(&store, &request("B", 1), &settings, later())
        .await
        .unwrap_err();
    assert_eq!(missing.to_string(), "order B not found: nothing to void");
    let mut no_reason = request("A", 2);
    no_reason.reason = " ".to_owned();
    let invalid = void(&store, &no_reason, &settings, later())
        .await
        .unwrap_err();
    assert_eq!(
        convoy_core::chain(&invalid),
        "the void is invalid: note: a void needs a reason"
    );
    assert_eq!(views(&store).await, before, "nothing changed");
}
