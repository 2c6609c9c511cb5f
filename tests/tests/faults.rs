//! A poison message first of its order's ten goes to the dead-letter queue alone; the nine
//! after it park and drain once the gap is filled.
//!
//! Scenario 9: the consumer fails one order's commits a few times (fewer than the queue's
//! maxReceiveCount). The other orders finish without waiting for it; the failed one comes
//! back after the visibility timeout, in order, and ends as it would have without faults.
//! Three more orders meet other faults (a failed load, lost optimistic-lock races) at the
//! same time and end as they would have without them.

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

use convoy_core::OrderId;
use convoy_store::{FailingStore, Fault};
use convoy_tests::stores::Recording;
use convoy_tests::{check, generate, model, Harness};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_order_is_retried_in_order_while_the_others_go_on() {
    const FAULTS: usize = 2;
    let h = Harness::start().await.unwrap();
    let (visibility, max_receives) = h.transactions_queue_settings().await.unwrap();
    assert!(
        (FAULTS as u64) + 1 < max_receives,
        "maxReceiveCount {max_receives} leaves no room for {FAULTS} failures"
    );
    let ids: Vec<String> = (0..10).map(|i| h.order_id(&format!("F-{i}"))).collect();
    let lives = generate::orders(5, &ids);
    let faulty = lives.iter().max_by_key(|l| l.len()).unwrap()[0]["order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let faulty_len = lives.iter().map(Vec::len).max().unwrap() as u64;
    let lines = generate::interleave(&mut fastrand::Rng::with_seed(50), lives.clone());
    let ledger = generate::jsonl(&lines);
    let want = model::views(&generate::transactions(&lines).unwrap());

    let store = Arc::new(Recording::new(FailingStore::new(h.order_store())));
    let faulty_id = OrderId::parse(&faulty).unwrap();
    store.inner().fail_commits(&faulty_id, FAULTS);
    // Other faults on other orders: a failed load (the batch's records of that order come
    // back), lost optimistic-lock races (reloaded within the invocation, or more than it
    // retries: then they come back too).
    let others: Vec<(OrderId, Fault, usize)> = ids
        .iter()
        .filter(|id| **id != faulty)
        .zip([
            (Fault::LoadFails, 1),
            (Fault::CommitConflicts, 3),
            (Fault::CommitConflicts, 7),
        ])
        .map(|(id, (fault, times))| (OrderId::parse(id).unwrap(), fault, times))
        .collect();
    for (id, fault, times) in &others {
        store.inner().inject(id, *fault, *times);
    }
    let consumer = h.consumer(store.clone());
    let running = h.start_with(h.ledger_function(), consumer).await.unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        let started = Instant::now();
        check::settled(h, running, "day.jsonl", &ledger, 0)
            .await
            .unwrap();

        assert_eq!(store.inner().pending(&faulty_id, Fault::CommitFails), 0, "faults fired");
        for (id, fault, _) in &others {
            assert_eq!(store.inner().pending(id, *fault), 0, "{fault:?} fired for {id}");
        }
        let failed = running.consumer_stats.failed_records.load(Ordering::SeqCst);
        assert!(failed >= FAULTS as u64, "{failed} records failed");
        // The same final state as without faults; nothing applied twice.
        check::views_except(&h.views().await.unwrap(), &want, &[]).unwrap();

        // The failed order: delivered again only after the visibility timeout, each time,
        // and then in order — never anything parked, one commit after the other.
        let commits = store.commits_of(&faulty);
        let first = commits.first().unwrap().at;
        let waited = first - started;
        assert!(
            waited >= visibility * FAULTS as u32 - Duration::from_millis(500),
            "{faulty} committed after {waited:?}, before {FAULTS} visibility timeouts of {visibility:?}"
        );
        let mut next = 1;
        for c in &commits {
            assert_eq!(c.state.parked_count, 0, "{faulty} parked");
            assert!(c.state.next_seq > next, "{faulty}: next_seq {} after {next}", c.state.next_seq);
            next = c.state.next_seq;
        }
        assert_eq!(next, faulty_len + 1);

        // The orders without faults were done before the failed order's first redelivery
        // succeeded.
        let faulted = |id: &str| id == faulty || others.iter().any(|(o, _, _)| o.as_str() == id);
        for c in store.commits().iter().filter(|c| !faulted(&c.order_id)) {
            assert!(
                c.at < first,
                "{} committed at {:?}, after {faulty} at {:?}",
                c.order_id,
                c.at - started,
                first - started
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_message_goes_to_the_dead_letter_queue_alone() {
    let h = Harness::start().await.unwrap();
    let (visibility, max_receives) = h.transactions_queue_settings().await.unwrap();
    let id = h.order_id("POISON");
    let life = generate::long_order(&mut fastrand::Rng::with_seed(9), &id, 8);
    let txns = generate::transactions(&life).unwrap();
    let body = |i: usize| serde_json::to_string(&txns[i]).unwrap();
    let poison = format!("{{\"order_id\":\"{id}\",\"seq\":1,\"op\":\"create\",\"currency\":");
    // Seq 1 arrives corrupted, first of the group; seqs 2..10 after it.
    h.send_copy(&id, &poison).await.unwrap();
    for i in 1..txns.len() {
        h.send_copy(&id, &body(i)).await.unwrap();
    }
    let running = h.start_in_process().await.unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        let patience = visibility * (max_receives as u32 + 2) + Duration::from_secs(60);
        h.settle_within(running, &[], patience).await.unwrap();
        assert!(
            h.take_dead_letter(&poison).await.unwrap(),
            "the poison is not in the DLQ"
        );
        let view = h.views().await.unwrap()[&id].clone();
        let parked: Vec<u64> = (2..=txns.len() as u64).collect();
        assert_eq!(view["parked"], serde_json::json!(parked), "{view}");
        assert_eq!(view["next_seq"], 1, "{view}");

        // The gap filled (as after a fix and a redrive): all ten applied, in order.
        h.send_copy(&id, &body(0)).await.unwrap();
        h.settle(running, &[]).await.unwrap();
        let got = h.views().await.unwrap();
        check::views(&got, &model::views(&txns)).unwrap();
    })
    .await;
}
