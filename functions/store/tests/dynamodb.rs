//! The DynamoDB adapter against a real DynamoDB API: the emulator of the test command
//! (`bash infra/test.sh` starts LocalStack and exports `AWS_ENDPOINT_URL`), DynamoDB Local
//! or AWS. Without `AWS_ENDPOINT_URL` every test fails saying so. Each test makes its own
//! table and deletes it at the end.
#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use convoy_core::sequencer::{process, Known, Need};
use convoy_core::{OrderId, OrderState, Seq, Transaction};
use convoy_store::{
    emulator, item, DynamoOrderStore, Fact, OrderReader, OrderStore, StoreError, Version,
    WaitingStore,
};

fn txns(lines: &[String]) -> Vec<Transaction> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn line(seq: u64, rest: &str) -> String {
    format!(r#"{{"order_id":"A-1","seq":{seq},{rest}}}"#)
}

#[tokio::test]
async fn log_commits_copies_and_reads_against_dynamodb() {
    let client = emulator::client().await;
    let name = emulator::create_table(&client, "convoy-store-live").await;
    let store = DynamoOrderStore::new(client.clone(), &name);
    let id = OrderId::parse("A-1").unwrap();
    let seq = |n| Seq::new(n).unwrap();

    // A new order: create and add applied, 4 and 5 parked.
    let first = txns(&[
        line(1, r#""op":"create","currency":"EUR""#),
        line(2, r#""op":"add","txn_id":"t1","amount":"1""#),
        line(4, r#""op":"add","txn_id":"t2","amount":"2.50""#),
        line(5, r#""op":"pay""#),
    ]);
    let step1 = process(&OrderState::new(id.clone()), &Known::default(), &first, 40).unwrap();
    let head1 = store.commit(&id, None, &step1).await.unwrap();
    assert_eq!(head1.version, Version::FIRST);
    // The same "new order" commit again: the log key is taken, a Conflict.
    let again = store.commit(&id, None, &step1).await.unwrap_err();
    assert!(again.is_conflict(), "{again:?}");
    let head = store.load(&id).await.unwrap().unwrap();
    assert_eq!(head, head1);
    // Waiting at 3: the order is in the waiting index (read back as the watchdog does).
    let since = head.waiting_since.expect("waiting since the commit");
    let waiting = store.waiting_since(since).await.unwrap();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(
        (&waiting[0].order_id, waiting[0].next_seq, waiting[0].since),
        (&id, 3, since)
    );
    assert!(store.waiting_since(since - 1).await.unwrap().is_empty());
    assert!(store.mark_stalled(&waiting[0], 2, since + 5).await.unwrap());
    assert!(store.mark_stalled(&waiting[0], 2, since + 9).await.unwrap());
    let marked = store.waiting_since(since).await.unwrap();
    assert_eq!(
        (marked[0].stalled_at, marked[0].parked),
        (Some(since + 5), Some(2)),
        "the first finding is kept"
    );

    // Facts: history from the log; parked copies come with the next commit.
    let fact = store.fetch(&id, &Need::Processed(seq(2))).await.unwrap();
    assert!(matches!(fact, Some(Fact::Processed(s, _)) if s == seq(2)));
    assert_eq!(
        store.fetch(&id, &Need::Processed(seq(3))).await.unwrap(),
        None
    );
    assert!(store
        .fetch_parked(&id, seq(3), seq(100))
        .await
        .unwrap()
        .is_empty());

    // Closing the gap: the commit copies step 1's item and parked transactions, then
    // writes its log item; a second writer on the same base loses.
    let mut known = head.known();
    known.add_not_parked(seq(3));
    known.add_item(convoy_core::TxnId::parse("t2").unwrap(), None);
    let second = txns(&[line(3, r#""op":"modify","txn_id":"t1","amount":"10""#)]);
    let mut step2 = process(&head.state, &known, &second, 40).unwrap();
    assert_eq!(step2.drained, [seq(4), seq(5)]);
    // The drained 5 is the order's payment: the step commits its receipt.
    assert!(step2.pays());
    step2.receipt = Some(convoy_core::Receipt {
        number: 1,
        paid_at: 1_000,
    });
    let head2 = store.commit(&id, Some(&head), &step2).await.unwrap();
    let lost = store.commit(&id, Some(&head), &step2).await.unwrap_err();
    assert!(lost.is_conflict(), "{lost:?}");
    // Step 2 drains 4 and 5 and sets t1 again: neither is copied, its log item holds them.
    assert!(store
        .fetch_parked(&id, seq(4), seq(5))
        .await
        .unwrap()
        .is_empty());
    let t1 = convoy_core::TxnId::parse("t1").unwrap();
    let fact = store.fetch(&id, &Need::Item(t1.clone())).await.unwrap();
    assert_eq!(fact, Some(Fact::Item(t1, None)));
    let stored = store.load_stored_order(&id).await.unwrap().unwrap();
    assert_eq!(stored.state, step2.state);
    assert_eq!(stored.state.status.as_str(), "paid");
    assert_eq!(
        stored.processed.keys().copied().collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert!(stored.parked.is_empty());
    let amounts: Vec<String> = stored.items.values().map(|a| a.to_string()).collect();
    assert_eq!(amounts, ["10.00", "2.50"]);

    // A late copy of step 1's item never sets t1 back over step 2's (copied by step 3).
    // The gap closed: the entry is gone, and the watchdog's stale copy of it changes
    // nothing.
    assert!(store.waiting_since(u64::MAX).await.unwrap().is_empty());
    assert!(!store.mark_stalled(&waiting[0], 2, since).await.unwrap());
    assert!(!store.clear_waiting(&waiting[0]).await.unwrap());
    let clash = txns(&[line(4, r#""op":"ship""#)]);
    let fp = clash[0].fingerprint();
    let mut known = head2.known();
    let fact = store
        .fetch(&id, &Need::Conflict(seq(4), fp.clone()))
        .await
        .unwrap()
        .unwrap();
    fact.add_to(&mut known);
    let step3 = process(&head2.state, &known, &clash, 40).unwrap();
    store.commit(&id, Some(&head2), &step3).await.unwrap();
    let late = store.commit(&id, Some(&head), &step2).await.unwrap_err();
    assert!(late.is_conflict());
    let stored = store.load_stored_order(&id).await.unwrap().unwrap();
    assert_eq!(
        stored
            .items
            .values()
            .map(|a| a.to_string())
            .collect::<Vec<_>>(),
        ["10.00", "2.50"]
    );
    assert_eq!(stored.conflicts.len(), 1);
    assert_eq!(stored.state.conflicts, 1);

    // Another writer's items never show as orders.
    client
        .put_item()
        .table_name(&name)
        .set_item(Some(item::key(
            "ledger#ledgers/a.jsonl".into(),
            "log#x".into(),
        )))
        .send()
        .await
        .unwrap();
    let listed = store.list_orders().await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&step3.state));

    // Units: counted by AWS's rules for every request; the emulator reports its own.
    let total = store.usage().total();
    assert!(
        total.units.write >= 8.0 && total.units.read >= 8.0,
        "{total:?}"
    );
    eprintln!(
        "units by AWS's rules {:?}, reported {:?}",
        total.units, total.reported
    );

    emulator::delete_table(&client, &name).await;
}

#[tokio::test]
async fn a_missing_table_is_a_backend_error_not_a_conflict() {
    let client = emulator::client().await;
    let store = DynamoOrderStore::new(client, emulator::unique_name("convoy-no-such-table"));
    let id = OrderId::parse("A-1").unwrap();
    let t = txns(&[line(1, r#""op":"create","currency":"EUR""#)]);
    let step = process(&OrderState::new(id.clone()), &Known::default(), &t, 40).unwrap();
    let e = store.commit(&id, None, &step).await.unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Backend {
                operation: "PutItem",
                ..
            }
        ),
        "{e:?}"
    );
    let e = store.load(&id).await.unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Backend {
                operation: "Query",
                ..
            }
        ),
        "{e:?}"
    );
}

/// A paying step's transaction on DynamoDB's API: the receipt lands with the log item; a
/// racer on the same base is a conflict and writes no receipt; a number taken twice is
/// refused; a payment before the seal is refused with the seal's instant; the seal is
/// never lowered; a window's receipts read back in number order.
#[tokio::test]
async fn a_paying_step_commits_its_receipt_atomically_against_dynamodb() {
    use convoy_core::Receipt;
    use convoy_store::ReceiptReader;
    let client = emulator::client().await;
    let name = emulator::create_table(&client, "convoy-store-receipts").await;
    let store = DynamoOrderStore::new(client.clone(), &name);
    let paying = |order: &str| {
        let id = OrderId::parse(order).unwrap();
        let t: Vec<Transaction> = [
            r#""seq":1,"op":"create","currency":"EUR""#,
            r#""seq":2,"op":"add","txn_id":"t1","amount":"2.5""#,
            r#""seq":3,"op":"pay""#,
        ]
        .iter()
        .map(|rest| serde_json::from_str(&format!(r#"{{"order_id":"{order}",{rest}}}"#)).unwrap())
        .collect();
        let step = process(&OrderState::new(id.clone()), &Known::default(), &t, 40).unwrap();
        (id, step)
    };
    assert_eq!(store.take_receipt().await.unwrap(), 1);
    assert_eq!(store.take_receipt().await.unwrap(), 2);

    let (a, mut step) = paying("A-1");
    step.receipt = Some(Receipt {
        number: 2,
        paid_at: 1_000,
    });
    store.commit(&a, None, &step).await.unwrap();
    // A racer from the same base (no order yet) loses; its receipt is not written.
    step.receipt = Some(Receipt {
        number: 3,
        paid_at: 1_001,
    });
    let e = store.commit(&a, None, &step).await.unwrap_err();
    assert!(e.is_conflict(), "{e}");
    // Another order with a number already committed: refused, nothing written.
    let (b, mut other) = paying("B-1");
    other.receipt = Some(Receipt {
        number: 2,
        paid_at: 1_002,
    });
    let e = store.commit(&b, None, &other).await.unwrap_err();
    assert!(matches!(e, StoreError::Receipt { .. }), "{e}");
    assert!(store.load(&b).await.unwrap().is_none());
    // Sealed up to 5,000: a payment at 4,999 is refused with the seal; at 5,000 it lands.
    assert_eq!(store.seal(5_000).await.unwrap(), 5_000);
    assert_eq!(store.seal(4_000).await.unwrap(), 5_000, "never lowered");
    other.receipt = Some(Receipt {
        number: 4,
        paid_at: 4_999,
    });
    let e = store.commit(&b, None, &other).await.unwrap_err();
    assert!(
        matches!(e, StoreError::Sealed { through: 5_000, .. }),
        "{e}"
    );
    assert!(e.is_transient());
    other.receipt = Some(Receipt {
        number: 5,
        paid_at: 5_000,
    });
    store.commit(&b, None, &other).await.unwrap();
    let read: Vec<(String, u64, u64)> = store
        .receipts(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.order_id.to_string(), p.receipt.number, p.receipt.paid_at))
        .collect();
    assert_eq!(read, [("A-1".into(), 2, 1_000), ("B-1".into(), 5, 5_000)]);
    assert_eq!(store.receipts(1_001, 5_000).await.unwrap().len(), 0);
    client
        .delete_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
}
