use super::*;
use consumer::apply::apply_order;
use consumer::resume::ResumeError;
use convoy_core::Transaction;
use convoy_store::{item, keys, MemoryOrderStore};
use std::sync::Mutex;
use std::time::SystemTime;
use tokio::time::Instant;

const THRESHOLD: Duration = Duration::from_secs(60);

fn settings() -> Settings {
    Settings {
        stall_after: THRESHOLD,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// `now`, once the threshold has passed.
fn later() -> u64 {
    now() + THRESHOLD.as_millis() as u64 + 1_000
}

fn oid(s: &str) -> OrderId {
    OrderId::parse(s).unwrap()
}

fn txn(order: &str, seq: u64) -> Transaction {
    let json = match seq {
        1 => format!(r#"{{"order_id":"{order}","seq":1,"op":"create","currency":"EUR"}}"#),
        s => {
            format!(r#"{{"order_id":"{order}","seq":{s},"op":"add","txn_id":"t{s}","amount":"1"}}"#)
        }
    };
    serde_json::from_str(&json).unwrap()
}

async fn apply(store: &MemoryOrderStore, order: &str, seqs: &[u64]) {
    let inputs: Vec<Transaction> = seqs.iter().map(|s| txn(order, *s)).collect();
    let deadline = Instant::now() + Duration::from_secs(3600);
    let done = apply_order(
        store,
        &oid(order),
        &inputs,
        &consumer::Settings::default(),
        deadline,
    )
    .await;
    assert!(done.error.is_none(), "{:?}", done.error);
}

/// The resume messages sent.
#[derive(Default)]
struct Resumes(Mutex<Vec<Resume>>);

impl DrainQueue for Resumes {
    async fn resume(&self, resume: &Resume) -> Result<(), ResumeError> {
        self.0.lock().unwrap().push(resume.clone());
        Ok(())
    }
}

#[tokio::test]
async fn a_gap_older_than_the_threshold_is_stalled_and_leaves_once_it_fills() {
    let store = MemoryOrderStore::new();
    let queue = Resumes::default();
    apply(&store, "A-1", &[1, 3, 4]).await; // 2 is missing
    apply(&store, "B-7", &[1, 2]).await;
    let before = now();
    // Not yet: the wait began just now.
    let report = watch(&store, &queue, settings(), now()).await.unwrap();
    assert_eq!(report, Report::default());

    let at = later();
    let report = watch(&store, &queue, settings(), at).await.unwrap();
    assert_eq!(report.candidates, 1);
    assert_eq!(report.stalled.len(), 1, "{report:?}");
    let s = &report.stalled[0];
    assert_eq!((s.order_id.as_str(), s.next_seq, s.parked), ("A-1", 2, 2));
    assert!(s.since >= before - 1_000 && s.since <= now(), "{s:?}");
    assert_eq!(s.stalled_at, at);
    // Recorded on its entry, where an operator reads it.
    let entry = &store.waiting_since(u64::MAX).await.unwrap()[0];
    assert_eq!((entry.stalled_at, entry.parked), (Some(at), Some(2)));

    // Idempotent: a second run finds the same, first found at the first run.
    let again = watch(&store, &queue, settings(), at + 60_000)
        .await
        .unwrap();
    assert_eq!(again.stalled, report.stalled);
    assert!(queue.0.lock().unwrap().is_empty());

    // The missing transaction arrives: the order drains and leaves the stalled set.
    apply(&store, "A-1", &[2]).await;
    let report = watch(&store, &queue, settings(), later()).await.unwrap();
    assert_eq!(report, Report::default());
    assert!(store.waiting_since(u64::MAX).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_gap_that_moved_is_not_stalled_until_the_new_one_is_old() {
    let store = MemoryOrderStore::new();
    let queue = Resumes::default();
    apply(&store, "A-1", &[1, 3, 5]).await; // waits at 2
    let stale_entry = store.waiting_since(u64::MAX).await.unwrap()[0].clone();
    apply(&store, "A-1", &[2]).await; // 3 drains; now waits at 4, since now
    let entries = store.waiting_since(u64::MAX).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].next_seq, 4);
    assert!(entries[0].since >= stale_entry.since);
    // An index read from before the move: the head says the wait is recent.
    let report = watch(&store, &queue, settings(), now()).await.unwrap();
    assert!(report.stalled.is_empty(), "{report:?}");
    let report = watch(&store, &queue, settings(), later()).await.unwrap();
    assert_eq!(report.stalled.len(), 1);
    assert_eq!(report.stalled[0].next_seq, 4);
}

#[tokio::test]
async fn an_entry_without_a_wait_is_cleared() {
    let store = MemoryOrderStore::new();
    let queue = Resumes::default();
    apply(&store, "A-1", &[1, 3]).await;
    let entry = store
        .items()
        .into_iter()
        .find(|i| item::Reader::new(i).sk() == keys::WAITING_SK)
        .unwrap();
    apply(&store, "A-1", &[2]).await;
    // A commit that ended the wait and crashed before deleting its entry.
    store.insert(entry);
    let report = watch(&store, &queue, settings(), later()).await.unwrap();
    assert_eq!((report.candidates, report.cleared), (1, 1));
    assert!(report.stalled.is_empty());
    assert!(store.waiting_since(u64::MAX).await.unwrap().is_empty());
    let report = watch(&store, &queue, settings(), later()).await.unwrap();
    assert_eq!(report, Report::default());
}

#[tokio::test]
async fn a_due_drain_that_nothing_drives_gets_a_resume_message() {
    let store = MemoryOrderStore::new();
    let queue = Resumes::default();
    apply(&store, "A-1", &[1, 3]).await; // waits at 2, 3 parked
                                         // 2 is parked too, as a drain cut short leaves it when its resume message is lost.
    store.insert(item::parked(&txn("A-1", 2)).unwrap());
    let report = watch(&store, &queue, settings(), later()).await.unwrap();
    assert_eq!(report.resumed, [oid("A-1")]);
    assert!(report.stalled.is_empty());
    assert_eq!(
        *queue.0.lock().unwrap(),
        [Resume {
            resume_drain: oid("A-1"),
            next_seq: 2
        }]
    );
}

#[test]
fn the_threshold_is_the_seconds_when_set_else_the_minutes() {
    let secs = |m: &str, s: &str| Settings::from_env_values(m, s).map(|s| s.stall_after);
    assert_eq!(secs("15", "0"), Ok(Duration::from_secs(900)));
    assert_eq!(secs("15", "3"), Ok(Duration::from_secs(3)));
    assert_eq!(secs(" 2 ", "0"), Ok(Duration::from_secs(120)));
    assert!(secs("2", "").unwrap_err().contains("STALL_AFTER_SECONDS"));
    assert!(secs("0", "0").unwrap_err().contains("at least 1"));
    assert!(secs("ten", "0")
        .unwrap_err()
        .contains("STALL_AFTER_MINUTES"));
}

#[test]
fn a_run_is_one_metric_document_with_zeros_too() {
    let metrics = emf::install("LedgerConvoy/test".into()).unwrap();
    let mut report = Report::default();
    report.stalled.push(Stalled {
        order_id: oid("A-1"),
        next_seq: 2,
        since: 1,
        parked: 3,
        stalled_at: 2,
    });
    emf::record(&report);
    let mut out = Vec::new();
    metrics.flush(&mut out).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let cw = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(cw["Namespace"], "LedgerConvoy/test");
    let names: Vec<&str> = cw["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    for name in [emf::STALLED_ORDERS, emf::DRAINS_RESUMED, emf::CHECKS_FAILED] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert_eq!(doc[emf::STALLED_ORDERS], 1.0);
    assert_eq!(doc[emf::DRAINS_RESUMED], 0.0);
}
