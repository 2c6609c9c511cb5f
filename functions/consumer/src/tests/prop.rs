//! Property tests: random batches through the handler and the in-memory store end where
//! the reference order book ends, however they are cut, copied, reordered or failed.

use super::{event_of, later, views, NoResume};
use crate::{handle_with, Settings};
use convoy_core::memory::OrderBook;
use convoy_core::{OrderId, OrderView, Transaction};
use convoy_store::{FailingStore, Fault, MemoryOrderStore, OrderReader};
use proptest::prelude::*;
use std::collections::{BTreeMap, VecDeque};

const ORDERS: [&str; 3] = ["A-1", "B/7", "c#3"];

/// The transient faults a round may inject, by index.
const FAULTS: [Fault; 4] = [
    Fault::CommitFails,
    Fault::CommitConflicts,
    Fault::LoadFails,
    Fault::FetchParkedFails,
];

/// The body of transaction `seq` of `order`: `kind` picks the op, `item` and `cents` its fields.
fn body(order: &str, seq: u64, kind: u8, item: u8, cents: i32) -> String {
    let amount = format!("{}.{:02}", cents / 100, (cents % 100).abs());
    let amount = if cents < 0 && cents > -100 {
        format!("-{amount}")
    } else {
        amount
    };
    let head = format!(r#"{{"order_id":"{order}","seq":{seq},"op":"#);
    match kind % 8 {
        0 => format!(r#"{head}"create","currency":"EUR"}}"#),
        1 | 2 => format!(r#"{head}"add","txn_id":"t{item}","amount":"{amount}"}}"#),
        3 => format!(r#"{head}"modify","txn_id":"t{item}","amount":"{amount}"}}"#),
        4 => format!(r#"{head}"pay","note":"n{item}"}}"#),
        5 => format!(r#"{head}"ship"}}"#),
        6 => format!(r#"{head}"complete"}}"#),
        _ => format!(
            r#"{head}"{}"}}"#,
            if item < 2 { "cancel" } else { "delete" }
        ),
    }
}

/// Orders' scripts (seq 1 is `create`) and the messages sent: mostly the script's own
/// content, sometimes a conflicting variant; in any order, with copies and gaps.
fn sends() -> impl Strategy<Value = Vec<(String, String)>> {
    let script = prop::collection::vec((1u8..8, 0u8..4, -3000i32..3000), 0..12);
    let scripts = prop::collection::vec(script, ORDERS.len());
    let picks = prop::collection::vec(
        (
            0..ORDERS.len(),
            0usize..13,
            0u8..10,
            any::<u8>(),
            0u8..4,
            -3000i32..3000,
        ),
        1..70,
    );
    (scripts, picks).prop_map(|(scripts, picks)| {
        picks
            .into_iter()
            .map(|(o, i, variant, kind, item, cents)| {
                let order = ORDERS[o];
                let seq = i as u64 + 1;
                let body = match (i, scripts[o].get(i.wrapping_sub(1))) {
                    _ if variant >= 8 => body(order, seq, kind, item, cents),
                    (0, _) => body(order, 1, 0, 0, 0),
                    (_, Some((k, it, c))) => body(order, seq, *k, *it, *c),
                    (_, None) => body(order, seq, kind, item, cents),
                };
                (order.to_owned(), body)
            })
            .collect()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn settings(max_changes: usize) -> Settings {
    Settings {
        max_changes,
        conflict_backoff: std::time::Duration::ZERO,
        ..Settings::default()
    }
}

/// Feeds `records` to the reference, one receive per group, in arrival order.
fn reference_receive(book: &mut OrderBook, records: &[(String, String)]) {
    for order in ORDERS {
        let txns: Vec<Transaction> = records
            .iter()
            .filter(|(g, _)| g == order)
            .map(|(_, b)| serde_json::from_str(b).unwrap())
            .collect();
        // One step per receive: the reference's own result does not depend on the cut.
        book.receive(&txns, usize::MAX / 2).unwrap();
    }
}

fn reference_views(book: &OrderBook) -> BTreeMap<String, serde_json::Value> {
    book.orders()
        .map(|o| {
            let v = serde_json::to_value(OrderView::from(o)).unwrap();
            (o.state.order_id.to_string(), v)
        })
        .collect()
}

/// Stored history, parked and conflicts agree with the reference's, item for item.
async fn same_storage(store: &MemoryOrderStore, book: &OrderBook) -> Result<(), TestCaseError> {
    for o in book.orders() {
        let id: &OrderId = &o.state.order_id;
        let stored = store.load_stored_order(id).await.unwrap().unwrap();
        prop_assert_eq!(&stored.processed, &o.processed);
        prop_assert_eq!(&stored.parked, &o.parked);
        let mut a: Vec<_> = stored.conflicts.keys().collect();
        let mut b: Vec<_> = o.conflicts.keys().collect();
        a.sort();
        b.sort();
        prop_assert_eq!(a, b);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any cut into batches, any step size: the same orders as the reference.
    #[test]
    fn random_batches_end_like_the_reference(
        sends in sends(),
        sizes in prop::collection::vec(1usize..=10, 70),
        max_changes in 2usize..=99,
    ) {
        let store = MemoryOrderStore::new();
        let mut book = OrderBook::default();
        let settings = settings(max_changes);
        let rt = runtime();
        let mut rest = &sends[..];
        for size in sizes {
            if rest.is_empty() {
                break;
            }
            let (batch, after) = rest.split_at(size.min(rest.len()));
            rest = after;
            let response = rt.block_on(handle_with(&store, &NoResume, event_of(batch), &settings, later())).unwrap();
            prop_assert!(response.batch_item_failures.is_empty());
            reference_receive(&mut book, batch);
        }
        prop_assert_eq!(rt.block_on(views(&store)), reference_views(&book));
        rt.block_on(same_storage(&store, &book))?;
    }

    /// A FIFO queue with transient and permanent faults: failed records come back first in
    /// their group. After every round, each record not reported is durably done (stored as
    /// processed, parked or a recorded conflict) and each reported one is not, unless its
    /// content already was or it is its group's last record (a drain after it failed: it
    /// comes back as a duplicate, so the store may count one more duplicate per such
    /// report). Once the queues are empty the store is where the reference ends.
    #[test]
    fn failed_records_come_back_and_nothing_is_lost_or_doubled(
        sends in sends(),
        takes in prop::collection::vec(prop::collection::vec(0usize..=4, ORDERS.len()), 200),
        faults in prop::collection::vec((0..ORDERS.len(), 0u8..6, 0usize..4), 0..12),
        max_changes in 2usize..=99,
    ) {
        let store = FailingStore::new(MemoryOrderStore::new());
        let mut book = OrderBook::default();
        let settings = settings(max_changes);
        let rt = runtime();
        let mut queues: Vec<VecDeque<(String, String)>> = ORDERS
            .iter()
            .map(|o| sends.iter().filter(|(g, _)| g == o).cloned().collect())
            .collect();
        // Reported records that were stored (or whose duplicate count was): each a group's
        // last, after a failed drain.
        let mut stored_but_reported = 0u64;
        for (round, take) in takes.iter().enumerate() {
            if queues.iter().all(VecDeque::is_empty) {
                break;
            }
            if let Some((o, kind, skip)) = faults.get(round) {
                let id = OrderId::parse(ORDERS[*o]).unwrap();
                match FAULTS.get(*kind as usize) {
                    Some(fault) => store.inject_after(&id, *fault, *skip, 1),
                    // A transaction the store refuses once (the step holding it; found
                    // again alone, it passes) or twice (it fails alone).
                    None => {
                        let fault = Fault::CommitRefused { seq: *skip as u64 + 1 };
                        store.inject(&id, fault, usize::from(*kind) - FAULTS.len() + 1);
                    }
                }
            }
            // Up to 10 records, the heads of each group's queue, groups interleaved.
            let mut batch = Vec::new();
            let mut taken = vec![0; ORDERS.len()];
            for step in 0..4 {
                for (g, q) in queues.iter().enumerate() {
                    if batch.len() < 10 && step < take[g].max(1) && taken[g] < q.len() {
                        batch.push(q[taken[g]].clone());
                        taken[g] += 1;
                    }
                }
            }
            let before = rt.block_on(durable(store.inner(), &batch));
            // Per order: the seqs the store refuses, if its only faults are such refusals
            // and none of them is parked (a refused drain stops the group: no input to blame).
            let only_refusals: Vec<Option<Vec<u64>>> = ORDERS
                .iter()
                .map(|o| {
                    let id = OrderId::parse(o).unwrap();
                    let parked: Vec<u64> = rt
                        .block_on(store.inner().load_stored_order(&id))
                        .unwrap()
                        .map(|s| s.parked.into_keys().collect())
                        .unwrap_or_default();
                    let refused: Vec<u64> = (1..=13)
                        .filter(|s| store.pending(&id, Fault::CommitRefused { seq: *s }) > 0)
                        .collect();
                    let transient = FAULTS.iter().any(|f| store.pending(&id, *f) > 0);
                    let drain = refused.iter().any(|s| parked.contains(s));
                    (!transient && !drain).then_some(refused)
                })
                .collect();
            let event = event_of(&batch);
            let ids: Vec<String> = event.records.iter().map(|r| r.message_id.clone().unwrap()).collect();
            let response = rt.block_on(handle_with(&store, &NoResume, event, &settings, later())).unwrap();
            let failed: Vec<&String> = response.batch_item_failures.iter().map(|f| &f.item_identifier).collect();
            let after = rt.block_on(durable(store.inner(), &batch));
            let reported = |i: usize| failed.contains(&&ids[i]);
            let mut done = Vec::new();
            for (g, order) in ORDERS.iter().enumerate() {
                let mine: Vec<usize> = (0..batch.len()).filter(|i| batch[*i].0 == *order).collect();
                for (k, &i) in mine.iter().enumerate() {
                    if !reported(i) {
                        prop_assert!(after[i], "record {} not reported, not stored", i);
                        continue;
                    }
                    let seq = serde_json::from_str::<Transaction>(&batch[i].1).unwrap().seq.get();
                    if let Some(refused) = &only_refusals[g] {
                        // A refusal fails the refused transaction alone.
                        prop_assert!(
                            refused.contains(&seq) || (after[i] && k + 1 == mine.len()),
                            "record {} (seq {}) reported, refused only {:?}", i, seq, refused
                        );
                    }
                    // A copy is the same transaction: same seq and content (a note may differ).
                    let txn = |j: usize| serde_json::from_str::<Transaction>(&batch[j].1).unwrap();
                    let same = |j: usize| {
                        let (a, b) = (txn(j), txn(i));
                        a.seq == b.seq && a.fingerprint() == b.fingerprint()
                    };
                    let copy_done = mine.iter().any(|&j| !reported(j) && same(j));
                    // A copy of it in the batch may have stored it: the injected refusals
                    // are counted, so one copy can be refused alone and the next pass (a real
                    // refusal refuses both). Either way it comes back as a duplicate.
                    let copied = mine.iter().any(|&j| j != i && same(j));
                    if after[i] && !before[i] && !copy_done {
                        if !copied {
                            prop_assert_eq!(k + 1, mine.len(), "record {} reported, stored", i);
                        }
                        stored_but_reported += 1;
                    } else if after[i] && k + 1 == mine.len() {
                        // The group's last input, a duplicate (of a stored transaction or
                        // of a copy before it in the batch), committed with its count before
                        // the drain after it failed: its redelivery counts once more.
                        stored_but_reported += 1;
                    }
                }
                // A SQS FIFO queue: what succeeded is deleted, what failed comes back first.
                let head: Vec<(String, String)> = queues[g].drain(..mine.len()).collect();
                for (k, record) in head.into_iter().enumerate().rev() {
                    if reported(mine[k]) {
                        queues[g].push_front(record);
                    }
                }
                done.extend(mine.iter().filter(|i| !reported(**i)).map(|i| batch[*i].clone()));
            }
            reference_receive(&mut book, &done);
        }
        prop_assert!(queues.iter().all(VecDeque::is_empty), "queue did not drain");
        let (got, got_dups) = without_duplicates(rt.block_on(views(&store)));
        let (want, want_dups) = without_duplicates(reference_views(&book));
        prop_assert_eq!(got, want);
        prop_assert!(
            got_dups >= want_dups && got_dups - want_dups <= stored_but_reported,
            "duplicates {} against {} with {} stored but reported", got_dups, want_dups, stored_but_reported
        );
        rt.block_on(same_storage(store.inner(), &book))?;
    }

    /// However the parked transactions of an order arrive, however its drain is cut into
    /// steps and whichever step fails: once the redeliveries are processed the order has
    /// drained, each transaction applied once, and `next_seq` is not among its parked seqs.
    #[test]
    fn a_failed_drain_step_never_leaves_next_seq_parked(
        parked in Just((2u64..=40).collect::<Vec<_>>()).prop_shuffle(),
        last in 10u64..=40,
        sizes in prop::collection::vec(1usize..=10, 100),
        faults in prop::collection::vec((0u8..4, 0usize..6), 0..50),
        max_changes in 2usize..=20,
    ) {
        let store = FailingStore::new(MemoryOrderStore::new());
        let id = OrderId::parse("A-1").unwrap();
        let settings = settings(max_changes);
        let rt = runtime();
        // Seq 1 closes the gap, sent last: every drain starts at the end of the queue.
        let mut queue: VecDeque<(String, String)> = parked
            .iter()
            .filter(|s| **s <= last)
            .chain([&1])
            .map(|s| ("A-1".to_owned(), body("A-1", *s, u8::from(*s > 1), *s as u8, 100)))
            .collect();
        // A fault in each of the first rounds, then none: the last round finishes.
        for (round, size) in sizes.iter().enumerate() {
            if queue.is_empty() {
                break;
            }
            if let Some((kind, skip)) = faults.get(round) {
                let fault = FAULTS[*kind as usize];
                store.inject_after(&id, fault, *skip, 1);
            }
            let batch: Vec<_> = queue.iter().take(*size).cloned().collect();
            let event = event_of(&batch);
            let response = rt.block_on(handle_with(&store, &NoResume, event, &settings, later())).unwrap();
            let ok = batch.len() - response.batch_item_failures.len();
            queue.drain(..ok);
        }
        prop_assert!(queue.is_empty(), "queue did not drain");
        let stored = rt.block_on(store.inner().load_stored_order(&id)).unwrap().unwrap();
        prop_assert!(!stored.parked.contains_key(&stored.state.next_seq));
        prop_assert_eq!(stored.state.next_seq, last + 1);
        prop_assert!(stored.parked.is_empty());
        prop_assert_eq!(stored.processed.len() as u64, last);
        prop_assert_eq!(stored.state.applied, last);
    }
}

/// For each record: is its transaction durably stored (processed, parked, or a recorded
/// conflict of its seq)?
async fn durable(store: &MemoryOrderStore, records: &[(String, String)]) -> Vec<bool> {
    let mut out = Vec::new();
    for (order, body) in records {
        let txn: Transaction = serde_json::from_str(body).unwrap();
        let id = OrderId::parse(order).unwrap();
        let (seq, fingerprint) = (txn.seq.get(), txn.fingerprint());
        out.push(match store.load_stored_order(&id).await.unwrap() {
            None => false,
            Some(o) => {
                o.processed
                    .get(&seq)
                    .is_some_and(|p| p.fingerprint == fingerprint)
                    || o.parked
                        .get(&seq)
                        .is_some_and(|t| t.fingerprint() == fingerprint)
                    || o.conflicts.contains_key(&(seq, fingerprint))
            }
        });
    }
    out
}

/// Views without their `duplicates` counter, and the sum of those counters.
fn without_duplicates(
    mut views: BTreeMap<String, serde_json::Value>,
) -> (BTreeMap<String, serde_json::Value>, u64) {
    let mut duplicates = 0;
    for v in views.values_mut() {
        if let Some(d) = v.as_object_mut().and_then(|o| o.remove("duplicates")) {
            duplicates += d.as_u64().unwrap();
        }
    }
    (views, duplicates)
}
