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
use convoy_local::deadletter::{DeadLetter, DeadLetterQueue, Dlq, Kind};
use convoy_store::{FailingStore, Fault};
use convoy_tests::stores::Recording;
use convoy_tests::{check, generate, model, Harness};
use std::collections::HashMap;
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
        let dlq = DeadLetterQueue::of(h.pipeline.sqs.clone(), &h.pipeline.stack, Dlq::Transactions)
            .with_failures(h.order_store());
        let of_order = |l: &DeadLetter| l.group_id.as_deref() == Some(id.as_str());
        let letters: Vec<DeadLetter> = dlq
            .list()
            .await
            .unwrap()
            .into_iter()
            .filter(of_order)
            .collect();
        assert_eq!(
            letters.len(),
            1,
            "only the poison is in the DLQ: {letters:?}"
        );
        let letter = &letters[0];
        assert_eq!(
            (letter.body.as_str(), &letter.kind),
            (poison.as_str(), &Kind::Unreadable)
        );
        assert!(letter.receive_count >= 1, "{letter:?}");
        // With the last error the consumer failed it with, kept where the operator reads it.
        let last = letter.last_error.as_ref().expect("the poison's last error");
        assert_eq!(last.disposition, "poison", "{last:?}");
        assert!(last.error.contains("EOF"), "{last:?}");
        assert!(last.receive_count.is_some_and(|n| n >= 1), "{last:?}");
        let view = h.views().await.unwrap()[&id].clone();
        let parked: Vec<u64> = (2..=txns.len() as u64).collect();
        assert_eq!(view["parked"], serde_json::json!(parked), "{view}");
        assert_eq!(view["next_seq"], 1, "{view}");

        // The operator corrects the poison and redrives it: all ten applied, in order.
        let fix = HashMap::from([(letter.message_id.clone(), body(0))]);
        let done = dlq.redrive(of_order, &fix).await.unwrap();
        assert_eq!(
            (done.sent.as_slice(), done.corrected),
            (std::slice::from_ref(&letter.message_id), 1)
        );
        h.settle(running, &[]).await.unwrap();
        let got = h.views().await.unwrap();
        check::views(&got, &model::views(&txns)).unwrap();

        // The same redrive again: nothing is left to send, nothing changes.
        let again = dlq.redrive(of_order, &HashMap::new()).await.unwrap();
        assert!(again.sent.is_empty(), "{again:?}");
        h.settle(running, &[]).await.unwrap();
        check::views(&h.views().await.unwrap(), &model::views(&txns)).unwrap();
    })
    .await;
}

/// A ledger whose processing failed every receive is in the ledger dead-letter queue (moved
/// there by hand below, as SQS does after maxReceiveCount); redriving it processes the ledger
/// to `done`, and redriving it again finds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_ledger_is_redriven_from_its_dead_letter_queue() {
    let h = Harness::start().await.unwrap();
    let ids: Vec<String> = (0..20).map(|i| h.order_id(&format!("R-{i}"))).collect();
    let lives = generate::orders(5, &ids);
    let txns = generate::transactions(&lives.concat()).unwrap();
    let ledger = generate::jsonl(&generate::interleave(
        &mut fastrand::Rng::with_seed(61),
        lives,
    ));
    let upload = h.upload("redriven.jsonl", ledger).await.unwrap();

    let (sqs, stack) = (&h.pipeline.sqs, &h.pipeline.stack);
    let is_upload =
        |l: &DeadLetter| matches!(&l.kind, Kind::Ledger { key, .. } if *key == upload.key);
    let mut moved = false;
    for _ in 0..30 {
        let out = sqs
            .receive_message()
            .queue_url(&stack.ledger_queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in out.messages() {
            let body = m.body().unwrap();
            if matches!(Kind::of(body), Kind::Ledger { key, .. } if key == upload.key) {
                let dlq = &stack.ledger_dlq_url;
                sqs.send_message()
                    .queue_url(dlq)
                    .message_body(body)
                    .send()
                    .await
                    .unwrap();
                let handle = m.receipt_handle().unwrap();
                let ledger_queue = &stack.ledger_queue_url;
                sqs.delete_message()
                    .queue_url(ledger_queue)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .unwrap();
                moved = true;
            }
        }
        if moved {
            break;
        }
    }
    assert!(
        moved,
        "no notification of {} on the ledger queue",
        upload.key
    );

    let dlq = DeadLetterQueue::of(sqs.clone(), stack, Dlq::Ledger);
    let running = h.start_in_process().await.unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        let listed: Vec<DeadLetter> = dlq
            .list()
            .await
            .unwrap()
            .into_iter()
            .filter(is_upload)
            .collect();
        assert_eq!(listed.len(), 1, "{listed:?}");
        let done = dlq.redrive(is_upload, &HashMap::new()).await.unwrap();
        assert_eq!(done.sent, [listed[0].message_id.clone()]);
        let statuses = h
            .settle(running, std::slice::from_ref(&upload))
            .await
            .unwrap();
        assert_eq!(statuses[0].state, ledger::State::Done, "{statuses:?}");
        check::views(&h.views().await.unwrap(), &model::views(&txns)).unwrap();

        let again = dlq.redrive(is_upload, &HashMap::new()).await.unwrap();
        assert!(again.sent.is_empty(), "{again:?}");
    })
    .await;
}
