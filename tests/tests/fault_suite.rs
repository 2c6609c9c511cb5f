//! The fault-injection suite: one seeded workload (≥ 5,000 transactions, ≥ 300 orders,
//! some orders long and out of order, so that they park and drain in several steps) through
//! the whole pipeline on the emulator, once per kind of fault. Each run prints
//! `lost=0 applied_twice=0 out_of_order=0`, counted from every commit against the model,
//! and fails otherwise; the final orders must equal the model's in every field but
//! `duplicates`, and nothing may be left in a dead-letter queue.

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

use convoy_core::sequencer::StoredOrder;
use convoy_core::OrderId;
use convoy_local::function::LambdaFunction;
use convoy_store::{DynamoOrderStore, FailingStore, Fault, Hooked};
use convoy_tests::chaos::{
    Coin, CountingResumes, CrashAfterDrainCommit, CrashOnNotify, CrashOnSignal, Crashing,
    CrashingPublisher, Delay, PartlyFailing, Twice,
};
use convoy_tests::inprocess::InProcessConsumer;
use convoy_tests::stores::Recording;
use convoy_tests::tally::{announce, tally, Tally};
use convoy_tests::{check, generate, model, Harness};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

const SEED: u64 = 7_000;
const SMALL_ORDERS: usize = 560;
const LONG_ORDERS: usize = 16;
const LONG_ITEMS: usize = 150;
/// How long a faulty run may take to settle.
const SETTLE: Duration = Duration::from_secs(600);

/// The suite's ledger: its lines, what the model makes of them, and its orders.
struct Workload {
    ledger: Vec<u8>,
    transactions: usize,
    states: BTreeMap<String, StoredOrder>,
    views: BTreeMap<String, Value>,
    long: Vec<String>,
    small: Vec<String>,
    /// Some transactions' wire JSON, to send again as copies SQS does not deduplicate.
    copies: Vec<(String, String)>,
}

fn workload(h: &Harness) -> Workload {
    let mut rng = fastrand::Rng::with_seed(SEED);
    let small: Vec<String> = (0..SMALL_ORDERS)
        .map(|i| h.order_id(&format!("S{i}")))
        .collect();
    let long: Vec<String> = (0..LONG_ORDERS)
        .map(|i| h.order_id(&format!("L{i}")))
        .collect();
    let mut lives = generate::orders(SEED, &small);
    for (i, id) in long.iter().enumerate() {
        let mut life = generate::long_order(&mut rng, id, LONG_ITEMS);
        if i % 2 == 0 {
            life.reverse(); // all parked but the last to arrive: one drain of them all
        } else {
            life.rotate_left(60); // 61.. parked until 1..=60 arrive, then drained
        }
        lives.push(life);
    }
    let lines = generate::interleave(&mut rng, lives);
    let txns = generate::transactions(&lines).unwrap();
    let copies = txns
        .iter()
        .filter(|_| rng.u8(0..50) == 0)
        .map(|t| (t.order_id.to_string(), serde_json::to_string(t).unwrap()))
        .collect();
    let w = Workload {
        ledger: generate::jsonl(&lines),
        transactions: txns.len(),
        states: model::states(&txns),
        views: model::views(&txns),
        long,
        small,
        copies,
    };
    assert!(w.transactions >= 5_000, "{} transactions", w.transactions);
    assert!(w.states.len() >= 300, "{} orders", w.states.len());
    w
}

type Store = Arc<Recording<DynamoOrderStore>>;

/// Runs the workload with these functions; prints and checks the counts. Returns them and
/// how many records the consumer reported failed.
async fn run<L, C>(
    h: &Harness,
    w: &Workload,
    name: &str,
    store: &Store,
    ledger: L,
    consumer: C,
) -> (Tally, u64)
where
    L: LambdaFunction + 'static,
    C: LambdaFunction + 'static,
{
    let dead_before = dead_letters(h).await;
    let running = h.start_with(ledger, consumer).await.unwrap();
    h.with_running(running, async |running| {
        let upload = h
            .upload(&format!("{name}.jsonl"), w.ledger.clone())
            .await
            .unwrap();
        let statuses = h
            .settle_within(running, std::slice::from_ref(&upload), SETTLE)
            .await
            .unwrap();
        check::status(
            &statuses[0],
            &check::Expected::done(&upload.key, &w.ledger, 0),
        )
        .unwrap();
        let views = h.views().await.unwrap();
        let t = tally(w.transactions, &store.commits(), &w.states, &views);
        announce(&format!("fault suite: {name}: {t}"));
        let diff = check::views(&views, &w.views);
        let dead = dead_letters(h).await - dead_before;
        assert!(
            t.clean() && dead == 0,
            "{name}: {t}, {dead} new dead letters; the orders: {diff:?}"
        );
        diff.unwrap();
        (
            t,
            running.consumer_stats.failed_records.load(Ordering::SeqCst),
        )
    })
    .await
}

/// Messages in the two dead-letter queues (shared by every test on the emulator).
async fn dead_letters(h: &Harness) -> u64 {
    let stack = &h.pipeline.stack;
    let mut n = 0;
    for q in [&stack.ledger_dlq_url, &stack.transactions_dlq_url] {
        let d = h.pipeline.depth(q).await.unwrap();
        n += d.visible + d.in_flight + d.delayed;
    }
    n
}

fn recording(h: &Harness) -> Store {
    Arc::new(Recording::new(h.order_store()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumer_crash_after_its_write_before_the_delete() {
    let h = Harness::start().await.unwrap();
    let w = workload(&h);
    let store = recording(&h);
    let crashing = Arc::new(Crashing::new(
        h.consumer(store.clone()),
        Coin::new(SEED, 5),
        40,
    ));
    run(
        &h,
        &w,
        "crash-before-delete",
        &store,
        h.ledger_function(),
        crashing.clone(),
    )
    .await;
    assert!(
        crashing.crashes.load(Ordering::SeqCst) > 0,
        "no crash was injected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumer_crash_mid_drain() {
    let h = Harness::start().await.unwrap();
    let w = workload(&h);
    let store = recording(&h);
    let crashed = Arc::new(AtomicU64::new(0));
    let point = Hooked {
        inner: store.clone(),
        hook: CrashAfterDrainCommit {
            coin: Coin::new(SEED + 1, 50),
            crashed: crashed.clone(),
            limit: 12,
        },
    };
    let function = CrashOnSignal {
        inner: h.consumer(point),
        crashed: crashed.clone(),
    };
    run(
        &h,
        &w,
        "crash-mid-drain",
        &store,
        h.ledger_function(),
        function,
    )
    .await;
    assert!(
        crashed.load(Ordering::SeqCst) > 0,
        "no drain was interrupted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ledger_crash_mid_file_then_redelivery() {
    let h = Harness::start().await.unwrap();
    let w = workload(&h);
    let store = recording(&h);
    let notify = Arc::new(Notify::new());
    let ledger = h.ledger_function_with(|inner| CrashingPublisher {
        inner,
        after: w.transactions / 2,
        sent: AtomicUsize::new(0),
        crashed: notify.clone(),
        lives: AtomicUsize::new(0),
    });
    let ledger = CrashOnNotify {
        inner: ledger,
        crashed: notify.clone(),
    };
    run(
        &h,
        &w,
        "ledger-crash-mid-file",
        &store,
        ledger,
        h.consumer(store.clone()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ledger_batches_partly_failed() {
    // A batch holds up to ten consecutive transactions of an order; when one of them fails
    // and later ones are enqueued, the consumer must park those until the retry arrives.
    let h = Harness::start().await.unwrap();
    let w = workload(&h);
    let store = recording(&h);
    let mut overtaken = None;
    let ledger = h.ledger_function_with(|inner| {
        let p = PartlyFailing::new(inner, Coin::new(SEED + 5, 20), 2);
        overtaken = Some(p.overtaken.clone());
        p
    });
    run(
        &h,
        &w,
        "ledger-batches-partly-failed",
        &store,
        ledger,
        h.consumer(store.clone()),
    )
    .await;
    let overtaken = overtaken.unwrap().load(Ordering::SeqCst);
    announce(&format!(
        "fault suite: ledger-batches-partly-failed: {overtaken} transactions overtaken"
    ));
    assert!(
        overtaken > 0,
        "no later transaction reached the queue first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicate_deliveries() {
    let h = Harness::start().await.unwrap();
    let w = workload(&h);
    let store = recording(&h);
    for (order, body) in &w.copies {
        h.send_copy(order, body).await.unwrap();
    }
    let twice = Twice {
        inner: h.consumer(store.clone()),
    };
    run(
        &h,
        &w,
        "duplicate-deliveries",
        &store,
        h.ledger_function(),
        twice,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_on_commits_and_parked_reads() {
    let h = Harness::start().await.unwrap();
    let w = workload(&h);
    let store = recording(&h);
    let failing = Arc::new(FailingStore::new(store.clone()));
    let mut rng = fastrand::Rng::with_seed(SEED + 3);
    let mut injected = Vec::new();
    let chosen: Vec<&String> = w.small.iter().filter(|_| rng.u8(0..3) == 0).collect();
    for id in chosen {
        let id = OrderId::parse(id).unwrap();
        failing.inject(&id, Fault::CommitFails, 2);
        injected.push((id, Fault::CommitFails));
    }
    for id in &w.long {
        let id = OrderId::parse(id).unwrap();
        failing.inject(&id, Fault::FetchParkedFails, 2);
        failing.inject_after(&id, Fault::CommitFails, rng.usize(3..10), 2);
        injected.push((id.clone(), Fault::FetchParkedFails));
    }
    run(
        &h,
        &w,
        "throttling",
        &store,
        h.ledger_function(),
        h.consumer(failing.clone()),
    )
    .await;
    for (id, fault) in &injected {
        assert_eq!(
            failing.pending(id, *fault),
            0,
            "{fault:?} for {id} never fired"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn visibility_timeout_expires_during_a_slow_batch() {
    let h = Harness::start().await.unwrap();
    let w = workload(&h);
    let store = recording(&h);
    let mut rng = fastrand::Rng::with_seed(SEED + 4);
    let chosen: HashSet<String> = w
        .small
        .iter()
        .filter(|_| rng.u8(0..25) == 0)
        .chain(w.long.iter().take(4))
        .cloned()
        .collect();
    let (visibility, _) = h.transactions_queue_settings().await.unwrap();
    let slow = Arc::new(Hooked {
        inner: store.clone(),
        hook: Delay::first_commit(chosen, visibility + Duration::from_secs(2)),
    });
    run(
        &h,
        &w,
        "visibility-expires",
        &store,
        h.ledger_function(),
        h.consumer(slow.clone()),
    )
    .await;
    assert!(
        slow.hook.slowed.load(Ordering::SeqCst) > 0,
        "no commit was slowed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_consumer_deadline_reached_mid_batch() {
    let h = Harness::start().await.unwrap();
    let w = workload(&h);
    let store = recording(&h);
    // An invocation has the queue's visibility timeout less 2 s (8 s of 10 s: it must end
    // before its messages come back). Its store calls stop 1.5 s before its end (the
    // response margin and the resume margin), and every commit of a long order that drains
    // parked transactions waits a sixth of that window. Draining a reversed long order
    // takes eight such steps (149 parked, 20 a step, each an unpark and an item), more
    // than fit in one invocation however fast the emulator is, so each of those drains
    // stops at the deadline and goes on in resume messages. Only drain commits wait: an
    // invocation that cannot finish its first step fails its records without progress,
    // and five of those send them to the DLQ, as they should.
    let (visibility, _) = h.transactions_queue_settings().await.unwrap();
    let timeout = visibility.saturating_sub(Duration::from_secs(2));
    assert!(
        timeout >= Duration::from_secs(6),
        "the deadline scenario needs a visibility timeout of 8 s or more: provision with \
         CONVOY_TRANSACTIONS_VISIBILITY_TIMEOUT=10 (infra/test.sh does)"
    );
    let window = timeout - Duration::from_millis(1500);
    let slow = Arc::new(Hooked {
        inner: store.clone(),
        hook: Delay::drain_commits(w.long.iter().cloned().collect(), window / 6),
    });
    let base = h.consumer(slow.clone());
    let resumes = CountingResumes::new(base.queue);
    let sent = resumes.sent.clone();
    let consumer = InProcessConsumer {
        store: base.store,
        queue: resumes,
        timeout,
        settings: base.settings,
    };
    let (_, failed) = run(
        &h,
        &w,
        "deadline-mid-batch",
        &store,
        h.ledger_function(),
        consumer,
    )
    .await;
    let sent = sent.lock().unwrap().clone();
    let total: usize = sent.values().sum();
    println!("fault suite: deadline-mid-batch: {total} resume messages, {failed} records reported");
    for id in w.long.iter().step_by(2) {
        assert!(
            sent.get(id).is_some_and(|n| *n > 0),
            "the drain of reversed order {id} was not resumed: {sent:?}"
        );
    }
}
