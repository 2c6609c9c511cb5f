//! Scenarios 4 and 5: a ledger uploaded again (same key, other key) or a transaction
//! delivered again changes nothing but `duplicates`; a conflicting transaction (same
//! order and `seq`, other content) is counted once in `conflicts` and changes nothing else.

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

use convoy_local::pipeline::Running;
use convoy_tests::s3_events::S3Sequencers;
use convoy_tests::{check, generate, model, Harness};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Uploads `bytes` as `name`, waits until settled and checks the status (nothing refused).
async fn upload_settled(h: &Harness, running: &Running, name: &str, bytes: &[u8]) {
    check::settled(h, running, name, bytes, 0).await.unwrap();
}

fn by_id(views: impl IntoIterator<Item = Value>) -> BTreeMap<String, Value> {
    views
        .into_iter()
        .map(|v| (v["order_id"].as_str().unwrap().to_owned(), v))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploading_a_ledger_again_changes_nothing_but_duplicates() {
    let h = Harness::start().await.unwrap();
    let ids: Vec<String> = (0..10).map(|i| h.order_id(&format!("D-{i}"))).collect();
    let lives = generate::orders(4, &ids);
    let txns = generate::transactions(&lives.concat()).unwrap();
    let ledger = generate::jsonl(&generate::interleave(
        &mut fastrand::Rng::with_seed(40),
        lives.clone(),
    ));
    let want = model::views(&txns);

    let running = h.start_in_process().await.unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        upload_settled(h, running, "day.jsonl", &ledger).await;
        let first = h.views().await.unwrap();
        check::views_except(&first, &want, &[]).unwrap();

        for name in ["day.jsonl", "day again.jsonl"] {
            upload_settled(h, running, name, &ledger).await;
            let got = h.views().await.unwrap();
            check::views(&got, &first).unwrap();
            for (id, view) in &got {
                assert!(
                    view["duplicates"].as_u64() >= first[id]["duplicates"].as_u64(),
                    "{view}"
                );
            }
        }

        // A copy that SQS deduplication does not absorb (as after its 5-minute window)
        // reaches the consumer: counted once as a duplicate, no other effect.
        let before = h.views().await.unwrap();
        let copy = txns.iter().find(|t| t.seq.get() == 2).unwrap();
        let id = copy.order_id.to_string();
        h.send_copy(&id, &serde_json::to_string(copy).unwrap())
            .await
            .unwrap();
        h.settle(running, &[]).await.unwrap();
        let mut want = before.clone();
        let dups = want[&id]["duplicates"].as_u64().unwrap();
        want.get_mut(&id).unwrap()["duplicates"] = json!(dups + 1);
        check::views_except(&h.views().await.unwrap(), &want, &[]).unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_conflicting_transaction_is_counted_once_and_changes_nothing() {
    let h = Harness::start().await.unwrap();
    let (x, y) = (h.order_id("X"), h.order_id("Y"));
    let first = generate::jsonl(&[
        json!({"order_id": x, "seq": 1, "op": "create", "currency": "EUR"}),
        json!({"order_id": y, "seq": 1, "op": "create", "currency": "USD"}),
        json!({"order_id": x, "seq": 2, "op": "add", "txn_id": "t1", "amount": "10"}),
        json!({"order_id": y, "seq": 2, "op": "add", "txn_id": "a", "amount": "1.5"}),
        json!({"order_id": x, "seq": 3, "op": "add", "txn_id": "t2", "amount": 5}),
        json!({"order_id": y, "seq": 4, "op": "pay"}),
        json!({"order_id": x, "seq": 4, "op": "pay"}),
    ]);
    let conflicting_x = json!({"order_id": x, "seq": 2, "op": "add", "txn_id": "t1", "amount": "99.99", "note": "other"});
    let conflicting = generate::jsonl(&[
        conflicting_x.clone(),
        // equal content (5 = 5.00): a duplicate, not a conflict
        json!({"order_id": x, "seq": 3, "op": "add", "txn_id": "t2", "amount": "5.00"}),
        // against the parked seq 4 of y: the parked one stays
        json!({"order_id": y, "seq": 4, "op": "cancel"}),
    ]);
    let gap = generate::jsonl(&[
        json!({"order_id": y, "seq": 3, "op": "add", "txn_id": "b", "amount": "2"}),
    ]);
    let view_x = json!({"order_id": x, "status": "paid", "currency": "EUR", "total": "15.00",
        "items": {"t1": "10.00", "t2": "5.00"}, "next_seq": 5, "parked": [],
        "applied": 4, "rejected": 0, "duplicates": 0, "conflicts": 0});
    let view_y = json!({"order_id": y, "status": "open", "currency": "USD", "total": "1.50",
        "items": {"a": "1.50"}, "next_seq": 3, "parked": [4],
        "applied": 2, "rejected": 0, "duplicates": 0, "conflicts": 0});

    let running = h.start_in_process().await.unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        upload_settled(h, running, "first.jsonl", &first).await;
        let want = by_id([view_x.clone(), view_y.clone()]);
        check::views_except(&h.views().await.unwrap(), &want, &[]).unwrap();

        let mut want = want;
        for v in want.values_mut() {
            v["conflicts"] = json!(1);
        }
        for name in [
            "conflicting.jsonl",
            "conflicting.jsonl",
            "conflicting again.jsonl",
        ] {
            upload_settled(h, running, name, &conflicting).await;
            check::views(&h.views().await.unwrap(), &want).unwrap();
        }
        // Copies past SQS deduplication (as a redelivery after its window): the conflicts
        // are not counted again, each equal copy is one duplicate.
        let wire = |line: Value| {
            serde_json::to_string(&generate::transactions(&[line]).unwrap()[0]).unwrap()
        };
        let parked_pay = json!({"order_id": y, "seq": 4, "op": "pay", "note": "copy"});
        let parked_cancel = json!({"order_id": y, "seq": 4, "op": "cancel"});
        h.send_copy(&x, &wire(conflicting_x)).await.unwrap();
        h.send_copy(&y, &wire(parked_cancel)).await.unwrap();
        h.send_copy(&y, &wire(parked_pay)).await.unwrap();
        h.settle(running, &[]).await.unwrap();
        let mut want_dups = want.clone();
        want_dups.get_mut(&y).unwrap()["duplicates"] = json!(1);
        check::views_except(&h.views().await.unwrap(), &want_dups, &[]).unwrap();

        // Another content for the same seq is another conflict.
        let other = json!({"order_id": x, "seq": 2, "op": "add", "txn_id": "t1", "amount": "77"});
        upload_settled(
            h,
            running,
            "other conflict.jsonl",
            &generate::jsonl(&[other]),
        )
        .await;
        want.get_mut(&x).unwrap()["conflicts"] = json!(2);
        check::views(&h.views().await.unwrap(), &want).unwrap();

        // The gap closes: y's parked pay (not the conflicting cancel) is applied.
        upload_settled(h, running, "gap.jsonl", &gap).await;
        let y_view = want.get_mut(&y).unwrap();
        for (field, value) in [
            ("status", json!("paid")),
            ("total", json!("3.50")),
            ("items", json!({"a": "1.50", "b": "2.00"})),
            ("next_seq", json!(5)),
            ("parked", json!([])),
            ("applied", json!(4)),
        ] {
            y_view[field] = value;
        }
        check::views(&h.views().await.unwrap(), &want).unwrap();
    })
    .await;
}

/// A newer version of a key owns its status record and rejects report; an older version
/// still being processed must not overwrite them. The ledger orders versions by the S3
/// event's `sequencer` (conditional status writes; unit-tested in `functions/ledger`).
/// LocalStack puts one constant sequencer in every S3 event, so the ledger function gets
/// its events through [`S3Sequencers`], which numbers a key's versions as S3 does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_newer_version_keeps_its_status_while_an_older_one_finishes() {
    let h = Harness::start().await.unwrap();
    let ids: Vec<String> = (0..700).map(|i| h.order_id(&format!("V-{i}"))).collect();
    let lines = generate::interleave(&mut fastrand::Rng::with_seed(60), generate::orders(6, &ids));
    let older = generate::jsonl(&lines);
    let newer = generate::jsonl(&lines[..3]);

    let ledger = S3Sequencers::new(h.ledger_function());
    let running = h
        .start_with(ledger, h.consumer(h.order_store()))
        .await
        .unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        let first = h.upload("same key.jsonl", older.clone()).await.unwrap();
        // The newer version arrives while the older one is being processed.
        for _ in 0..100 {
            let status = h.pipeline.status(&first.key).await.unwrap();
            if status.is_some_and(|s| first.is(&s)) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let second = h.upload("same key.jsonl", newer.clone()).await.unwrap();
        h.settle(running, &[]).await.unwrap();
        let status = h.pipeline.status(&second.key).await.unwrap().unwrap();
        assert!(
            second.is(&status),
            "the status record of {} is about version {:?} (state {}, {} lines), not the current version {:?}",
            second.key,
            status.version_id,
            status.state,
            status.lines_read,
            second.version_id
        );
        check::status(&status, &check::Expected::done(&second.key, &newer, 0)).unwrap();
    })
    .await;
}
