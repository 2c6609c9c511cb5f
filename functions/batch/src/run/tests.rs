//! A window's batch from the in-memory store into an in-memory bucket: its bounds, a late,
//! repeated or concurrent run, a write that fails, a damaged receipt.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::file;
use convoy_core::sequencer::process;
use convoy_core::{OrderId, OrderState, Receipt, Transaction};
use convoy_store::{MemoryOrderStore, OrderStore};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Objects by key; `fail_next` makes the next put fail before it lands, `land_then_fail`
/// after it landed (a run that crashed before it could say so).
#[derive(Default)]
struct MemoryBucket {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    fail_next: Mutex<bool>,
    land_then_fail: Mutex<bool>,
}

impl MemoryBucket {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.objects.lock().unwrap().get(key).cloned()
    }
}

fn injected(key: &str) -> BucketError {
    BucketError {
        operation: "PutObject",
        bucket: "memory".into(),
        key: key.into(),
        source: "injected: the connection dropped".into(),
    }
}

impl BatchBucket for MemoryBucket {
    async fn exists(&self, key: &str) -> Result<bool, BucketError> {
        Ok(self.objects.lock().unwrap().contains_key(key))
    }

    async fn head_bytes(&self, key: &str, bytes: usize) -> Result<Option<Vec<u8>>, BucketError> {
        Ok(self.get(key).map(|b| b[..b.len().min(bytes)].to_vec()))
    }

    async fn put_new(&self, key: &str, body: Vec<u8>) -> Result<bool, BucketError> {
        if std::mem::take(&mut *self.fail_next.lock().unwrap()) {
            return Err(injected(key));
        }
        let mut objects = self.objects.lock().unwrap();
        if objects.contains_key(key) {
            return Ok(false);
        }
        objects.insert(key.to_owned(), body);
        if std::mem::take(&mut *self.land_then_fail.lock().unwrap()) {
            return Err(injected(key));
        }
        Ok(true)
    }
}

fn cutoff() -> Cutoff {
    Cutoff::new("14:00", "Europe/Berlin").unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn ms(s: &str) -> u64 {
    ts(s).as_millisecond() as u64
}

const SETTLE: Duration = Duration::from_secs(960);

/// Commits order `id` (created, two items, paid) with receipt `number` at `paid_at`.
async fn pay(store: &MemoryOrderStore, id: &str, number: u64, paid_at: &str) {
    try_pay(store, id, number, paid_at).await.unwrap();
}

/// [`pay`], its commit's outcome.
async fn try_pay(
    store: &MemoryOrderStore,
    id: &str,
    number: u64,
    paid_at: &str,
) -> Result<convoy_store::Head, convoy_store::StoreError> {
    let txns: Vec<Transaction> = [
        r#""seq":1,"op":"create","currency":"EUR""#,
        r#""seq":2,"op":"add","txn_id":"t1","amount":"12.5""#,
        r#""seq":3,"op":"add","txn_id":"t2","amount":"15""#,
        r#""seq":4,"op":"pay""#,
    ]
    .iter()
    .map(|rest| serde_json::from_str(&format!(r#"{{"order_id":"{id}",{rest}}}"#)).unwrap())
    .collect();
    let oid = OrderId::parse(id).unwrap();
    let mut step = process(
        &OrderState::new(oid.clone()),
        &Default::default(),
        &txns,
        40,
    )
    .unwrap();
    step.receipt = Some(Receipt {
        number,
        paid_at: ms(paid_at),
    });
    store.commit(&oid, None, &step).await
}

fn orders_in(bytes: &[u8]) -> Vec<(String, u64)> {
    let (_, orders) = file::parse(bytes).unwrap();
    orders
        .into_iter()
        .map(|o| (o.order_id, o.receipt))
        .collect()
}

#[tokio::test]
async fn a_payment_a_second_before_the_cutoff_is_in_its_window_one_a_second_after_in_the_next() {
    let store = MemoryOrderStore::new();
    let bucket = MemoryBucket::default();
    // 14:00 in Berlin is 13:00Z in December.
    pay(&store, "before", 5, "2026-12-07T12:59:59Z").await;
    pay(&store, "after", 6, "2026-12-07T13:00:01Z").await;
    pay(&store, "at", 7, "2026-12-07T13:00:00Z").await;
    pay(&store, "earlier", 2, "2026-12-06T13:00:00Z").await;
    let c = cutoff();
    let today = c.window_named("2026-12-07").unwrap();
    let now = ts("2026-12-08T14:00:00Z");
    let report = write_window(&store, &bucket, &c, &today, now, SETTLE)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Written);
    assert_eq!(report.orders, Some(2));
    let written = bucket.get("batches/2026-12-07.jsonl").unwrap();
    assert_eq!(
        orders_in(&written),
        [("earlier".into(), 2), ("before".into(), 5)]
    );
    let tomorrow = c.window_named("2026-12-08").unwrap();
    write_window(&store, &bucket, &c, &tomorrow, now, SETTLE)
        .await
        .unwrap();
    let next = bucket.get("batches/2026-12-08.jsonl").unwrap();
    assert_eq!(orders_in(&next), [("after".into(), 6), ("at".into(), 7)]);
    // Listed as paid: currency, total, items.
    let (header, orders) = file::parse(&written).unwrap();
    assert_eq!(header.count(), 2);
    let o = &orders[1];
    assert_eq!(
        (o.currency.as_str(), o.total.to_string()),
        ("EUR", "27.50".into())
    );
    assert_eq!(o.items.len(), 2);
    assert_eq!(o.paid_at_ms, ms("2026-12-07T12:59:59Z"));
}

#[tokio::test]
async fn a_window_is_written_only_once_it_is_settled() {
    let store = MemoryOrderStore::new();
    let bucket = MemoryBucket::default();
    let c = cutoff();
    let w = c.window_named("2026-12-07").unwrap();
    let early = ts("2026-12-07T13:15:59Z"); // the cutoff plus 959 s
    let e = write_window(&store, &bucket, &c, &w, early, SETTLE)
        .await
        .unwrap_err();
    assert!(matches!(e, BatchError::NotSettled { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("not settled until 2026-12-07T13:16:00Z"),
        "{e}"
    );
    assert!(bucket.get("batches/2026-12-07.jsonl").is_none());
    let settled = ts("2026-12-07T13:16:00Z");
    let r = write_window(&store, &bucket, &c, &w, settled, SETTLE)
        .await
        .unwrap();
    assert_eq!((r.outcome, r.orders), (Outcome::Written, Some(0)));
}

#[tokio::test]
async fn a_late_or_repeated_run_changes_nothing() {
    let store = MemoryOrderStore::new();
    let bucket = MemoryBucket::default();
    pay(&store, "A-1", 1, "2026-12-07T10:00:00Z").await;
    let c = cutoff();
    let w = c.window_named("2026-12-07").unwrap();
    write_window(&store, &bucket, &c, &w, ts("2026-12-07T13:20:00Z"), SETTLE)
        .await
        .unwrap();
    let first = bucket.get("batches/2026-12-07.jsonl").unwrap();
    // A payment the consumer would commit into the window afterwards (a clock behind, a
    // commit held up past the settle delay) is refused: the batch sealed the window.
    let e = try_pay(&store, "A-2", 2, "2026-12-07T11:00:00Z")
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "order A-2: a batch has read the receipts up to 1796648400000 (epoch ms), after this \
         payment's time; it is paid again after that"
    );
    for late in ["2026-12-07T13:30:00Z", "2026-12-09T00:00:00Z"] {
        let r = write_window(&store, &bucket, &c, &w, ts(late), SETTLE)
            .await
            .unwrap();
        assert_eq!((r.outcome, r.orders), (Outcome::AlreadyWritten, None));
    }
    assert_eq!(bucket.get("batches/2026-12-07.jsonl").unwrap(), first);
}

#[tokio::test]
async fn a_write_that_fails_is_written_by_the_next_run_and_one_that_landed_is_kept() {
    let store = MemoryOrderStore::new();
    pay(&store, "A-1", 1, "2026-12-07T10:00:00Z").await;
    let c = cutoff();
    let w = c.window_named("2026-12-07").unwrap();
    let now = ts("2026-12-07T14:00:00Z");
    // Failed before it landed: nothing is there, the next run writes it.
    let bucket = MemoryBucket::default();
    *bucket.fail_next.lock().unwrap() = true;
    let e = write_window(&store, &bucket, &c, &w, now, SETTLE)
        .await
        .unwrap_err();
    assert!(matches!(e, BatchError::Bucket(_)), "{e}");
    assert!(bucket.get("batches/2026-12-07.jsonl").is_none());
    let r = write_window(&store, &bucket, &c, &w, now, SETTLE)
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Written);
    // Landed, then the run failed: the retry finds it and changes nothing.
    let bucket = MemoryBucket::default();
    *bucket.land_then_fail.lock().unwrap() = true;
    assert!(write_window(&store, &bucket, &c, &w, now, SETTLE)
        .await
        .is_err());
    let landed = bucket.get("batches/2026-12-07.jsonl").unwrap();
    let r = write_window(&store, &bucket, &c, &w, now, SETTLE)
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::AlreadyWritten);
    assert_eq!(bucket.get("batches/2026-12-07.jsonl").unwrap(), landed);
    assert_eq!(orders_in(&landed), [("A-1".into(), 1)]);
}

#[tokio::test]
async fn a_run_that_loses_the_conditional_write_reports_the_batch_unchanged() {
    let store = MemoryOrderStore::new();
    let bucket = MemoryBucket::default();
    let c = cutoff();
    let w = c.window_named("2026-12-07").unwrap();
    // Another run wrote between this run's check and its write.
    bucket
        .objects
        .lock()
        .unwrap()
        .insert("batches/2026-12-07.jsonl".into(), b"theirs".to_vec());
    struct Racing<'a>(&'a MemoryBucket);
    impl BatchBucket for Racing<'_> {
        async fn exists(&self, _: &str) -> Result<bool, BucketError> {
            Ok(false)
        }
        async fn head_bytes(&self, key: &str, n: usize) -> Result<Option<Vec<u8>>, BucketError> {
            self.0.head_bytes(key, n).await
        }
        async fn put_new(&self, key: &str, body: Vec<u8>) -> Result<bool, BucketError> {
            self.0.put_new(key, body).await
        }
    }
    let now = ts("2026-12-08T00:00:00Z");
    let r = write_window(&store, &Racing(&bucket), &c, &w, now, SETTLE)
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::AlreadyWritten);
    assert_eq!(bucket.get("batches/2026-12-07.jsonl").unwrap(), b"theirs");
}

#[tokio::test]
async fn an_empty_window_is_a_header_alone() {
    let store = MemoryOrderStore::new();
    let bucket = MemoryBucket::default();
    let c = cutoff();
    let w = c.window_named("2026-12-07").unwrap();
    write_window(&store, &bucket, &c, &w, ts("2026-12-08T00:00:00Z"), SETTLE)
        .await
        .unwrap();
    let bytes = bucket.get("batches/2026-12-07.jsonl").unwrap();
    let (header, orders) = file::parse(&bytes).unwrap();
    assert_eq!((header.count(), orders.len()), (0, 0));
    assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 1);
}

#[tokio::test]
async fn a_receipt_whose_total_the_items_do_not_make_stops_the_batch() {
    let store = MemoryOrderStore::new();
    let bucket = MemoryBucket::default();
    pay(&store, "A-1", 1, "2026-12-07T10:00:00Z").await;
    // Damage the receipt's total.
    let mut receipt = store
        .items()
        .into_iter()
        .find(|i| {
            convoy_store::item::Reader::new(i)
                .pk()
                .starts_with("receipts#2")
        })
        .unwrap();
    receipt.insert(
        "total".into(),
        aws_sdk_dynamodb::types::AttributeValue::S("1.00".into()),
    );
    store.insert(receipt);
    let c = cutoff();
    let w = c.window_named("2026-12-07").unwrap();
    let e = write_window(&store, &bucket, &c, &w, ts("2026-12-08T00:00:00Z"), SETTLE)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "order A-1 (receipt 1): its items add up to 27.50, its receipt says 1.00; the batch is not written"
    );
    assert!(bucket.get("batches/2026-12-07.jsonl").is_none());
}

#[tokio::test]
async fn the_scheduled_run_writes_the_latest_settled_window_or_the_named_one() {
    let store = MemoryOrderStore::new();
    let bucket = MemoryBucket::default();
    let settings =
        crate::settings::Settings::from_values("14:00", "Europe/Berlin", "960", "900").unwrap();
    // 13:10Z: the 13:00Z cutoff is not settled yet; the latest settled is yesterday's.
    let r = scheduled(&store, &bucket, &settings, None, ts("2026-12-07T13:10:00Z"))
        .await
        .unwrap();
    assert_eq!(r.window, "2026-12-06");
    let r = scheduled(&store, &bucket, &settings, None, ts("2026-12-07T13:16:00Z"))
        .await
        .unwrap();
    assert_eq!(r.window, "2026-12-07");
    let r = scheduled(
        &store,
        &bucket,
        &settings,
        Some("2026-12-01"),
        ts("2026-12-07T13:16:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(
        (r.window.as_str(), r.outcome),
        ("2026-12-01", Outcome::Written)
    );
    let e = scheduled(
        &store,
        &bucket,
        &settings,
        Some("2026-13-01"),
        ts("2026-12-07T13:16:00Z"),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("2026-13-01"), "{e}");
}

#[tokio::test]
async fn a_changed_cutoff_leaves_no_payment_in_two_batches_or_in_none() {
    let store = MemoryOrderStore::new();
    let bucket = MemoryBucket::default();
    // Berlin in December: 14:00 is 13:00Z, 16:00 is 15:00Z, 12:00 is 11:00Z.
    pay(&store, "d6-noon", 1, "2026-12-06T11:30:00Z").await;
    pay(&store, "d6-15h", 2, "2026-12-06T14:00:00Z").await;
    pay(&store, "d7-noon", 3, "2026-12-07T11:30:00Z").await;
    pay(&store, "d7-15h", 4, "2026-12-07T14:00:00Z").await;
    pay(&store, "d8-10h", 5, "2026-12-08T09:00:00Z").await;
    let late = ts("2026-12-10T00:00:00Z");
    let old = cutoff();
    let d6 = old.window_named("2026-12-06").unwrap();
    write_window(&store, &bucket, &old, &d6, late, SETTLE)
        .await
        .unwrap();
    // Moved later to 16:00: window 12-07 starts at the old 14:00 of 12-06, not at 16:00.
    let later = Cutoff::new("16:00", "Europe/Berlin").unwrap();
    let d7 = later.window_named("2026-12-07").unwrap();
    assert_eq!(d7.start(), ts("2026-12-06T15:00:00Z"));
    write_window(&store, &bucket, &later, &d7, late, SETTLE)
        .await
        .unwrap();
    let d7_file = bucket.get("batches/2026-12-07.jsonl").unwrap();
    assert_eq!(
        orders_in(&d7_file),
        [
            ("d6-15h".into(), 2),
            ("d7-noon".into(), 3),
            ("d7-15h".into(), 4)
        ]
    );
    let (header, _) = file::parse(&d7_file).unwrap();
    assert_eq!(header.start(), ts("2026-12-06T13:00:00Z"));
    // Moved earlier to 12:00: window 12-08 starts at 16:00 of 12-07, not at 12:00.
    let earlier = Cutoff::new("12:00", "Europe/Berlin").unwrap();
    let d8 = earlier.window_named("2026-12-08").unwrap();
    write_window(&store, &bucket, &earlier, &d8, late, SETTLE)
        .await
        .unwrap();
    let d8_file = bucket.get("batches/2026-12-08.jsonl").unwrap();
    assert_eq!(orders_in(&d8_file), [("d8-10h".into(), 5)]);
    let (header, _) = file::parse(&d8_file).unwrap();
    assert_eq!(header.start(), ts("2026-12-07T15:00:00Z"));
    assert_eq!(header.end(), ts("2026-12-08T11:00:00Z"));
    // Every payment in exactly one batch.
    let d6_file = bucket.get("batches/2026-12-06.jsonl").unwrap();
    assert_eq!(orders_in(&d6_file), [("d6-noon".into(), 1)]);
}

#[tokio::test]
async fn windows_written_out_of_order_across_a_cutoff_change_still_meet() {
    // 12-06's runs failed until 12-07 was written under 14:00; then the cutoff moved to
    // 16:00 and an operator wrote 12-06: it ends where 12-07 began (13:00Z), not at 15:00Z.
    let store = MemoryOrderStore::new();
    let bucket = MemoryBucket::default();
    pay(&store, "d6-noon", 1, "2026-12-06T11:30:00Z").await;
    pay(&store, "d6-14h", 2, "2026-12-06T13:30:00Z").await;
    pay(&store, "d7-noon", 3, "2026-12-07T11:30:00Z").await;
    let late = ts("2026-12-10T00:00:00Z");
    let old = cutoff();
    let d7 = old.window_named("2026-12-07").unwrap();
    write_window(&store, &bucket, &old, &d7, late, SETTLE)
        .await
        .unwrap();
    let later = Cutoff::new("16:00", "Europe/Berlin").unwrap();
    let d6 = later.window_named("2026-12-06").unwrap();
    write_window(&store, &bucket, &later, &d6, late, SETTLE)
        .await
        .unwrap();
    let d6_file = bucket.get("batches/2026-12-06.jsonl").unwrap();
    let d7_file = bucket.get("batches/2026-12-07.jsonl").unwrap();
    assert_eq!(orders_in(&d6_file), [("d6-noon".into(), 1)]);
    assert_eq!(
        orders_in(&d7_file),
        [("d6-14h".into(), 2), ("d7-noon".into(), 3)]
    );
    let (header, _) = file::parse(&d6_file).unwrap();
    assert_eq!(header.end(), ts("2026-12-06T13:00:00Z"));
}
