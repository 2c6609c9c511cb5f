//! Handler tests: real SQS FIFO event fixtures through the handler into the in-memory store.

mod events;
mod prop;
mod receipts;
mod rules;

pub(crate) use events::{event_of, fixture, views, NoResume};

use crate::apply::apply_order;
use crate::{handle, handle_with, Settings};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use convoy_core::sequencer::{Need, Step};
use convoy_core::{OrderId, Seq, Transaction};
use convoy_store::{
    Fact, FailingStore, Fault, Head, MemoryOrderStore, OrderReader, OrderStore, StoreError,
};
use serde_json::json;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

pub(crate) fn ids(event: &SqsEvent) -> Vec<String> {
    event
        .records
        .iter()
        .map(|r| r.message_id.clone().unwrap())
        .collect()
}

pub(crate) fn failures(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

/// A deadline no test reaches.
pub(crate) fn later() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

pub(crate) fn oid(s: &str) -> OrderId {
    OrderId::parse(s).unwrap()
}

fn mixed_views() -> serde_json::Value {
    json!({
        "A-1": {"order_id":"A-1","status":"paid","currency":"EUR","total":"27.50",
                "items":{"t1":"12.50","t2":"15.00"},"next_seq":5,"parked":[],
                "applied":4,"rejected":0,"duplicates":0,"conflicts":0,"voided":[]},
        "B-7": {"order_id":"B-7","status":"paid","currency":"USD","total":"-0.125",
                "items":{"x":"-0.125"},"next_seq":4,"parked":[],
                "applied":3,"rejected":0,"duplicates":0,"conflicts":0,"voided":[]},
        "C-3": {"order_id":"C-3","status":"deleted","currency":"GBP","total":"0.00",
                "items":{},"next_seq":4,"parked":[],
                "applied":2,"rejected":1,"duplicates":0,"conflicts":0,"voided":[]},
    })
}

#[tokio::test]
async fn mixed_groups_are_applied_with_one_commit_per_order() {
    let store = MemoryOrderStore::new();
    let response = handle(&store, &NoResume, fixture("mixed_groups"), later())
        .await
        .unwrap();
    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(json!(views(&store).await), mixed_views());
    assert_eq!(store.commits(), 3);
    let c3 = store.load_stored_order(&oid("C-3")).await.unwrap().unwrap();
    let rejected = serde_json::to_value(&c3.processed[&2].outcome).unwrap();
    assert_eq!(
        rejected,
        json!({"outcome":"rejected","reason":{"rule":"not_allowed","op":"ship","status":"open"}})
    );
}

#[tokio::test]
async fn redelivery_of_the_same_batch_changes_nothing_but_duplicates() {
    let store = MemoryOrderStore::new();
    handle(&store, &NoResume, fixture("mixed_groups"), later())
        .await
        .unwrap();
    let history = |o: &str| {
        let store = &store;
        let id = oid(o);
        async move {
            store
                .load_stored_order(&id)
                .await
                .unwrap()
                .unwrap()
                .processed
        }
    };
    let before = (
        history("A-1").await,
        history("B-7").await,
        history("C-3").await,
    );
    let response = handle(&store, &NoResume, fixture("mixed_groups"), later())
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let mut want = mixed_views();
    for (order, copies) in [("A-1", 4), ("B-7", 3), ("C-3", 3)] {
        want[order]["duplicates"] = json!(copies);
    }
    assert_eq!(json!(views(&store).await), want);
    let after = (
        history("A-1").await,
        history("B-7").await,
        history("C-3").await,
    );
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_store_fault_fails_that_record_and_the_later_ones_of_its_group_only() {
    let event = fixture("mixed_groups");
    let all = ids(&event);
    let store = FailingStore::new(MemoryOrderStore::new());
    store.fail_commits(&oid("B-7"), 1);
    let response = handle(&store, &NoResume, event, later()).await.unwrap();
    // B-7's records are 2nd, 5th and 8th of the batch, reported in their order.
    assert_eq!(
        failures(&response),
        [all[1].clone(), all[4].clone(), all[7].clone()]
    );
    let got = json!(views(&store).await);
    assert_eq!(got["A-1"], mixed_views()["A-1"]);
    assert_eq!(got["C-3"], mixed_views()["C-3"]);
    assert_eq!(got.get("B-7"), None);
}

#[tokio::test]
async fn a_fault_mid_group_keeps_what_was_committed_before_it() {
    let event = fixture("mixed_groups");
    let all = ids(&event);
    let store = FailingStore::new(MemoryOrderStore::new());
    // Two changes per commit: one record each, so A-1 takes four commits; the third fails.
    store.inject_after(&oid("A-1"), Fault::CommitFails, 2, 1);
    let settings = Settings {
        max_changes: 2,
        ..Settings::default()
    };
    let response = handle_with(&store, &NoResume, event, &settings, later())
        .await
        .unwrap();
    // A-1's records are 1st, 3rd, 6th and 9th: the first two are committed.
    assert_eq!(failures(&response), [all[5].clone(), all[8].clone()]);
    let got = json!(views(&store).await);
    assert_eq!(got["A-1"]["next_seq"], 3);
    assert_eq!(got["A-1"]["items"], json!({"t1": "12.50"}));
    assert_eq!(got["B-7"], mixed_views()["B-7"]);
    // The retried records finish the order, and nothing is applied twice.
    let retry = fixture("mixed_groups");
    let mut retry_event = retry.clone();
    retry_event
        .records
        .retain(|r| failures(&response).contains(r.message_id.as_ref().unwrap()));
    assert!(handle(&store, &NoResume, retry_event, later())
        .await
        .unwrap()
        .batch_item_failures
        .is_empty());
    assert_eq!(json!(views(&store).await), mixed_views());
}

#[tokio::test]
async fn poison_records_fail_alone_and_their_group_goes_on() {
    let event = fixture("poison");
    let all = ids(&event);
    let store = MemoryOrderStore::new();
    let response = handle(&store, &NoResume, event, later()).await.unwrap();
    // A-1: broken JSON at 3rd; C-3: body of X-9 at 4th; B-7: amount "1e2" at 6th. Each
    // alone: A-1's seq 3 (5th) is parked behind the gap, C-3's seq 1 (7th) applied.
    assert_eq!(
        failures(&response),
        [all[2].clone(), all[3].clone(), all[5].clone()]
    );
    let v = json!(views(&store).await);
    assert_eq!(v["A-1"]["next_seq"], 2);
    assert_eq!(v["A-1"]["parked"], json!([3]));
    assert_eq!(v["B-7"]["next_seq"], 2);
    assert_eq!(v["C-3"]["next_seq"], 2);
    assert_eq!(v["C-3"]["status"], "open");
    assert_eq!(v.get("X-9"), None);
}

#[tokio::test]
async fn parked_transactions_drain_in_a_later_batch() {
    let store = MemoryOrderStore::new();
    assert!(handle(&store, &NoResume, fixture("parked_first"), later())
        .await
        .unwrap()
        .batch_item_failures
        .is_empty());
    let v = json!(views(&store).await);
    assert_eq!(v["A-1"]["parked"], json!([3, 4]));
    assert_eq!(v["B-7"]["parked"], json!([2]));
    assert_eq!(v["B-7"]["status"], "new");
    assert!(handle(&store, &NoResume, fixture("gap_closed"), later())
        .await
        .unwrap()
        .batch_item_failures
        .is_empty());
    let v = json!(views(&store).await);
    assert_eq!(
        v["A-1"],
        json!({"order_id":"A-1","status":"shipped","currency":"EUR","total":"12.50",
               "items":{"t1":"10.00","t2":"2.50"},"next_seq":6,"parked":[],
               "applied":5,"rejected":0,"duplicates":1,"conflicts":1,"voided":[]})
    );
    let a1 = store.load_stored_order(&oid("A-1")).await.unwrap().unwrap();
    assert!(a1.parked.is_empty());
    assert_eq!(a1.processed.len(), 5);
    assert_eq!(a1.conflicts.len(), 1);
    // The conflict is recorded once, however often it comes back.
    assert!(handle(&store, &NoResume, fixture("gap_closed"), later())
        .await
        .unwrap()
        .batch_item_failures
        .is_empty());
    let v = json!(views(&store).await);
    assert_eq!(v["A-1"]["conflicts"], 1);
    assert_eq!(v["A-1"]["duplicates"], 4);
}

pub(crate) fn body(order: &str, seq: u64) -> String {
    if seq == 1 {
        format!(r#"{{"order_id":"{order}","seq":1,"op":"create","currency":"EUR"}}"#)
    } else {
        format!(r#"{{"order_id":"{order}","seq":{seq},"op":"add","txn_id":"t{seq}","amount":"1"}}"#)
    }
}

#[tokio::test]
async fn a_drain_larger_than_one_transaction_is_split_over_several_commits() {
    let store = MemoryOrderStore::new();
    let seqs: Vec<u64> = (2..=151).collect();
    for chunk in seqs.chunks(10) {
        let records: Vec<_> = chunk
            .iter()
            .map(|s| ("A-1".into(), body("A-1", *s)))
            .collect();
        assert!(handle(&store, &NoResume, event_of(&records), later())
            .await
            .unwrap()
            .batch_item_failures
            .is_empty());
    }
    assert_eq!(store.commits(), 15);
    let first = event_of(&[("A-1".into(), body("A-1", 1))]);
    assert!(handle(&store, &NoResume, first, later())
        .await
        .unwrap()
        .batch_item_failures
        .is_empty());
    // 1 record + 150 × (unpark + record) = 301 changes, at most 40 per commit: 20
    // transactions a commit.
    assert_eq!(store.commits(), 15 + 8);
    let v = json!(views(&store).await);
    assert_eq!(v["A-1"]["next_seq"], 152);
    assert_eq!(v["A-1"]["total"], "150.00");
    assert_eq!(v["A-1"]["parked"], json!([]));
    // One log item per commit; the parked copies stay, below next_seq, as history.
    let sks: Vec<String> = store
        .items()
        .iter()
        .map(|i| convoy_store::item::Reader::new(i).sk().to_owned())
        .collect();
    assert_eq!(sks.iter().filter(|k| k.starts_with("log#")).count(), 23);
    assert_eq!(sks.iter().filter(|k| k.starts_with("parked#")).count(), 150);
}

#[tokio::test]
async fn an_order_over_its_parked_limit_fails_only_the_record_past_it() {
    let store = MemoryOrderStore::new();
    let max = convoy_core::sequencer::MAX_PARKED as u64;
    let records: Vec<_> = (2..=max + 2)
        .map(|s| ("A-1".into(), body("A-1", s)))
        .collect();
    let event = event_of(&records);
    let last = ids(&event).pop().unwrap();
    let response = handle(&store, &NoResume, event, later()).await.unwrap();
    assert_eq!(failures(&response), [last]);
    let state = store.load(&oid("A-1")).await.unwrap().unwrap().state;
    assert_eq!(
        state.parked_count as usize,
        convoy_core::sequencer::MAX_PARKED
    );
}

/// A store where another writer commits to the order just before our first commit.
struct Racing<'a> {
    inner: &'a MemoryOrderStore,
    rival: Mutex<Option<Vec<Transaction>>>,
}

impl OrderStore for Racing<'_> {
    async fn load(&self, id: &OrderId) -> Result<Option<Head>, StoreError> {
        self.inner.load(id).await
    }
    async fn fetch(&self, id: &OrderId, need: &Need) -> Result<Option<Fact>, StoreError> {
        self.inner.fetch(id, need).await
    }
    async fn fetch_parked(
        &self,
        id: &OrderId,
        from: Seq,
        to: Seq,
    ) -> Result<Vec<Transaction>, StoreError> {
        self.inner.fetch_parked(id, from, to).await
    }
    async fn take_receipt(&self) -> Result<u64, StoreError> {
        self.inner.take_receipt().await
    }
    async fn commit(
        &self,
        id: &OrderId,
        base: Option<&Head>,
        step: &Step,
    ) -> Result<Head, StoreError> {
        let rival = self.rival.lock().unwrap().take();
        if let Some(txns) = rival {
            let done = apply_order(self.inner, id, &txns, &Settings::default(), later()).await;
            assert!(done.error.is_none(), "{:?}", done.error);
        }
        self.inner.commit(id, base, step).await
    }

    async fn record_failure(&self, failure: &convoy_store::Failure) -> Result<(), StoreError> {
        self.inner.record_failure(failure).await
    }
}

#[tokio::test]
async fn a_concurrent_writer_makes_the_batch_reload_and_redo() {
    let inner = MemoryOrderStore::new();
    let rival: Transaction = serde_json::from_str(&body("A-1", 1)).unwrap();
    let store = Racing {
        inner: &inner,
        rival: Mutex::new(Some(vec![rival])),
    };
    let event = event_of(&[
        ("A-1".into(), body("A-1", 1)),
        ("A-1".into(), body("A-1", 2)),
    ]);
    assert!(handle(&store, &NoResume, event, later())
        .await
        .unwrap()
        .batch_item_failures
        .is_empty());
    // The rival's commit, our lost one, then ours after reloading (seq 1 is a duplicate now).
    assert_eq!(inner.commits(), 2);
    let v = json!(views(&inner).await);
    assert_eq!(v["A-1"]["next_seq"], 3);
    assert_eq!(v["A-1"]["applied"], 2);
    assert_eq!(v["A-1"]["duplicates"], 1);
}

#[tokio::test]
async fn an_order_that_keeps_changing_under_us_fails_after_the_retries() {
    let event = fixture("single");
    let all = ids(&event);
    let store = FailingStore::new(MemoryOrderStore::new());
    store.inject(&oid("A-1"), Fault::CommitConflicts, 100);
    let settings = Settings {
        conflict_backoff: std::time::Duration::ZERO,
        ..Settings::default()
    };
    let response = handle_with(&store, &NoResume, event, &settings, later())
        .await
        .unwrap();
    assert_eq!(failures(&response), all);
    assert_eq!(store.pending(&oid("A-1"), Fault::CommitConflicts), 100 - 6);
}

#[tokio::test]
async fn a_failed_load_fails_the_whole_group() {
    let event = fixture("mixed_groups");
    let all = ids(&event);
    let store = FailingStore::new(MemoryOrderStore::new());
    store.inject(&oid("C-3"), Fault::LoadFails, 1);
    let response = handle(&store, &NoResume, event, later()).await.unwrap();
    assert_eq!(
        failures(&response),
        [all[3].clone(), all[6].clone(), all[9].clone()]
    );
}

/// Parks seqs `2..=last` of order `id` (batches of ten records); seq 1 is left as the gap.
async fn park_after_a_gap<S: OrderStore>(store: &S, id: &str, last: u64) {
    let seqs: Vec<u64> = (2..=last).collect();
    for chunk in seqs.chunks(10) {
        let records: Vec<_> = chunk.iter().map(|s| (id.into(), body(id, *s))).collect();
        assert!(handle(store, &NoResume, event_of(&records), later())
            .await
            .unwrap()
            .batch_item_failures
            .is_empty());
    }
}

/// After the redelivery: A-1 has drained all of `1..=last`, each applied exactly once.
async fn drained_exactly_once(store: &MemoryOrderStore, last: u64) {
    let v = json!(views(store).await);
    assert_eq!(v["A-1"]["next_seq"], last + 1);
    assert_eq!(v["A-1"]["parked"], json!([]));
    assert_eq!(v["A-1"]["applied"], last);
    assert_eq!(v["A-1"]["rejected"], 0);
    assert_eq!(v["A-1"]["total"], format!("{}.00", last - 1));
    let a1 = store.load_stored_order(&oid("A-1")).await.unwrap().unwrap();
    assert!(a1.parked.is_empty());
    assert_eq!(a1.processed.len() as u64, last);
    assert!(a1
        .processed
        .values()
        .all(|p| p.outcome == convoy_core::sequencer::Outcome::Applied));
}

#[tokio::test]
async fn a_drain_step_failing_after_the_groups_last_record_reports_that_record() {
    // 69 parked behind seq 1: the step holding seq 1 drains 19 (1 + 19 × 2 = 39 changes),
    // the drain-only step after it fails, by a backend error or by lost races every time.
    let last = 70;
    let faults = [
        (Fault::CommitFails, 1),
        (
            Fault::CommitConflicts,
            Settings::default().max_conflict_retries + 1,
        ),
    ];
    for (fault, times) in faults {
        let store = FailingStore::new(MemoryOrderStore::new());
        park_after_a_gap(&store, "A-1", last).await;
        store.inject_after(&oid("A-1"), fault, 1, times);
        let event = event_of(&[
            ("B-7".into(), body("B-7", 1)),
            ("A-1".into(), body("A-1", 1)),
        ]);
        let all = ids(&event);
        let settings = Settings {
            conflict_backoff: std::time::Duration::ZERO,
            ..Settings::default()
        };
        let response = handle_with(&store, &NoResume, event.clone(), &settings, later())
            .await
            .unwrap();
        assert_eq!(failures(&response), [all[1].clone()], "{fault:?}");
        let stored = store.load_stored_order(&oid("A-1")).await.unwrap().unwrap();
        assert_eq!(stored.state.next_seq, 21, "{fault:?}");
        assert!(stored.parked.contains_key(&stored.state.next_seq));
        // SQS redelivers it: a duplicate that resumes the drain.
        assert_eq!(store.pending(&oid("A-1"), fault), 0);
        let response = handle_with(&store, &NoResume, event, &settings, later())
            .await
            .unwrap();
        assert_eq!(failures(&response), Vec::<String>::new(), "{fault:?}");
        drained_exactly_once(store.inner(), last).await;
        let v = json!(views(&store).await);
        assert_eq!(v["A-1"]["duplicates"], 1);
        assert_eq!(v["B-7"]["duplicates"], 1);
    }
}

#[tokio::test]
async fn a_drain_step_failing_before_a_trailing_poison_reports_the_last_transaction_too() {
    // The poison alone would come back alone, and a poison resumes nothing.
    let last = 70;
    let store = FailingStore::new(MemoryOrderStore::new());
    park_after_a_gap(&store, "A-1", last).await;
    store.inject_after(&oid("A-1"), Fault::CommitFails, 1, 1);
    let event = event_of(&[
        ("A-1".into(), body("A-1", 1)),
        ("A-1".into(), "{ not a transaction".into()),
    ]);
    let all = ids(&event);
    let response = handle(&store, &NoResume, event.clone(), later())
        .await
        .unwrap();
    assert_eq!(failures(&response), all);
    let response = handle(&store, &NoResume, event, later()).await.unwrap();
    assert_eq!(failures(&response), [all[1].clone()]);
    drained_exactly_once(store.inner(), last).await;
}

#[tokio::test]
async fn a_drain_that_finishes_reports_nothing() {
    let last = 70;
    let store = FailingStore::new(MemoryOrderStore::new());
    park_after_a_gap(&store, "A-1", last).await;
    // A fault on a commit that never comes (four steps of 20 suffice).
    store.inject_after(&oid("A-1"), Fault::CommitFails, 4, 1);
    let event = event_of(&[("A-1".into(), body("A-1", 1))]);
    assert!(handle(&store, &NoResume, event, later())
        .await
        .unwrap()
        .batch_item_failures
        .is_empty());
    assert_eq!(store.pending(&oid("A-1"), Fault::CommitFails), 1);
    drained_exactly_once(store.inner(), last).await;
}
