use super::*;
use crate::port::Version;
use convoy_core::sequencer::process;

fn txns(lines: &[&str]) -> Vec<Transaction> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn oid() -> OrderId {
    OrderId::parse("A-1").unwrap()
}

fn first_step() -> Step {
    let t = txns(&[
        r#"{"order_id":"A-1","seq":1,"op":"create","currency":"EUR"}"#,
        r#"{"order_id":"A-1","seq":2,"op":"add","txn_id":"t1","amount":"1"}"#,
        r#"{"order_id":"A-1","seq":4,"op":"add","txn_id":"t2","amount":"2"}"#,
        r#"{"order_id":"A-1","seq":5,"op":"pay"}"#,
    ]);
    process(&OrderState::new(oid()), &Default::default(), &t, 40).unwrap()
}

#[tokio::test]
async fn a_commit_is_one_conditional_put_and_racers_lose() {
    let store = MemoryOrderStore::new();
    let step = first_step();
    let head1 = store.commit(&oid(), None, &step).await.unwrap();
    assert_eq!(head1.version, Version::FIRST);
    // One log item, and the waiting entry (3 is missing, 4 and 5 parked); the step's
    // item and parked copies wait for the next commit.
    let before = store.items();
    assert_eq!(before.len(), 2);
    let waiting = item::read_waiting(&before[1]).unwrap();
    assert_eq!((waiting.next_seq, waiting.version), (3, Version::FIRST));
    assert_eq!(Some(waiting.since), head1.waiting_since);
    // A second "new order" commit loses: same key.
    let again = store.commit(&oid(), None, &step).await.unwrap_err();
    assert!(again.is_conflict(), "{again}");
    assert_eq!(store.items(), before);
    let head = store.load(&oid()).await.unwrap().unwrap();
    assert_eq!(head, head1);
    // Two writers on the same base: the second loses, though it copies items first.
    let t = txns(&[r#"{"order_id":"A-1","seq":3,"op":"add","txn_id":"t3","amount":"3"}"#]);
    let mut known = head.known();
    known.add_not_parked(Seq::new(3).unwrap());
    known.add_item(convoy_core::TxnId::parse("t3").unwrap(), None);
    known.add_item(convoy_core::TxnId::parse("t2").unwrap(), None);
    let second = crate::receipts_tests::with_receipt(process(&head.state, &known, &t, 40).unwrap());
    let head2 = store.commit(&oid(), Some(&head), &second).await.unwrap();
    let lost = store
        .commit(&oid(), Some(&head), &second)
        .await
        .unwrap_err();
    assert!(lost.is_conflict());
    assert_eq!(store.commits(), 2);
    let now = store.load(&oid()).await.unwrap().unwrap();
    assert_eq!(now, head2);
    // The gap closed: the waiting entry is gone.
    assert_eq!(now.waiting_since, None);
    assert!(store
        .items()
        .iter()
        .all(|i| item::Reader::new(i).sk() != keys::WAITING_SK));
    assert_eq!(now.state.status.as_str(), "paid");
    assert_eq!(now.state.next_seq, 6);
}

#[tokio::test]
async fn facts_are_read_from_the_log_and_from_their_own_items() {
    let store = MemoryOrderStore::new();
    let step = first_step();
    let head = store.commit(&oid(), None, &step).await.unwrap();
    let seq = |n| Seq::new(n).unwrap();
    let fact = store.fetch(&oid(), &Need::Processed(seq(2))).await.unwrap();
    assert!(matches!(fact, Some(Fact::Processed(s, _)) if s == seq(2)));
    assert_eq!(
        store.fetch(&oid(), &Need::Processed(seq(3))).await.unwrap(),
        None
    );
    // Parked 4 and 5 are in the log only, until the next commit copies them.
    assert!(store
        .fetch_parked(&oid(), seq(3), seq(9))
        .await
        .unwrap()
        .is_empty());
    let stored = store.load_stored_order(&oid()).await.unwrap().unwrap();
    assert_eq!(stored.parked.keys().copied().collect::<Vec<_>>(), [4, 5]);
    assert_eq!(stored.items.len(), 1);

    // Closing the gap: the commit copies items and parked transactions, then drains.
    let mut known = head.known();
    for t in store.fetch_parked(&oid(), seq(3), seq(9)).await.unwrap() {
        known.add_parked(t);
    }
    known.add_not_parked(seq(3));
    known.add_item(convoy_core::TxnId::parse("t2").unwrap(), None);
    let t = txns(&[r#"{"order_id":"A-1","seq":3,"op":"modify","txn_id":"t1","amount":"5"}"#]);
    let second = crate::receipts_tests::with_receipt(process(&head.state, &known, &t, 40).unwrap());
    assert_eq!(second.drained.len(), 2);
    let v2 = store.commit(&oid(), Some(&head), &second).await.unwrap();
    assert_eq!(
        store
            .fetch_parked(&oid(), seq(3), seq(9))
            .await
            .unwrap()
            .len(),
        0,
        "drained by the step that would copy them: never copied"
    );
    let t1 = Need::Item(convoy_core::TxnId::parse("t1").unwrap());
    let item = store.fetch(&oid(), &t1).await.unwrap();
    // Nor is t1 as step 1 left it: step 2 sets it again, its log item holds it.
    assert!(matches!(item, Some(Fact::Item(_, None))));
    let stored = store.load_stored_order(&oid()).await.unwrap().unwrap();
    assert!(stored.parked.is_empty());
    assert_eq!(stored.processed.len(), 5);
    assert_eq!(stored.state.status.as_str(), "paid");
    assert_eq!(
        stored
            .items
            .values()
            .map(|a| a.to_string())
            .collect::<Vec<_>>(),
        ["5.00", "2.00"]
    );
    assert_eq!(stored.state.total.to_string(), "7.00");
    let listed = store.list_orders().await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&stored.state));
    // Copies of the second step land; a late copy of the first never sets t1 back.
    for put in plan::copies(&oid(), &second.changes).unwrap() {
        assert!(store.put(put).unwrap());
    }
    for put in plan::copies(&oid(), &head.last).unwrap() {
        let is_item = matches!(put.condition, Condition::SeqBelow(_));
        assert_eq!(store.put(put).unwrap(), !is_item);
    }
    let item = store.fetch(&oid(), &t1).await.unwrap();
    assert!(matches!(item, Some(Fact::Item(_, Some(a))) if a.to_string() == "5.00"));
    let _ = v2;
    let other = OrderId::parse("A-10").unwrap();
    assert!(store.load_stored_order(&other).await.unwrap().is_none());
}
