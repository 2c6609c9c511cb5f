//! Cutoff batches end to end on the emulator, with a clock the test controls: ledgers go
//! through the pipeline (ledger function, FIFO queue, the consumer in-process with the
//! test's clock) into DynamoDB's receipts, and the batch of a window is written to S3 with
//! its conditional write. Payments a second either side of a cutoff, a run too early, a
//! late and a repeated run, a run that crashed before and after its write landed, an empty
//! window, and cutoffs on days a DST change skips or repeats them.
//!
//! The consumer writes to a table of the test's own (its receipts, their counter and their
//! seal are no other test's), and the batches go to a bucket of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test file: a failed unwrap is a failed test

use batch::file::{self, BatchOrder};
use batch::run::{write_window, BatchBucket, BatchError, BucketError, Outcome};
use batch::s3::S3BatchBucket;
use batch::window::Cutoff;
use convoy_store::DynamoOrderStore;
use convoy_tests::Harness;
use jiff::Timestamp;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SETTLE: Duration = Duration::from_secs(960);

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// The harness, the pipeline running with a consumer on the test's clock, and a bucket of
/// this test's own for the batches.
struct Clocked {
    h: Harness,
    now: Arc<AtomicU64>,
    /// The consumer's orders and receipts: a table of this test's own, so its receipts,
    /// their counter and their seal are no other test's.
    store: DynamoOrderStore,
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl Clocked {
    async fn start() -> (Clocked, convoy_local::pipeline::Running) {
        let h = Harness::start().await.unwrap();
        let client = convoy_store::emulator::client().await;
        let table = convoy_store::emulator::create_table(&client, "batches").await;
        let s3 = h.pipeline.s3.clone();
        let bucket = format!("batches-{}", h.run.to_lowercase());
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        let c = Clocked {
            h,
            now: Arc::new(AtomicU64::new(0)),
            store: DynamoOrderStore::new(client, table),
            s3,
            bucket,
        };
        let running = c.restart().await;
        (c, running)
    }

    /// The mappings, with the consumer in-process on the test's clock and table.
    async fn restart(&self) -> convoy_local::pipeline::Running {
        let mut consumer = self.h.consumer(self.store.clone());
        let clock = self.now.clone();
        consumer.settings.clock =
            consumer::settings::Clock::new(move || clock.load(Ordering::SeqCst));
        self.h
            .start_with(self.h.ledger_function(), consumer)
            .await
            .unwrap()
    }

    fn bucket(&self) -> S3BatchBucket {
        S3BatchBucket::new(self.s3.clone(), self.bucket.clone())
    }

    /// Creates, fills and pays `orders` through the pipeline, the consumer's clock at `at`.
    async fn pay_at(&self, running: &convoy_local::pipeline::Running, at: &str, orders: &[&str]) {
        self.now
            .store(ts(at).as_millisecond() as u64, Ordering::SeqCst);
        let mut ledger = String::new();
        for name in orders {
            let id = self.h.order_id(name);
            for rest in [
                r#""seq":1,"op":"create","currency":"EUR""#,
                r#""seq":2,"op":"add","txn_id":"t1","amount":"12.5""#,
                r#""seq":3,"op":"add","txn_id":"t2","amount":"15""#,
                r#""seq":4,"op":"pay""#,
            ] {
                ledger.push_str(&format!("{{\"order_id\":\"{id}\",{rest}}}\n"));
            }
        }
        let key = format!("pay-{}.jsonl", at.replace(':', ""));
        let upload = self.h.upload(&key, ledger.into_bytes()).await.unwrap();
        let statuses = self.h.settle(running, &[upload]).await.unwrap();
        assert_eq!(statuses[0].state.as_str(), "done", "{statuses:?}");
    }

    /// The batch of `window`, and this run's orders in it (names without the run prefix).
    async fn batch(&self, window: &str) -> (Vec<u8>, Vec<String>) {
        let key = format!("batches/{window}.jsonl");
        let got = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: {}", convoy_tests::chain(&e)));
        let bytes = got.body.collect().await.unwrap().into_bytes().to_vec();
        let (header, orders) = file::parse(&bytes).unwrap();
        assert_eq!(header.count() as usize, orders.len());
        assert_eq!(header.window().to_string(), window);
        (bytes, self.mine(&orders))
    }

    fn mine(&self, orders: &[BatchOrder]) -> Vec<String> {
        let prefix = self.h.order_id("");
        orders
            .iter()
            .filter_map(|o| o.order_id.strip_prefix(&prefix).map(str::to_owned))
            .collect()
    }

    async fn exists(&self, window: &str) -> bool {
        self.bucket()
            .exists(&format!("batches/{window}.jsonl"))
            .await
            .unwrap()
    }
}

/// A bucket whose run crashes: before its write landed, or after.
struct Crashing {
    inner: S3BatchBucket,
    after_landing: bool,
}

impl BatchBucket for Crashing {
    async fn exists(&self, key: &str) -> Result<bool, BucketError> {
        self.inner.exists(key).await
    }

    async fn head_bytes(&self, key: &str, bytes: usize) -> Result<Option<Vec<u8>>, BucketError> {
        self.inner.head_bytes(key, bytes).await
    }

    async fn put_new(&self, key: &str, body: Vec<u8>) -> Result<bool, BucketError> {
        let crash = |key: &str| BucketError {
            operation: "PutObject",
            bucket: "test".into(),
            key: key.into(),
            source: "injected: the run died".into(),
        };
        if !self.after_landing {
            // S3 makes an object visible whole or not at all: a run that dies mid-write
            // leaves what one that died before it leaves.
            return Err(crash(key));
        }
        self.inner.put_new(key, body).await?;
        Err(crash(key))
    }
}

#[tokio::test]
async fn payments_either_side_of_a_cutoff_are_batched_once_each() {
    let (c, running) = Clocked::start().await;
    let h = &c.h;
    let cutoff = Cutoff::new("14:00", "UTC").unwrap();
    h.with_running(running, async |running| {
        c.pay_at(running, "2021-06-15T13:59:58Z", &["first", "second"])
            .await;
        c.pay_at(running, "2021-06-15T13:59:59Z", &["third"]).await;
        c.pay_at(running, "2021-06-15T14:00:01Z", &["after"]).await;
    })
    .await;
    let bucket = c.bucket();
    let window = cutoff.window_named("2021-06-15").unwrap();
    let next = cutoff.window_named("2021-06-16").unwrap();

    // Too early: the cutoff plus the settle delay has not passed.
    let early = ts("2021-06-15T14:15:59Z");
    let e = write_window(&c.store, &bucket, &cutoff, &window, early, SETTLE)
        .await
        .unwrap_err();
    assert!(matches!(e, BatchError::NotSettled { .. }), "{e}");
    assert!(!c.exists("2021-06-15").await);

    // A late run writes it: the payments before the cutoff, in the order they were applied.
    let late = ts("2021-06-16T09:00:00Z");
    let r = write_window(&c.store, &bucket, &cutoff, &window, late, SETTLE)
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Written);
    let (written, mine) = c.batch("2021-06-15").await;
    let (a, b) = (&mine[..2], &mine[2..]);
    assert!(
        a == ["first", "second"] || a == ["second", "first"],
        "{mine:?}"
    );
    assert_eq!(b, ["third"]);

    // The window is sealed: a payment the consumer applies now with a clock still before
    // the cutoff (behind, or its commit held up) is paid at the seal, in the next window.
    h.with_running(c.restart().await, async |running| {
        c.pay_at(running, "2021-06-15T13:59:59.500Z", &["too-late"])
            .await;
    })
    .await;

    // A repeated run changes nothing.
    let r = write_window(&c.store, &bucket, &cutoff, &window, late, SETTLE)
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::AlreadyWritten);
    assert_eq!(c.batch("2021-06-15").await.0, written);
    // A run that checked before another wrote loses at S3's conditional write.
    let put = bucket.put_new("batches/2021-06-15.jsonl", b"theirs\n".to_vec());
    assert!(
        !put.await.unwrap(),
        "If-None-Match: * let a second write through"
    );
    assert_eq!(c.batch("2021-06-15").await.0, written);

    // The next window: a run that crashed before its write landed left nothing, the next
    // run writes it; one that crashed after leaves the file its retry keeps.
    let later = ts("2021-06-17T00:00:00Z");
    let before = Crashing {
        inner: c.bucket(),
        after_landing: false,
    };
    assert!(
        write_window(&c.store, &before, &cutoff, &next, later, SETTLE)
            .await
            .is_err()
    );
    assert!(!c.exists("2021-06-16").await);
    let after = Crashing {
        inner: c.bucket(),
        after_landing: true,
    };
    assert!(
        write_window(&c.store, &after, &cutoff, &next, later, SETTLE)
            .await
            .is_err()
    );
    let (landed, mine) = c.batch("2021-06-16").await;
    assert_eq!(mine, ["after", "too-late"]);
    let (_, orders) = file::parse(&landed).unwrap();
    assert_eq!(
        orders[1].paid_at_ms,
        ts("2021-06-15T14:00:00Z").as_millisecond() as u64
    );
    let r = write_window(&c.store, &bucket, &cutoff, &next, later, SETTLE)
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::AlreadyWritten);
    assert_eq!(c.batch("2021-06-16").await.0, landed);

    // An empty window: a header alone.
    let empty = cutoff.window_named("2021-06-10").unwrap();
    write_window(&c.store, &bucket, &cutoff, &empty, later, SETTLE)
        .await
        .unwrap();
    let (bytes, mine) = c.batch("2021-06-10").await;
    assert!(mine.is_empty());
    if std::env::var_os("CI").is_some() {
        assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 1);
    }
}

#[tokio::test]
async fn a_cutoff_that_a_dst_change_skips_or_repeats() {
    let (c, running) = Clocked::start().await;
    let h = &c.h;
    // Europe/Berlin skips 02:00-03:00 on 2021-03-28: a 02:30 cutoff that day is 01:30Z
    // (the instant the clock would have shown 02:30 had it not jumped).
    // America/New_York repeats 01:00-02:00 on 2021-11-07: a 01:30 cutoff is the first
    // 01:30 (EDT, 05:30Z); the second 01:29:59 (EST, 06:29:59Z) is after it.
    h.with_running(running, async |running| {
        c.pay_at(running, "2021-03-28T01:29:59Z", &["berlin-before"])
            .await;
        c.pay_at(running, "2021-03-28T01:30:01Z", &["berlin-after"])
            .await;
        c.pay_at(running, "2021-11-07T05:29:59Z", &["ny-before"])
            .await;
        c.pay_at(running, "2021-11-07T06:29:59Z", &["ny-repeated-hour"])
            .await;
    })
    .await;
    let bucket = c.bucket();
    let later = ts("2021-12-01T00:00:00Z");
    let berlin = Cutoff::new("02:30", "Europe/Berlin").unwrap();
    let skipped = berlin.window_named("2021-03-28").unwrap();
    assert_eq!(skipped.end(), ts("2021-03-28T01:30:00Z"));
    let after_skip = berlin.window_named("2021-03-29").unwrap();
    assert_eq!(
        after_skip.end() - after_skip.start(),
        jiff::SignedDuration::from_hours(23)
    );
    for w in [skipped, after_skip] {
        write_window(&c.store, &bucket, &berlin, &w, later, SETTLE)
            .await
            .unwrap();
    }
    assert_eq!(c.batch("2021-03-28").await.1, ["berlin-before"]);
    assert_eq!(c.batch("2021-03-29").await.1, ["berlin-after"]);

    let new_york = Cutoff::new("01:30", "America/New_York").unwrap();
    let repeated = new_york.window_named("2021-11-07").unwrap();
    assert_eq!(repeated.end(), ts("2021-11-07T05:30:00Z"));
    let next = new_york.window_named("2021-11-08").unwrap();
    assert_eq!(
        next.end() - next.start(),
        jiff::SignedDuration::from_hours(25)
    );
    for w in [repeated, next] {
        write_window(&c.store, &bucket, &new_york, &w, later, SETTLE)
            .await
            .unwrap();
    }
    assert_eq!(c.batch("2021-11-07").await.1, ["ny-before"]);
    assert_eq!(c.batch("2021-11-08").await.1, ["ny-repeated-hour"]);
}
