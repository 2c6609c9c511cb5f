//! Stalled convoys end to end on the emulator: a transaction lost on its way leaves its
//! order waiting behind the gap; the watchdog (its threshold shortened to seconds) finds it
//! stalled, records it, logs it and counts it in the `StalledOrders` metric; when the lost
//! transaction arrives after all, the order drains and leaves the stalled set by itself.
//! Or an operator voids the missing seq (as the caller's AWS identity): the order drains
//! on, and the transaction turning up later is a conflict that changes nothing.

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

use consumer::sqs::SqsDrainQueue;
use consumer::void::{void, VoidOutcome, VoidRequest};
use convoy_store::WaitingStore;
use convoy_tests::Harness;
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use watchdog::{emf, watch, Report, Settings, Stalled};

const STALL_AFTER: Duration = Duration::from_secs(2);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The stalled orders of this test (the table is shared with the other tests' orders).
fn mine<'a>(h: &Harness, report: &'a Report) -> Vec<&'a Stalled> {
    let prefix = h.prefix();
    report
        .stalled
        .iter()
        .filter(|s| s.order_id.as_str().starts_with(&prefix))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_transaction_stalls_its_order_until_it_arrives() {
    let h = Harness::start().await.unwrap();
    let (a, b) = (h.order_id("A"), h.order_id("B"));
    let create = |o: &str| json!({"order_id": o, "seq": 1, "op": "create", "currency": "EUR"});
    let add = |o: &str, seq: u64| json!({"order_id": o, "seq": seq, "op": "add", "txn_id": format!("t{seq}"), "amount": "1.50"});
    let lost = add(&a, 3);
    let lines = [
        create(&a),
        create(&b),
        add(&a, 2),
        add(&b, 2),
        add(&a, 4), // a's 3 never comes: 4 and 5 wait behind it
        add(&b, 3),
        add(&a, 5),
    ];
    let ledger: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let p = &h.pipeline;
    let store = h.order_store();
    let queue = SqsDrainQueue::new(p.sqs.clone(), p.stack.transactions_queue_url.clone());
    let settings = Settings {
        stall_after: STALL_AFTER,
    };
    let metrics = emf::install("LedgerConvoy/test".into()).unwrap();
    let running = h.start_in_process().await.unwrap();
    h.with_running(running, async |running| {
        let upload = h
            .upload("stalled.jsonl", ledger.into_bytes())
            .await
            .unwrap();
        h.settle(running, &[upload]).await.unwrap();
        let before = h.views().await.unwrap();
        assert_eq!(before[&a]["next_seq"], 3);
        assert_eq!(before[&a]["parked"], json!([4, 5]));
        assert_eq!(before[&b]["next_seq"], 4);

        // Waiting, but not for long: not stalled yet.
        let report = watch(&store, &queue, settings, now()).await.unwrap();
        assert!(mine(&h, &report).is_empty(), "{report:?}");

        tokio::time::sleep(STALL_AFTER + Duration::from_millis(500)).await;
        let report = watch(&store, &queue, settings, now()).await.unwrap();
        let stalled = mine(&h, &report);
        assert_eq!(stalled.len(), 1, "{report:?}");
        assert_eq!(stalled[0].order_id.as_str(), a);
        assert_eq!((stalled[0].next_seq, stalled[0].parked), (3, 2));
        assert!(now() - stalled[0].since >= STALL_AFTER.as_millis() as u64);
        // Recorded on the order's waiting entry, where an operator finds it.
        let entries = store.waiting_since(now()).await.unwrap();
        let entry = entries
            .iter()
            .find(|e| e.order_id.as_str() == a)
            .expect("a's waiting entry");
        assert_eq!(entry.stalled_at, Some(stalled[0].stalled_at));
        assert_eq!(entry.parked, Some(2));
        assert!(entries.iter().all(|e| e.order_id.as_str() != b));

        // The metric document the function's log would carry.
        emf::record(&report);
        let mut doc = Vec::new();
        metrics.flush(&mut doc).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
        assert_eq!(
            doc[emf::STALLED_ORDERS].as_f64(),
            Some(report.stalled.len() as f64),
            "{doc}"
        );

        // The lost transaction turns up: the order drains and is no longer stalled.
        h.send_copy(&a, &lost.to_string()).await.unwrap();
        h.settle(running, &[]).await.unwrap();
        let after = h.views().await.unwrap();
        assert_eq!(after[&a]["next_seq"], 6);
        assert_eq!(after[&a]["parked"], json!([]));
        assert_eq!(after[&a]["applied"], 5);
        let report = watch(&store, &queue, settings, now()).await.unwrap();
        assert!(mine(&h, &report).is_empty(), "{report:?}");
        let entries = store.waiting_since(now()).await.unwrap();
        assert!(entries.iter().all(|e| e.order_id.as_str() != a));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_order_voided_drains_on_and_the_late_transaction_is_a_conflict() {
    let h = Harness::start().await.unwrap();
    let a = h.order_id("V");
    let line = |seq: u64, op: &str| match op {
        "create" => json!({"order_id": a, "seq": seq, "op": "create", "currency": "EUR"}),
        "pay" => json!({"order_id": a, "seq": seq, "op": "pay"}),
        _ => {
            json!({"order_id": a, "seq": seq, "op": "add", "txn_id": format!("t{seq}"), "amount": "2.00"})
        }
    };
    let lost = line(3, "add");
    let ledger: String = [
        line(1, "create"),
        line(2, "add"),
        line(4, "add"),
        line(5, "pay"),
    ]
    .iter()
    .map(|l| format!("{l}\n"))
    .collect();
    let p = &h.pipeline;
    let store = h.order_store();
    let queue = SqsDrainQueue::new(p.sqs.clone(), p.stack.transactions_queue_url.clone());
    let settings = Settings {
        stall_after: STALL_AFTER,
    };
    let running = h.start_in_process().await.unwrap();
    h.with_running(running, async |running| {
        let upload = h.upload("void.jsonl", ledger.into_bytes()).await.unwrap();
        h.settle(running, &[upload]).await.unwrap();
        tokio::time::sleep(STALL_AFTER + Duration::from_millis(500)).await;
        let report = watch(&store, &queue, settings, now()).await.unwrap();
        let stalled = mine(&h, &report);
        assert_eq!(stalled.len(), 1, "{report:?}");
        assert_eq!((stalled[0].next_seq, stalled[0].parked), (3, 2));

        // The operator voids seq 3, as whoever the credentials say they are.
        let identity = aws_sdk_sts::Client::new(&p.sdk)
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        let by = convoy_core::Principal::parse(identity.arn().unwrap()).unwrap();
        let request = VoidRequest {
            order_id: convoy_core::OrderId::parse(&a).unwrap(),
            seq: convoy_core::Seq::new(3).unwrap(),
            reason: "lost by the upstream system".to_owned(),
            by: by.clone(),
            at: convoy_store::plan::now().text,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let outcome = void(&store, &request, &consumer::Settings::default(), deadline)
            .await
            .unwrap();
        assert_eq!(
            outcome,
            VoidOutcome::Now {
                next_seq: 6,
                drained: 2,
                drain_unfinished: false
            }
        );
        let after = h.views().await.unwrap();
        assert_eq!(after[&a]["status"], "paid");
        assert_eq!(after[&a]["voided"], json!([3]));
        assert_eq!(after[&a]["parked"], json!([]));
        assert_eq!(after[&a]["applied"], 4);
        let report = watch(&store, &queue, settings, now()).await.unwrap();
        assert!(mine(&h, &report).is_empty(), "{report:?}");
        let entries = store.waiting_since(now()).await.unwrap();
        assert!(entries.iter().all(|e| e.order_id.as_str() != a));

        // The lost transaction turns up after all: a conflict, recorded; nothing else moves.
        h.send_copy(&a, &lost.to_string()).await.unwrap();
        h.settle(running, &[]).await.unwrap();
        let late = h.views().await.unwrap();
        assert_eq!(late[&a]["conflicts"], 1);
        let mut unchanged = late[&a].clone();
        unchanged["conflicts"] = json!(0);
        assert_eq!(unchanged, after[&a]);
        assert!(late[&a]["items"].get("t3").is_none());
    })
    .await;
}
