//! Tests of the sequencer: examples, conflicts, chunking, and properties against a model.

use super::*;
use crate::memory::OrderBook;
use crate::order::OrderState;
use crate::view::OrderView;
use crate::OrderId;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn t(json: &str) -> Transaction {
    serde_json::from_str(json).unwrap()
}

fn txn(order: &str, seq: u64, rest: &str) -> Transaction {
    t(&format!(
        r#"{{"order_id":"{order}","seq":{seq}{}{rest}}}"#,
        if rest.is_empty() { "" } else { "," }
    ))
}

fn void(order: &str, seq: u64) -> Transaction {
    Transaction::void(
        OrderId::parse(order).unwrap(),
        Seq::new(seq).unwrap(),
        "lost upstream",
        crate::Principal::parse("arn:aws:iam::123456789012:user/ops").unwrap(),
        "2026-12-03T10:00:00Z".to_owned(),
    )
    .unwrap()
}

fn view(book: &OrderBook, id: &str) -> OrderView {
    OrderView::from(book.get(&OrderId::parse(id).unwrap()).unwrap())
}

#[test]
fn in_order_applies_and_out_of_order_parks_then_drains() {
    let mut book = OrderBook::default();
    let d = book
        .receive(
            &[
                txn("A", 3, r#""op":"pay""#),
                txn("A", 2, r#""op":"add","txn_id":"x","amount":"1.5""#),
            ],
            99,
        )
        .unwrap();
    assert_eq!(d, vec![Disposition::Parked, Disposition::Parked]);
    assert_eq!(view(&book, "A").parked, vec![2, 3]);
    let d = book
        .receive(&[txn("A", 1, r#""op":"create","currency":"EUR""#)], 99)
        .unwrap();
    assert_eq!(d, vec![Disposition::Applied]);
    let v = view(&book, "A");
    assert_eq!((v.status.as_str(), v.next_seq, v.applied), ("paid", 4, 3));
    assert!(v.parked.is_empty());
    assert!(book
        .get(&OrderId::parse("A").unwrap())
        .unwrap()
        .parked
        .is_empty());
}

#[test]
fn duplicate_and_conflict_against_processed_and_parked() {
    let mut book = OrderBook::default();
    let create = txn("A", 1, r#""op":"create","currency":"EUR""#);
    let parked = txn("A", 3, r#""op":"add","txn_id":"b","amount":"2.5""#);
    book.receive(&[create.clone(), parked], 99).unwrap();
    let d = book
        .receive(
            &[
                txn("A", 1, r#""op":"create","currency":"EUR","note":"again""#),
                txn("A", 1, r#""op":"create","currency":"USD""#),
                txn("A", 3, r#""op":"add","txn_id":"b","amount":"2.50""#),
                txn("A", 3, r#""op":"add","txn_id":"b","amount":"9.99""#),
            ],
            99,
        )
        .unwrap();
    assert_eq!(
        d,
        vec![
            Disposition::Duplicate,
            Disposition::Conflict { counted: true },
            Disposition::Duplicate,
            Disposition::Conflict { counted: true },
        ]
    );
    let v = view(&book, "A");
    assert_eq!(
        (v.duplicates, v.conflicts, v.currency.as_deref()),
        (2, 2, Some("EUR"))
    );
    // The parked one stays and is the one applied when the gap closes.
    book.receive(
        &[txn("A", 2, r#""op":"add","txn_id":"a","amount":"1""#)],
        99,
    )
    .unwrap();
    let v = view(&book, "A");
    assert_eq!(v.items.get("b").unwrap().to_string(), "2.50");
    assert_eq!(v.total.to_string(), "3.50");
}

#[test]
fn a_redelivered_conflict_is_counted_once_in_the_same_or_a_later_batch() {
    let mut book = OrderBook::default();
    book.receive(&[txn("A", 1, r#""op":"create","currency":"EUR""#)], 99)
        .unwrap();
    let conflict = txn("A", 1, r#""op":"create","currency":"USD""#);
    let d = book
        .receive(&[conflict.clone(), conflict.clone()], 99)
        .unwrap();
    assert_eq!(
        d,
        vec![
            Disposition::Conflict { counted: true },
            Disposition::Conflict { counted: false }
        ]
    );
    let d = book.receive(&[conflict], 99).unwrap();
    assert_eq!(d, vec![Disposition::Conflict { counted: false }]);
    // A different conflicting content at the same seq is a new conflict.
    book.receive(&[txn("A", 1, r#""op":"create","currency":"JPY""#)], 99)
        .unwrap();
    assert_eq!(view(&book, "A").conflicts, 2);
}

#[test]
fn rejected_ops_advance_the_sequence_and_keep_their_reason() {
    let mut book = OrderBook::default();
    let d = book
        .receive(
            &[
                txn("A", 1, r#""op":"ship""#),
                txn("A", 2, r#""op":"create","currency":"JPY""#),
            ],
            99,
        )
        .unwrap();
    assert!(matches!(d[0], Disposition::Rejected(_)));
    let stored = book.get(&OrderId::parse("A").unwrap()).unwrap();
    match &stored.processed[&1].outcome {
        Outcome::Rejected { reason } => {
            assert_eq!(
                reason.to_string(),
                "ship is not allowed when the order is new"
            )
        }
        other => panic!("{other:?}"),
    }
    let v = view(&book, "A");
    assert_eq!((v.applied, v.rejected, v.next_seq), (1, 1, 3));
}

#[test]
fn the_items_to_read_together_are_the_unknown_ones_of_inputs_then_parked() {
    let mut known = Known::default();
    known.add_parked(txn("A", 9, r#""op":"add","txn_id":"p9","amount":"1""#));
    known.add_parked(txn("A", 7, r#""op":"modify","txn_id":"p7","amount":"1""#));
    known.add_not_parked(Seq::new(8).unwrap());
    known.add_item(crate::TxnId::parse("k").unwrap(), None);
    let inputs = [
        txn("A", 3, r#""op":"add","txn_id":"x","amount":"1""#),
        txn("A", 4, r#""op":"pay""#),
        txn("A", 5, r#""op":"modify","txn_id":"k","amount":"2""#),
        txn("A", 6, r#""op":"modify","txn_id":"x","amount":"2""#),
    ];
    let ids: Vec<String> = known
        .unknown_items(&inputs)
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    assert_eq!(ids, ["x", "p7", "p9"]);
}

#[test]
fn missing_facts_are_asked_for_not_guessed() {
    let seq = |n| Seq::new(n).unwrap();
    let mut state = OrderState::new(OrderId::parse("A").unwrap());
    state.next_seq = 5;
    state.parked_count = 1;
    state.item_count = 1;
    state.status = crate::order::Status::Open;
    let mut known = Known::default();
    // With parked transactions stored, a drain asks whether next_seq is parked; inputs
    // come before the drain, so an input below next_seq asks for its record first.
    let e = process(&state, &known, &[], 99).unwrap_err();
    assert_eq!(e, SeqError::Need(Need::Parked(seq(5))));
    let e = process(&state, &known, &[txn("A", 3, r#""op":"pay""#)], 99).unwrap_err();
    assert_eq!(e, SeqError::Need(Need::Processed(seq(3))));
    known.add_not_parked(seq(5));
    let e = process(&state, &known, &[txn("A", 3, r#""op":"pay""#)], 99).unwrap_err();
    assert_eq!(e, SeqError::Need(Need::Processed(seq(3))));
    let e = process(&state, &known, &[txn("A", 7, r#""op":"pay""#)], 99).unwrap_err();
    assert_eq!(e, SeqError::Need(Need::Parked(seq(7))));
    known.add_not_parked(seq(6));
    let add = txn("A", 5, r#""op":"add","txn_id":"x","amount":"1""#);
    let e = process(&state, &known, std::slice::from_ref(&add), 99).unwrap_err();
    let x = crate::TxnId::parse("x").unwrap();
    assert_eq!(e, SeqError::Need(Need::Item(x.clone())));
    known.add_item(x, None);
    let step = process(&state, &known, &[add], 99).unwrap();
    assert_eq!(step.dispositions, [Disposition::Applied]);
    assert_eq!((step.state.item_count, step.state.next_seq), (2, 6));
    let e = process(&state, &known, &[txn("B", 5, r#""op":"pay""#)], 99).unwrap_err();
    assert!(matches!(e, SeqError::WrongOrder { .. }));
}

#[test]
fn an_order_with_nothing_stored_asks_for_nothing() {
    // No stored items, no stored parked transactions: no fact to fetch for an add or a park.
    let state = OrderState::new(OrderId::parse("A").unwrap());
    let step = process(
        &state,
        &Known::default(),
        &[
            txn("A", 1, r#""op":"create","currency":"EUR""#),
            txn("A", 2, r#""op":"add","txn_id":"x","amount":"1""#),
            txn("A", 3, r#""op":"add","txn_id":"y","amount":"2""#),
            txn("A", 3, r#""op":"add","txn_id":"y","amount":"2""#),
            txn("A", 4, r#""op":"modify","txn_id":"x","amount":"5""#),
            txn("A", 6, r#""op":"pay""#),
        ],
        99,
    )
    .unwrap();
    assert_eq!(step.state.item_count, 2);
    assert_eq!(step.state.total.to_string(), "7.00");
    assert_eq!((step.state.next_seq, step.state.parked_count), (5, 1));
    assert_eq!(step.dispositions[3], Disposition::Duplicate);
}

#[test]
fn a_long_drain_is_split_into_steps_within_the_change_limit() {
    let mut state = OrderState::new(OrderId::parse("A").unwrap());
    let mut known = Known::default();
    for s in 2..=300u64 {
        let p = txn("A", s, r#""op":"delete""#);
        state.parked_count += 1;
        known.add_parked(p);
    }
    known.add_not_parked(Seq::new(1).unwrap());
    let mut inputs = vec![txn("A", 1, r#""op":"create","currency":"EUR""#)];
    let mut steps = 0;
    loop {
        let step = process(&state, &known, &inputs, 100).unwrap();
        assert!(step.changes.len() <= 100, "{}", step.changes.len());
        steps += 1;
        state = step.state.clone();
        known.remember(&step.changes);
        inputs.drain(..step.consumed());
        if inputs.is_empty() && !step.drain_pending() {
            break;
        }
    }
    assert!(steps >= 6, "{steps}");
    assert_eq!(state.next_seq, 301);
    assert_eq!(state.parked_count, 0);
    assert_eq!((state.applied, state.rejected), (2, 298));
}

#[test]
fn parked_and_drained_in_one_step_is_never_stored() {
    let state = OrderState::new(OrderId::parse("A").unwrap());
    let step = process(
        &state,
        &Known::default(),
        &[
            txn("A", 2, r#""op":"delete""#),
            txn("A", 1, r#""op":"create","currency":"EUR""#),
        ],
        99,
    )
    .unwrap();
    assert!(step.changes.iter().all(|c| matches!(c, Change::Record(..))));
    assert_eq!(step.changes.len(), 2);
    assert_eq!(step.drained, vec![Seq::new(2).unwrap()]);
}

#[test]
fn too_many_parked_is_an_error_not_a_loss() {
    let mut state = OrderState::new(OrderId::parse("A").unwrap());
    state.parked_count = MAX_PARKED as u64;
    let mut known = Known::default();
    known.add_not_parked(Seq::new(1).unwrap());
    known.add_not_parked(Seq::new(1_000_000).unwrap());
    let e = process(&state, &known, &[txn("A", 1_000_000, r#""op":"pay""#)], 99).unwrap_err();
    assert!(matches!(e, SeqError::TooManyParked { .. }));
}

// ---- properties against a reference model ----

#[test]
fn a_conflict_is_counted_once_when_a_batch_is_split_into_steps() {
    let mut book = OrderBook::default();
    book.receive(&[txn("A", 1, r#""op":"create","currency":"EUR""#)], 99)
        .unwrap();
    let conflict = txn("A", 1, r#""op":"create","currency":"USD""#);
    let d = book
        .receive(
            &[
                conflict.clone(),
                conflict.clone(),
                conflict.clone(),
                conflict,
            ],
            2,
        )
        .unwrap();
    assert_eq!(
        d.iter()
            .filter(|d| **d == Disposition::Conflict { counted: true })
            .count(),
        1
    );
    assert_eq!(view(&book, "A").conflicts, 1);
}

mod properties;

#[test]
fn a_voided_gap_lets_the_parked_drain_and_is_listed() {
    let mut book = OrderBook::default();
    book.receive(
        &[
            txn("A", 1, r#""op":"create","currency":"EUR""#),
            txn("A", 3, r#""op":"add","txn_id":"x","amount":"1.5""#),
            txn("A", 4, r#""op":"pay""#),
        ],
        99,
    )
    .unwrap();
    assert_eq!(view(&book, "A").parked, vec![3, 4]);
    let d = book.receive(&[void("A", 2)], 99).unwrap();
    assert_eq!(d, vec![Disposition::Voided]);
    let v = view(&book, "A");
    assert_eq!((v.status.as_str(), v.next_seq), ("paid", 5));
    assert_eq!((v.applied, v.rejected, v.voided.clone()), (3, 0, vec![2]));
    assert_eq!(
        v.applied + v.rejected + v.voided.len() as u64,
        v.next_seq - 1
    );
    assert!(v.parked.is_empty());
    let stored = book.get(&OrderId::parse("A").unwrap()).unwrap();
    let record = &stored.processed[&2];
    assert_eq!(record.outcome, Outcome::Voided);
    assert_eq!(record.txn.note.as_deref(), Some("lost upstream"));
    assert!(
        matches!(&record.txn.content, Content::Void { by } if by.as_str().ends_with("user/ops"))
    );
}

#[test]
fn a_void_ahead_waits_parked_until_the_sequence_reaches_it() {
    let mut book = OrderBook::default();
    book.receive(&[txn("A", 1, r#""op":"create","currency":"EUR""#)], 99)
        .unwrap();
    assert_eq!(
        book.receive(&[void("A", 3)], 99).unwrap(),
        vec![Disposition::Parked]
    );
    let v = view(&book, "A");
    assert_eq!(
        (v.next_seq, v.parked.clone(), v.voided.clone()),
        (2, vec![3], vec![])
    );
    book.receive(
        &[txn("A", 2, r#""op":"add","txn_id":"x","amount":"1""#)],
        99,
    )
    .unwrap();
    let v = view(&book, "A");
    assert_eq!(
        (v.next_seq, v.parked.clone(), v.voided.clone()),
        (4, vec![], vec![3])
    );
}

#[test]
fn a_void_is_idempotent_and_refused_where_a_transaction_holds_the_seq() {
    let mut book = OrderBook::default();
    book.receive(
        &[
            txn("A", 1, r#""op":"create","currency":"EUR""#),
            txn("A", 4, r#""op":"pay""#),
        ],
        99,
    )
    .unwrap();
    book.receive(&[void("A", 2)], 99).unwrap();
    let before = view(&book, "A");
    let d = book
        .receive(&[void("A", 2), void("A", 1), void("A", 4)], 99)
        .unwrap();
    assert_eq!(
        d,
        vec![
            Disposition::Duplicate,
            Disposition::VoidRefused(VoidRefusal::Processed),
            Disposition::VoidRefused(VoidRefusal::Parked),
        ]
    );
    let mut after = view(&book, "A");
    assert_eq!(after.duplicates, before.duplicates + 1);
    after.duplicates = before.duplicates;
    assert_eq!(after, before, "a refused void changes nothing");
}

#[test]
fn a_transaction_arriving_for_a_voided_seq_is_a_conflict() {
    let mut book = OrderBook::default();
    book.receive(&[txn("A", 1, r#""op":"create","currency":"EUR""#)], 99)
        .unwrap();
    book.receive(&[void("A", 2), void("A", 5)], 99).unwrap();
    let d = book
        .receive(
            &[
                txn("A", 2, r#""op":"add","txn_id":"x","amount":"1""#),
                txn("A", 5, r#""op":"pay""#),
            ],
            99,
        )
        .unwrap();
    assert_eq!(
        d,
        vec![
            Disposition::Conflict { counted: true },
            Disposition::Conflict { counted: true }
        ]
    );
    let v = view(&book, "A");
    assert_eq!((v.conflicts, v.applied, v.next_seq), (2, 1, 3));
    assert!(v.items.is_empty());
    assert_eq!((v.voided.clone(), v.parked.clone()), (vec![2], vec![5]));
}

#[test]
fn voids_past_the_limit_are_refused() {
    let mut book = OrderBook::default();
    let voids: Vec<Transaction> = (1..=MAX_VOIDED as u64 + 1).map(|s| void("A", s)).collect();
    let d = book.receive(&voids, 1_000).unwrap();
    assert!(d[..MAX_VOIDED].iter().all(|d| *d == Disposition::Voided));
    assert_eq!(
        d[MAX_VOIDED],
        Disposition::VoidRefused(VoidRefusal::TooMany)
    );
    assert_eq!(view(&book, "A").next_seq, MAX_VOIDED as u64 + 1);
}
