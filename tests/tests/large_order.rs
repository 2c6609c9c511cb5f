//! An order of any size: one order of thousands of transactions and half as many items,
//! with `txn_id`s of 128 characters, through the whole pipeline. Its head stays bounded
//! (the old layout kept every item in it and stopped at about 3,100 such items), its JSON
//! is complete (items read by query, page by page), and the consumer's DynamoDB writes per
//! transaction stay low. CI runs 1,000 transactions; `CONVOY_LARGE_ORDER_TXNS` sets another
//! count (the benchmark `cargo bench -p consumer --bench units` runs 100,000 in memory).
//! The ledger function sends one order's transactions ten to a call; when it sent one per
//! call, 1,000 of them missed its 25 s limit on a loaded CI machine (991 sent).

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

use convoy_tests::tally::announce;
use convoy_tests::{check, generate, model, Harness};
use serde_json::{json, Value};
use std::time::Duration;

/// A `txn_id` of 128 characters, unique per `i`.
fn txn_id(i: usize) -> String {
    format!("{i:0>8}-{}", "x".repeat(119))
}

/// Created, then items added and each modified once, then paid: `txns` lines.
fn life(order_id: &str, txns: usize) -> Vec<Value> {
    let mut lines =
        vec![json!({"order_id": order_id, "seq": 1, "op": "create", "currency": "EUR"})];
    let mut i = 0;
    while lines.len() + 1 < txns {
        let seq = lines.len() + 1;
        let line = if seq % 2 == 0 {
            json!({"order_id": order_id, "seq": seq, "op": "add", "txn_id": txn_id(i), "amount": "12.50"})
        } else {
            i += 1;
            json!({"order_id": order_id, "seq": seq, "op": "modify", "txn_id": txn_id(i - 1), "amount": "7.25"})
        };
        lines.push(line);
    }
    lines.push(json!({"order_id": order_id, "seq": lines.len() + 1, "op": "pay"}));
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_of_thousands_of_transactions_and_items_is_applied_whole() {
    let txns: usize = std::env::var("CONVOY_LARGE_ORDER_TXNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let h = Harness::start().await.unwrap();
    let id = h.order_id("BIG");
    let lines = life(&id, txns);
    let ledger = generate::jsonl(&lines);
    let want = model::views(&generate::transactions(&lines).unwrap());
    let items = want[&id]["items"].as_object().unwrap().len();
    assert_eq!(items, (txns - 2) / 2);

    // The consumer gets a store of its own, to count its units alone.
    let store = h.order_store().with_own_usage();
    let usage = store.usage().clone();
    let running = h
        .start_with(h.ledger_function(), h.consumer(store))
        .await
        .unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        let upload = h.upload("big.jsonl", ledger.clone()).await.unwrap();
        let statuses = h
            .settle_within(
                running,
                std::slice::from_ref(&upload),
                Duration::from_secs(600),
            )
            .await
            .unwrap();
        check::status(
            &statuses[0],
            &check::Expected::done(&upload.key, &ledger, 0),
        )
        .unwrap();
        check::views_except(&h.views().await.unwrap(), &want, &[]).unwrap();
    })
    .await;

    let total = usage.total();
    let (wru, rru) = (
        total.units.write / txns as f64,
        total.units.read / txns as f64,
    );
    announce(&format!(
        "large order: {txns} transactions, {items} items of 128-character ids; consumer \
         {wru:.2} WRU and {rru:.2} RRU per transaction by AWS's rules ({} requests; the \
         emulator reported {:.0} WRU, {:.0} RRU)",
        total.requests, total.reported.write, total.reported.read
    ));
    // However the emulator cuts batches, a transaction costs about one item write for its
    // item and a share of a log item: never the whole order.
    assert!(wru < 2.5, "{wru:.2} WRU per transaction");
}
