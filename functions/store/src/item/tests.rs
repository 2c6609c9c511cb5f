//! Tests of the item layout: keys, attribute types, round trips, commit plans.

use super::*;
use crate::plan::{self, Condition, Write};
use convoy_core::sequencer::{process, Change, Known, Step};

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
    process(&OrderState::new(oid()), &known, &txns, 99).unwrap()
}

fn string<'a>(item: &'a Item, attribute: &str) -> &'a str {
    match item.get(attribute) {
        Some(AttributeValue::S(s)) => s,
        other => panic!("{attribute}: {other:?}"),
    }
}

fn number<'a>(item: &'a Item, attribute: &str) -> &'a str {
    match item.get(attribute) {
        Some(AttributeValue::N(n)) => n,
        other => panic!("{attribute}: {other:?}"),
    }
}

#[test]
fn head_item_holds_state_json_version_and_operator_fields() {
    let step = step();
    let item = head(&step.state, Version::new(7), "2026-11-24T09:00:00Z").unwrap();
    assert_eq!(string(&item, "pk"), "order#A-1");
    assert_eq!(string(&item, "sk"), "state");
    assert_eq!(number(&item, "version"), "7");
    assert_eq!(string(&item, "order_id"), "A-1");
    assert_eq!(string(&item, "status"), "open");
    assert_eq!(number(&item, "next_seq"), "3");
    assert_eq!(number(&item, "parked_count"), "1");
    assert_eq!(string(&item, "updated_at"), "2026-11-24T09:00:00Z");
    let state: serde_json::Value = serde_json::from_str(string(&item, "state")).unwrap();
    assert_eq!(state["order_id"], "A-1");
    assert_eq!(state["parked"], serde_json::json!([4]));
    let (back, version) = read_head(&item).unwrap();
    assert_eq!(back, step.state);
    assert_eq!(version, Version::new(7));
}

#[test]
fn history_parked_and_conflict_items_round_trip() {
    let step = step();
    let id = oid();
    let mut seen = 0;
    for change in &step.changes {
        match change {
            Change::Record(seq, p) => {
                let item = history(&id, *seq, p).unwrap();
                assert_eq!(string(&item, "sk"), format!("seq#{:020}", seq.get()));
                assert_eq!(string(&item, "op"), p.txn.op().as_str());
                assert_eq!(string(&item, "outcome"), "applied");
                assert_eq!(string(&item, "fingerprint"), p.fingerprint.as_str());
                assert_eq!(&read_history(&item).unwrap(), p);
                seen += 1;
            }
            Change::Park(t) => {
                let item = parked(t).unwrap();
                assert_eq!(string(&item, "sk"), "parked#00000000000000000004");
                let wire: serde_json::Value = serde_json::from_str(string(&item, "txn")).unwrap();
                assert_eq!(
                    wire,
                    serde_json::json!({"order_id":"A-1","seq":4,"op":"pay"})
                );
                assert_eq!(&read_parked(&item).unwrap(), t);
                seen += 1;
            }
            Change::Conflict(seq, c) => {
                let item = conflict(&id, *seq, c).unwrap();
                assert_eq!(
                    string(&item, "sk"),
                    format!("conflict#00000000000000000001#{}", c.fingerprint)
                );
                assert_eq!(&read_conflict(&item).unwrap(), c);
                seen += 1;
            }
            Change::Unpark(_) => unreachable!("nothing was parked before"),
        }
    }
    assert_eq!(seen, 4);
}

#[test]
fn rejected_outcome_reads_as_its_reason() {
    let txns = [txn(r#"{"order_id":"A-1","seq":1,"op":"ship"}"#)];
    let step = process(&OrderState::new(oid()), &Known::default(), &txns, 99).unwrap();
    let Change::Record(seq, p) = &step.changes[0] else {
        panic!("{:?}", step.changes)
    };
    let item = history(&oid(), *seq, p).unwrap();
    assert_eq!(
        string(&item, "outcome"),
        "rejected: ship is not allowed when the order is new"
    );
}

#[test]
fn malformed_items_are_named_in_the_error() {
    let mut item = head(&step().state, Version::FIRST, "t").unwrap();
    item.insert("version".into(), AttributeValue::S("1".into()));
    let e = read_head(&item).unwrap_err();
    assert!(matches!(e, StoreError::Malformed { .. }), "{e}");
    assert!(e.to_string().contains("order#A-1 / state"), "{e}");
    item.insert("version".into(), AttributeValue::N("1".into()));
    item.insert("state".into(), AttributeValue::S("{}".into()));
    let e = read_head(&item).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Decode {
                attribute: "state",
                ..
            }
        ),
        "{e}"
    );
    item.remove("state");
    assert!(read_head(&item)
        .unwrap_err()
        .to_string()
        .contains("state is missing"));
}

#[test]
fn a_new_order_commit_puts_the_head_only_if_absent() {
    let step = step();
    let plan = plan::commit(&oid(), None, &step, "t").unwrap();
    assert_eq!(plan.version, Version::FIRST);
    assert_eq!(plan.writes.len(), step.changes.len() + 1);
    let Write::Put { item, condition } = &plan.writes[0] else {
        panic!("head first")
    };
    assert_eq!(*condition, Condition::Absent);
    assert_eq!(string(item, "sk"), "state");
    assert_eq!(number(item, "version"), "1");
    for w in &plan.writes[1..] {
        assert!(
            matches!(
                w,
                Write::Put {
                    condition: Condition::Absent,
                    ..
                }
            ),
            "{w:?}"
        );
    }
}

#[test]
fn a_later_commit_checks_the_version_and_deletes_unparked_items_if_present() {
    let first = step();
    let txns = [txn(
        r#"{"order_id":"A-1","seq":3,"op":"add","txn_id":"t2","amount":"1"}"#,
    )];
    let mut known = Known::default();
    known.add_parked(txn(r#"{"order_id":"A-1","seq":4,"op":"pay"}"#));
    let second = process(&first.state, &known, &txns, 99).unwrap();
    let plan = plan::commit(&oid(), Some(Version::new(3)), &second, "t").unwrap();
    assert_eq!(plan.version, Version::new(4));
    assert!(matches!(
        plan.writes[0],
        Write::Put { condition: Condition::Version(v), .. } if v == Version::new(3)
    ));
    let deletes: Vec<_> = plan
        .writes
        .iter()
        .filter_map(|w| match w {
            Write::Delete { key, condition } => Some((w.key(), key.len(), *condition)),
            Write::Put { .. } => None,
        })
        .collect();
    assert_eq!(
        deletes,
        [(
            (
                "order#A-1".to_owned(),
                "parked#00000000000000000004".to_owned()
            ),
            2,
            Condition::Present
        )]
    );
}

#[test]
fn a_step_larger_than_one_transaction_is_refused() {
    let txns: Vec<Transaction> = (2..=101)
        .map(|s| txn(&format!(r#"{{"order_id":"A-1","seq":{s},"op":"pay"}}"#)))
        .collect();
    let step = process(&OrderState::new(oid()), &Known::default(), &txns, 200).unwrap();
    assert_eq!(step.changes.len(), 100);
    let e = plan::commit(&oid(), None, &step, "t").unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::TooManyWrites {
                writes: 101,
                limit: 100,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn stored_order_collects_every_kind_and_ignores_foreign_items() {
    let step = step();
    let plan = plan::commit(&oid(), None, &step, "t").unwrap();
    let mut items: Vec<Item> = plan
        .writes
        .into_iter()
        .map(|w| match w {
            Write::Put { item, .. } => item,
            Write::Delete { key, .. } => key,
        })
        .collect();
    items.push(super::key("order#A-1".into(), "operator-note".into()));
    let stored = stored_order(&items).unwrap().unwrap();
    assert_eq!(stored.state, step.state);
    assert_eq!(stored.processed.keys().copied().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(stored.parked.keys().copied().collect::<Vec<_>>(), [4]);
    assert_eq!(stored.conflicts.len(), 1);
    assert_eq!(stored_order(&items[1..]).unwrap().map(|s| s.state), None);
}
