//! The DynamoDB adapter against a real DynamoDB API: the emulator of the test command
//! (`bash infra/test.sh` starts LocalStack and exports `AWS_ENDPOINT_URL`), DynamoDB Local
//! or AWS. Without `AWS_ENDPOINT_URL` every test fails saying so. Each test makes its own
//! table and deletes it at the end.
#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use convoy_core::sequencer::{process, Known, Need};
use convoy_core::{OrderId, OrderState, Seq, Transaction};
use convoy_store::plan::MAX_TRANSACT_ITEMS;
use convoy_store::{
    emulator, item, DynamoOrderStore, Fact, OrderReader, OrderStore, StoreError, Version,
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
async fn transactions_conditions_and_reads_against_dynamodb() {
    let client = emulator::client().await;
    let name = emulator::create_table(&client, "convoy-store-live").await;
    let store = DynamoOrderStore::new(client.clone(), &name);
    let id = OrderId::parse("A-1").unwrap();
    let seq = |n| Seq::new(n).unwrap();

    // A new order: create applied, 3 and 4 parked.
    let first = txns(&[
        line(1, r#""op":"create","currency":"EUR""#),
        line(3, r#""op":"add","txn_id":"t2","amount":"2.50""#),
        line(4, r#""op":"pay""#),
    ]);
    let step1 = process(&OrderState::new(id.clone()), &Known::default(), &first, 99).unwrap();
    let v1 = store.commit(&id, None, &step1).await.unwrap();
    assert_eq!(v1, Version::FIRST);
    // The same "new order" commit again, and one from a stale version: Conflict.
    let again = store.commit(&id, None, &step1).await.unwrap_err();
    assert!(again.is_conflict(), "{again:?}");
    let stale = store.commit(&id, Some(Version::new(7)), &step1).await;
    assert!(stale.unwrap_err().is_conflict());
    assert_eq!(
        store.load(&id).await.unwrap(),
        Some((step1.state.clone(), v1))
    );

    // Facts.
    let fact = store.fetch(&id, &Need::Processed(seq(1))).await.unwrap();
    assert!(matches!(fact, Some(Fact::Processed(s, _)) if s == seq(1)));
    assert_eq!(
        store.fetch(&id, &Need::Processed(seq(2))).await.unwrap(),
        None
    );
    let parked = store.fetch_parked(&id, seq(2), seq(100)).await.unwrap();
    assert_eq!(parked, first[1..]);
    let one = store.fetch(&id, &Need::Parked(seq(4))).await.unwrap();
    assert_eq!(one, Some(Fact::Parked(first[2].clone())));

    // Closing the gap drains 3 and 4: parked items deleted on condition they exist.
    let mut known = Known::default();
    for t in parked {
        known.add_parked(t);
    }
    let second = txns(&[line(2, r#""op":"add","txn_id":"t1","amount":"10""#)]);
    let step2 = process(&step1.state, &known, &second, 99).unwrap();
    let v2 = store.commit(&id, Some(v1), &step2).await.unwrap();
    assert_eq!(v2, Version::new(2));
    // The same step again at the right version: the head condition holds, but the history
    // puts and unpark deletes do not — still a Conflict, and nothing is written.
    let redo = store.commit(&id, Some(v2), &step2).await.unwrap_err();
    assert!(redo.is_conflict(), "{redo:?}");
    let stored = store.load_stored_order(&id).await.unwrap().unwrap();
    assert_eq!(stored.state, step2.state);
    assert_eq!(stored.state.status.as_str(), "paid");
    assert_eq!(
        stored.processed.keys().copied().collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert!(stored.parked.is_empty());
    assert_eq!(store.load(&id).await.unwrap().map(|(_, v)| v), Some(v2));

    // A conflict is recorded once.
    let clash = txns(&[line(4, r#""op":"ship""#)]);
    let fp = clash[0].fingerprint();
    let fact = store.fetch(&id, &Need::Conflict(seq(4), fp.clone())).await;
    let Some(fact) = fact.unwrap() else { panic!() };
    let mut known = Known::default();
    known.add_processed(
        seq(4),
        step2
            .changes
            .iter()
            .find_map(|c| match c {
                convoy_core::sequencer::Change::Record(s, p) if *s == seq(4) => {
                    Some(p.fingerprint.clone())
                }
                _ => None,
            })
            .unwrap(),
    );
    fact.add_to(&mut known);
    let step3 = process(&step2.state, &known, &clash, 99).unwrap();
    let v3 = store.commit(&id, Some(v2), &step3).await.unwrap();
    let fact = store
        .fetch(&id, &Need::Conflict(seq(4), fp.clone()))
        .await
        .unwrap();
    assert_eq!(
        fact,
        Some(Fact::Conflict {
            seq: seq(4),
            fingerprint: fp,
            recorded: true
        })
    );

    // A full transaction: the head and 99 parked puts (100 items).
    let many: Vec<Transaction> = (10..=108)
        .map(|s| txns(&[line(s, r#""op":"ship""#)]).remove(0))
        .collect();
    // (The sequencer keeps room for two changes per input, so ask it for 100.)
    let step4 = process(&step3.state, &Known::default(), &many, 100).unwrap();
    assert_eq!(step4.changes.len() + 1, MAX_TRANSACT_ITEMS);
    store.commit(&id, Some(v3), &step4).await.unwrap();
    assert_eq!(
        store
            .fetch_parked(&id, seq(10), seq(108))
            .await
            .unwrap()
            .len(),
        99
    );

    // Another writer's items never show as orders.
    client
        .put_item()
        .table_name(&name)
        .set_item(Some(item::key(
            "ledger#ledgers/a.jsonl".into(),
            "state".into(),
        )))
        .send()
        .await
        .unwrap();
    let listed = store.list_orders().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].parked.len(), 99);

    emulator::delete_table(&client, &name).await;
}

#[tokio::test]
async fn a_missing_table_is_a_backend_error_not_a_conflict() {
    let client = emulator::client().await;
    let store = DynamoOrderStore::new(client, emulator::unique_name("convoy-no-such-table"));
    let id = OrderId::parse("A-1").unwrap();
    let t = txns(&[line(1, r#""op":"create","currency":"EUR""#)]);
    let step = process(&OrderState::new(id.clone()), &Known::default(), &t, 99).unwrap();
    let e = store.commit(&id, None, &step).await.unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Backend {
                operation: "TransactWriteItems",
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
                operation: "GetItem",
                ..
            }
        ),
        "{e:?}"
    );
}
