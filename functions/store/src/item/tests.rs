//! Tests of the item layout: keys, attribute types, round trips, commit plans, sizes.

use super::*;
use crate::plan::{self, Condition, Now};
use convoy_core::sequencer::{process, Known, Step};

fn txn(json: &str) -> Transaction {
    serde_json::from_str(json).unwrap()
}

fn oid() -> OrderId {
    OrderId::parse("A-1").unwrap()
}

/// A step that records 1–2, parks 4 and then sees a conflict at 1.
fn step() -> Step {
    let txns = [
        txn(
            r#"{"order_id":"A-1","seq":1,"op":"create","currency":"EUR","at":"2026-11-24T09:00:00Z"}"#,
        ),
        txn(
            r#"{"order_id":"A-1","seq":2,"op":"add","txn_id":"t1","amount":"12.5","note":"first item"}"#,
        ),
        txn(r#"{"order_id":"A-1","seq":4,"op":"pay"}"#),
        txn(r#"{"order_id":"A-1","seq":1,"op":"create","currency":"USD"}"#),
    ];
    let mut known = Known::default();
    known.add_conflict(Seq::new(1).unwrap(), txns[3].fingerprint(), false);
    process(&OrderState::new(oid()), &known, &txns, 40).unwrap()
}

/// The time of a commit in these tests.
fn at(millis: u64) -> Now {
    Now {
        text: "2026-11-24T09:00:00Z".into(),
        millis,
    }
}

fn string<'a>(item: &'a Item, attribute: &str) -> &'a str {
    match item.get(attribute) {
        Some(AttributeValue::S(s)) => s,
        other => panic!("{attribute}: {other:?}"),
    }
}

#[test]
fn a_log_item_holds_the_head_and_the_changes_and_reads_back() {
    let step = step();
    let item = log(
        &step.state,
        &step.changes,
        1,
        Version::new(7),
        "2026-11-24T09:00:00Z",
        Some(1_000),
    )
    .unwrap();
    assert_eq!(string(&item, PK), "order#A-1");
    assert_eq!(string(&item, SK), keys::log_sk(1, 7));
    assert_eq!(string(&item, STATUS), "open");
    assert_eq!(item.get(NEXT_SEQ), Some(&AttributeValue::N("3".into())));
    let head = read_log(&item).unwrap();
    assert_eq!(head.state, step.state);
    assert_eq!(head.version, Version::new(7));
    assert_eq!(head.last, step.changes);
    assert_eq!(head.last.len(), 4, "two records, a park, a conflict");
    assert_eq!(head.waiting_since, Some(1_000));
}

#[test]
fn malformed_items_name_themselves() {
    let step = step();
    let mut item = log(&step.state, &step.changes, 1, Version::FIRST, "t", None).unwrap();
    item.insert(VERSION.into(), AttributeValue::S("one".into()));
    let e = read_log(&item).unwrap_err();
    assert!(e.to_string().contains("order#A-1"), "{e}");
    assert!(e.to_string().contains("version is not a number"), "{e}");
    item.insert(VERSION.into(), AttributeValue::N("1".into()));
    item.insert(STATE.into(), AttributeValue::S("{".into()));
    assert!(matches!(
        read_log(&item),
        Err(StoreError::Decode {
            attribute: "state",
            ..
        })
    ));
    let mut i = order_item(
        &oid(),
        &convoy_core::TxnId::parse("t").unwrap(),
        Amount::ZERO,
        Seq::FIRST,
    );
    i.insert(AMOUNT.into(), AttributeValue::S("1e2".into()));
    assert!(read_amount(&i).unwrap_err().to_string().contains("item#t"));
}

#[test]
fn a_commit_is_one_log_put_keyed_by_base_and_the_base_steps_copies() {
    let step = step();
    let first = plan::commit(&oid(), None, &step, &at(1_000)).unwrap();
    // Nothing to copy; the order begins to wait at 3 (4 is parked): its waiting entry.
    let copies: Vec<(String, Condition)> = first
        .copies
        .iter()
        .map(|p| (p.key().1, p.condition))
        .collect();
    assert_eq!(
        copies,
        [(keys::WAITING_SK.to_owned(), Condition::VersionBelow(1))]
    );
    assert_eq!(first.log.condition, Condition::Absent);
    assert_eq!(first.log.key().1, keys::log_sk(1, 1));
    assert_eq!(first.head.version, Version::FIRST);
    assert_eq!(first.head.waiting_since, Some(1_000));
    assert_eq!(first.cleared, None);

    let base = first.head;
    let mut known = base.known();
    known.add_not_parked(Seq::new(3).unwrap());
    known.add_not_parked(Seq::new(6).unwrap());
    let t = [txn(r#"{"order_id":"A-1","seq":6,"op":"ship"}"#)];
    let second = with_receipt(process(&base.state, &known, &t, 40).unwrap());
    // Still waiting at 3 (6 parked too): its entry stands, and so does its "since".
    let plan = plan::commit(&oid(), Some(&base), &second, &at(9_000)).unwrap();
    assert_eq!(plan.log.key().1, keys::log_sk(3, 2));
    assert_eq!(plan.head.waiting_since, Some(1_000));
    assert_eq!(plan.cleared, None);
    let copies: Vec<(String, Condition)> = plan
        .copies
        .iter()
        .map(|p| (p.key().1, p.condition))
        .collect();
    let fp = txn(r#"{"order_id":"A-1","seq":1,"op":"create","currency":"USD"}"#).fingerprint();
    assert_eq!(
        copies,
        [
            ("parked#00000000000000000004".to_owned(), Condition::Always),
            (keys::conflict_sk(Seq::FIRST, &fp), Condition::Always),
            ("item#t1".to_owned(), Condition::SeqBelow(2)),
        ]
    );
}

#[test]
fn what_the_step_supersedes_is_not_copied() {
    let step = step();
    let base = Head::after(&step, Version::FIRST, Some(1_000));
    // Seq 3 closes the gap and modifies t1 (step 1's t1 copy is not needed); 4 drains (its
    // parked copy is not needed either). The conflict is still copied.
    let mut known = base.known();
    for s in [3, 5, 6] {
        known.add_not_parked(Seq::new(s).unwrap());
    }
    let t = [
        txn(r#"{"order_id":"A-1","seq":3,"op":"modify","txn_id":"t1","amount":"1"}"#),
        txn(r#"{"order_id":"A-1","seq":5,"op":"cancel"}"#),
    ];
    let second = with_receipt(process(&base.state, &known, &t, 40).unwrap());
    // 5 comes after the gap: parked in the step, then drained with 4.
    assert_eq!(second.drained, [Seq::new(4).unwrap(), Seq::new(5).unwrap()]);
    let plan = plan::commit(&oid(), Some(&base), &second, &at(9_000)).unwrap();
    let copies: Vec<String> = plan.copies.iter().map(|p| p.key().1).collect();
    let fp = txn(r#"{"order_id":"A-1","seq":1,"op":"create","currency":"USD"}"#).fingerprint();
    assert_eq!(copies, [keys::conflict_sk(Seq::FIRST, &fp)]);
    // Nothing is parked any more: the waiting entry goes, after the log item.
    assert_eq!(plan.head.waiting_since, None);
    assert_eq!(
        plan.cleared,
        Some(plan::Delete {
            pk: "order#A-1".into(),
            sk: keys::WAITING_SK.into(),
            condition: Condition::VersionBelow(2),
        })
    );
}

#[test]
fn a_wait_that_moves_to_a_later_gap_starts_again() {
    // 1 and 2 recorded, 4 parked (waiting at 3 since 1 s); then 3 arrives (4 drains) and 7
    // is parked: the order now waits at 5, since the new step.
    let base = Head::after(&step(), Version::FIRST, Some(1_000));
    let mut known = base.known();
    for s in [3, 5, 6, 7] {
        known.add_not_parked(Seq::new(s).unwrap());
    }
    let t = [
        txn(r#"{"order_id":"A-1","seq":3,"op":"modify","txn_id":"t1","amount":"1"}"#),
        txn(r#"{"order_id":"A-1","seq":7,"op":"cancel"}"#),
    ];
    let second = with_receipt(process(&base.state, &known, &t, 40).unwrap());
    assert_eq!((second.state.next_seq, second.state.parked_count), (5, 1));
    let plan = plan::commit(&oid(), Some(&base), &second, &at(9_000)).unwrap();
    assert_eq!(plan.head.waiting_since, Some(9_000));
    let entry = plan
        .copies
        .iter()
        .find(|p| p.key().1 == keys::WAITING_SK)
        .expect("a new waiting entry");
    assert_eq!(entry.condition, Condition::VersionBelow(2));
    let w = read_waiting(&entry.item).unwrap();
    assert_eq!(
        (w.next_seq, w.since, w.version),
        (5, 9_000, Version::new(2))
    );
    assert_eq!(
        entry.item.get(keys::WAITING_SHARD),
        Some(&AttributeValue::S(keys::waiting_shard(&oid())))
    );
    assert_eq!(plan.cleared, None);
}

#[test]
fn a_step_whose_log_item_is_too_large_is_refused() {
    let mut txns = vec![txn(
        r#"{"order_id":"A-1","seq":1,"op":"create","currency":"EUR"}"#,
    )];
    let note = "n".repeat(1024);
    txns.extend((2..=400).map(|s| {
        txn(&format!(
            r#"{{"order_id":"A-1","seq":{s},"op":"add","txn_id":"{}{s}","amount":"1","note":"{note}"}}"#,
            "t".repeat(120)
        ))
    }));
    let step = process(&OrderState::new(oid()), &Known::default(), &txns, 1000).unwrap();
    let e = plan::commit(&oid(), None, &step, &at(1_000)).unwrap_err();
    assert!(e.is_permanent());
    assert!(
        matches!(e, StoreError::TooLarge { limit: 400_000, .. }),
        "{e}"
    );
}

#[test]
fn stored_order_collects_every_kind_and_ignores_foreign_items() {
    let step = step();
    let plan = plan::commit(&oid(), None, &step, &at(1_000)).unwrap();
    let mut items = vec![plan.log.item.clone()];
    items.push(super::key("order#A-1".into(), "operator-note".into()));
    let stored = stored_order(&items).unwrap().unwrap();
    assert_eq!(stored.state, step.state);
    assert_eq!(stored.processed.keys().copied().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(stored.parked.keys().copied().collect::<Vec<_>>(), [4]);
    assert_eq!(stored.items.len(), 1);
    assert_eq!(stored.conflicts.len(), 1);
    assert_eq!(stored_order(&items[1..]).unwrap().map(|s| s.state), None);
}

#[test]
fn the_waiting_index_projects_what_read_waiting_reads() {
    assert_eq!(
        keys::WAITING_PROJECTION,
        [NEXT_SEQ, VERSION, STALLED_AT, PARKED]
    );
}

#[test]
fn a_failure_item_reads_back_and_cuts_a_long_error_at_a_character() {
    let f = Failure {
        order_id: oid(),
        message_id: "m-1".into(),
        disposition: "poison".into(),
        error: "é".repeat(MAX_FAILURE_ERROR_BYTES),
        receive_count: Some(4),
        at: "2026-12-03T08:00:00Z".into(),
    };
    let item = failure(&f, 1_800_000_000);
    assert_eq!(string(&item, SK), "failure#m-1");
    assert_eq!(
        item.get(EXPIRES_AT),
        Some(&AttributeValue::N("1800000000".into()))
    );
    let back = read_failure(&item).unwrap();
    assert_eq!(back.error.len(), MAX_FAILURE_ERROR_BYTES);
    assert_eq!(
        back,
        Failure {
            error: "é".repeat(MAX_FAILURE_ERROR_BYTES / 2),
            ..f
        }
    );
}

/// `step` with a receipt when it applies a payment (as the consumer commits it).
fn with_receipt(mut step: Step) -> Step {
    if step.pays() {
        step.receipt = Some(convoy_core::Receipt {
            number: 1,
            paid_at: 1_000,
        });
    }
    step
}
