//! The failure rules: a permanent failure (poison, a refused transaction) fails its record
//! alone, a transient one the rest of the group; a slow group holds up no other; nothing is
//! started near the deadline, and only what is not committed is reported.

use super::{body, event_of, failures, ids, later, oid, views, NoResume};
use crate::resume::{DrainQueue, Resume, ResumeError};
use crate::{handle, handle_with, invocation_deadline, Settings};
use convoy_core::sequencer::Step;
use convoy_core::OrderId;
use convoy_store::{CommitHook, FailingStore, Fault, Hooked, MemoryOrderStore, StoreError};
use serde_json::json;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

fn records(order: &str, seqs: impl IntoIterator<Item = u64>) -> Vec<(String, String)> {
    seqs.into_iter()
        .map(|s| (order.into(), body(order, s)))
        .collect()
}

/// The deadline at which the handler's store calls stop `ms` from now (it keeps
/// [`Settings::resume_margin`] after them to send a resume message).
fn stops_at(ms: u64) -> Instant {
    Instant::now() + Settings::default().resume_margin + Duration::from_millis(ms)
}

/// One record per commit: each step holds one transaction.
fn one_per_commit() -> Settings {
    Settings {
        max_changes: 2,
        ..Settings::default()
    }
}

#[tokio::test]
async fn a_poison_first_record_fails_alone_and_the_rest_park_behind_it() {
    let store = MemoryOrderStore::new();
    let mut batch = records("A-1", 1..=10);
    batch[0].1 = r#"{"order_id":"A-1","seq":1,"op":"create","currency":"EU"#.into();
    let event = event_of(&batch);
    let all = ids(&event);
    let response = handle(&store, &NoResume, event, later()).await.unwrap();
    assert_eq!(failures(&response), [all[0].clone()]);
    let v = json!(views(&store).await);
    assert_eq!(v["A-1"]["next_seq"], 1);
    assert_eq!(v["A-1"]["parked"], json!([2, 3, 4, 5, 6, 7, 8, 9, 10]));
    // The record comes back valid (as a redriven corrected message would): all drain.
    let response = handle(&store, &NoResume, event_of(&records("A-1", [1])), later())
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let v = json!(views(&store).await);
    assert_eq!(v["A-1"]["next_seq"], 11);
    assert_eq!(v["A-1"]["parked"], json!([]));
    assert_eq!(v["A-1"]["applied"], 10);
}

#[tokio::test]
async fn a_transient_failure_fails_its_record_and_the_later_ones_of_its_group_only() {
    // A-1: seq 1, seq 2, a poison, seq 3, seq 4, seq 5; the fourth commit (seq 4) fails.
    let mut batch = records("A-1", 1..=2);
    batch.push(("A-1".into(), "{ not a transaction".into()));
    batch.extend(records("A-1", 3..=5));
    batch.extend(records("B-7", 1..=2));
    let event = event_of(&batch);
    let all = ids(&event);
    let store = FailingStore::new(MemoryOrderStore::new());
    store.inject_after(&oid("A-1"), Fault::CommitFails, 3, 1);
    let response = handle_with(&store, &NoResume, event, &one_per_commit(), later())
        .await
        .unwrap();
    // The poison alone; seq 3 committed after it; seq 4 failed and seq 5 behind it.
    assert_eq!(
        failures(&response),
        [all[2].clone(), all[4].clone(), all[5].clone()]
    );
    let v = json!(views(&store).await);
    assert_eq!(v["A-1"]["next_seq"], 4);
    assert_eq!(v["B-7"]["next_seq"], 3);
}

#[tokio::test]
async fn a_transaction_the_store_refuses_fails_alone() {
    let mut batch = records("A-1", 1..=5);
    batch.extend(records("B-7", 1..=2));
    let event = event_of(&batch);
    let all = ids(&event);
    let store = FailingStore::new(MemoryOrderStore::new());
    let refusal = Fault::CommitRefused { seq: 3 };
    store.inject(&oid("A-1"), refusal, 100);
    let response = handle(&store, &NoResume, event.clone(), later())
        .await
        .unwrap();
    assert_eq!(failures(&response), [all[2].clone()]);
    let v = json!(views(&store).await);
    assert_eq!(v["A-1"]["next_seq"], 3);
    assert_eq!(v["A-1"]["parked"], json!([4, 5]));
    assert_eq!(v["B-7"]["next_seq"], 3);
    // The whole step, then seq 3 alone.
    assert_eq!(store.pending(&oid("A-1"), refusal), 98);
    // Once the store takes it, its redelivery drains the rest.
    store.inject(&oid("A-1"), refusal, 0);
    let retry = event_of(&[batch[2].clone()]);
    let response = handle(&store, &NoResume, retry, later()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let v = json!(views(&store).await);
    assert_eq!(v["A-1"]["next_seq"], 6);
    assert_eq!(v["A-1"]["applied"], 5);
}

/// Every commit of one order takes a second; it notes when each commit of each order ended.
struct Slow {
    slow: OrderId,
    start: Instant,
    commits: Mutex<Vec<(String, Duration)>>,
}

impl Slow {
    fn store(slow: &str) -> Hooked<MemoryOrderStore, Slow> {
        Hooked {
            inner: MemoryOrderStore::new(),
            hook: Slow {
                slow: oid(slow),
                start: Instant::now(),
                commits: Mutex::new(Vec::new()),
            },
        }
    }

    fn commits_of(&self, order: &str) -> Vec<Duration> {
        let commits = self.commits.lock().unwrap();
        commits
            .iter()
            .filter(|(o, _)| o == order)
            .map(|(_, at)| *at)
            .collect()
    }
}

impl CommitHook for Slow {
    async fn before(&self, id: &OrderId, _step: &Step) {
        if *id == self.slow {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    fn after(&self, id: &OrderId, _step: &Step) -> Option<StoreError> {
        let at = Instant::now() - self.start;
        self.commits.lock().unwrap().push((id.to_string(), at));
        None
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_group_holds_up_no_other() {
    let store = Slow::store("A-1");
    let mut batch = records("A-1", 1..=5);
    for order in ["B-7", "C-3", "D-4", "E-5"] {
        batch.extend(records(order, [1]));
    }
    let response = handle_with(
        &store,
        &NoResume,
        event_of(&batch),
        &one_per_commit(),
        later(),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let secs = |n: u64| Duration::from_secs(n);
    assert_eq!(
        store.hook.commits_of("A-1"),
        (1..=5).map(secs).collect::<Vec<_>>()
    );
    for order in ["B-7", "C-3", "D-4", "E-5"] {
        assert_eq!(store.hook.commits_of(order), [Duration::ZERO], "{order}");
    }
}

#[tokio::test(start_paused = true)]
async fn at_the_deadline_only_what_is_not_committed_is_reported() {
    let store = Slow::store("A-1");
    let mut batch = records("A-1", 1..=5);
    batch.extend(records("B-7", 1..=3));
    let event = event_of(&batch);
    let all = ids(&event);
    // A-1 commits at 1 s and 2 s; at 2 s the deadline is too near to start the third.
    let deadline = stops_at(2100);
    let response = handle_with(&store, &NoResume, event, &one_per_commit(), deadline)
        .await
        .unwrap();
    assert!(Instant::now() < deadline);
    assert_eq!(failures(&response), all[2..5].to_vec());
    let v = json!(views(&store.inner).await);
    assert_eq!(v["A-1"]["next_seq"], 3);
    assert_eq!(v["B-7"]["next_seq"], 4);
}

#[test]
fn the_invocation_deadline_keeps_a_second_for_the_response() {
    let now = Instant::now();
    let deadline = invocation_deadline(SystemTime::now() + Duration::from_secs(10));
    assert!(deadline <= now + Duration::from_secs(9) + Duration::from_millis(100));
    assert!(deadline >= now + Duration::from_millis(8900));
}

/// The resume messages a handler sent; fails every send when `failing`.
#[derive(Default)]
struct Resumes {
    sent: Mutex<Vec<Resume>>,
    failing: bool,
}

impl Resumes {
    fn sent(&self) -> Vec<Resume> {
        self.sent.lock().unwrap().clone()
    }
}

impl DrainQueue for Resumes {
    async fn resume(&self, resume: &Resume) -> Result<(), ResumeError> {
        if self.failing {
            return Err(ResumeError {
                order_id: resume.resume_drain.to_string(),
                source: "injected".into(),
            });
        }
        self.sent.lock().unwrap().push(resume.clone());
        Ok(())
    }
}

/// A-1 with seqs 2..=60 parked behind seq 1, each A-1 commit taking a second.
async fn slow_order_behind_a_gap() -> Hooked<MemoryOrderStore, Slow> {
    let store = Slow::store("A-1");
    for chunk in (2..=60).collect::<Vec<u64>>().chunks(10) {
        let response = handle(
            &store,
            &NoResume,
            event_of(&records("A-1", chunk.iter().copied())),
            later(),
        )
        .await
        .unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
    store
}

#[tokio::test(start_paused = true)]
async fn a_drain_the_deadline_stops_goes_on_in_a_resume_message_not_a_redelivery() {
    let store = slow_order_behind_a_gap().await;
    let queue = Resumes::default();
    // Seq 1 and 19 drained commit at 1 s, 20 more at 2 s; then the deadline is too near.
    let deadline = stops_at(2100);
    let event = event_of(&records("A-1", [1]));
    let response = handle(&store, &queue, event, deadline).await.unwrap();
    assert_eq!(failures(&response), Vec::<String>::new());
    let v = json!(views(&store.inner).await);
    assert_eq!(v["A-1"]["next_seq"], 41);
    assert_eq!(
        queue.sent(),
        [Resume {
            resume_drain: oid("A-1"),
            next_seq: 41
        }]
    );
    // The next invocation of the group takes the resume message up and drains the rest.
    let resume = event_of(&[("A-1".into(), queue.sent()[0].body())]);
    let response = handle(&store, &NoResume, resume.clone(), later())
        .await
        .unwrap();
    assert_eq!(failures(&response), Vec::<String>::new());
    let v = json!(views(&store.inner).await);
    assert_eq!(v["A-1"]["next_seq"], 61);
    assert_eq!(v["A-1"]["applied"], 60);
    assert_eq!(v["A-1"]["parked"], json!([]));
    // Nothing counts it as a duplicate transaction; a copy of it changes nothing.
    assert_eq!(v["A-1"]["duplicates"], 0);
    let response = handle(&store, &NoResume, resume, later()).await.unwrap();
    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(json!(views(&store.inner).await), v);
}

#[tokio::test(start_paused = true)]
async fn a_drain_stopped_with_no_progress_or_no_resume_sent_fails_its_record() {
    let store = slow_order_behind_a_gap().await;
    let event = event_of(&records("A-1", [1]));
    let all = ids(&event);
    // Too near the deadline to start anything: no progress, so no resume message.
    let queue = Resumes::default();
    let deadline = stops_at(200);
    let response = handle(&store, &queue, event.clone(), deadline)
        .await
        .unwrap();
    assert_eq!(failures(&response), all);
    assert!(queue.sent().is_empty());
    // Progress, but the resume message is not sent: the record comes back to resume it.
    let queue = Resumes {
        failing: true,
        ..Resumes::default()
    };
    let deadline = stops_at(1100);
    let response = handle(&store, &queue, event.clone(), deadline)
        .await
        .unwrap();
    assert_eq!(failures(&response), all);
    assert_eq!(json!(views(&store.inner).await)["A-1"]["next_seq"], 21);
    let response = handle(&store, &NoResume, event, later()).await.unwrap();
    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(json!(views(&store.inner).await)["A-1"]["next_seq"], 61);
}

#[tokio::test(start_paused = true)]
async fn a_resume_message_whose_drain_stops_again_sends_the_next_one_or_fails() {
    let store = slow_order_behind_a_gap().await;
    let queue = Resumes::default();
    let first = event_of(&records("A-1", [1]));
    let deadline = stops_at(1100);
    handle(&store, &queue, first, deadline).await.unwrap();
    let resume = event_of(&[("A-1".into(), queue.sent()[0].body())]);
    let deadline = stops_at(1100);
    let response = handle(&store, &queue, resume.clone(), deadline)
        .await
        .unwrap();
    assert_eq!(failures(&response), Vec::<String>::new());
    let next_seqs: Vec<u64> = queue.sent().iter().map(|r| r.next_seq).collect();
    assert_eq!(next_seqs, [21, 41]);
    // Stopped before any progress, the resume message itself fails and comes back.
    let deadline = stops_at(200);
    let response = handle(&store, &queue, resume.clone(), deadline)
        .await
        .unwrap();
    assert_eq!(failures(&response), ids(&resume));
    assert_eq!(queue.sent().len(), 2);
}

#[tokio::test]
async fn resume_messages_of_no_drain_or_of_another_group() {
    let store = MemoryOrderStore::new();
    let resume = |order: &str| {
        Resume {
            resume_drain: oid(order),
            next_seq: 3,
        }
        .body()
    };
    let event = event_of(&[
        ("A-1".into(), resume("A-1")),
        ("B-7".into(), body("B-7", 1)),
        ("B-7".into(), resume("B-7")),
        ("C-3".into(), resume("A-1")),
    ]);
    let all = ids(&event);
    let response = handle(&store, &NoResume, event, later()).await.unwrap();
    // An order with nothing to drain (or none at all) takes it as done; one in the wrong
    // group is poison.
    assert_eq!(failures(&response), [all[3].clone()]);
    let v = json!(views(&store).await);
    assert_eq!(v.as_object().unwrap().len(), 1);
    assert_eq!(v["B-7"]["next_seq"], 2);
}

#[tokio::test(start_paused = true)]
async fn records_behind_a_long_drain_are_taken_before_it_so_the_deadline_stops_only_the_drain() {
    let store = slow_order_behind_a_gap().await;
    let queue = Resumes::default();
    // Seq 1 closes the gap; 61 and 62 come after it in the batch. Two steps fit.
    let deadline = stops_at(2100);
    let event = event_of(&records("A-1", [1, 61, 62]));
    let response = handle(&store, &queue, event, deadline).await.unwrap();
    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(queue.sent().len(), 1);
    let v = json!(views(&store.inner).await);
    assert!(v["A-1"]["parked"].as_array().unwrap().contains(&json!(62)));
    let resume = event_of(&[("A-1".into(), queue.sent()[0].body())]);
    let response = handle(&store, &NoResume, resume, later()).await.unwrap();
    assert_eq!(failures(&response), Vec::<String>::new());
    let v = json!(views(&store.inner).await);
    assert_eq!(v["A-1"]["next_seq"], 63);
    assert_eq!(v["A-1"]["applied"], 62);
    assert_eq!(v["A-1"]["parked"], json!([]));
}

#[tokio::test(start_paused = true)]
async fn a_step_still_running_at_the_deadline_after_progress_is_abandoned_and_the_drain_resumed() {
    let store = slow_order_behind_a_gap().await;
    let queue = Resumes::default();
    // Seq 1 and 19 drained commit at 1 s; the next step starts at 1 s, in time, but would
    // commit at 2 s, after the store calls stop (1.7 s): it is abandoned, and the drain goes
    // on in a resume message from what was committed, instead of the whole group failing.
    let deadline = stops_at(1700);
    let event = event_of(&records("A-1", [1]));
    let response = handle(&store, &queue, event, deadline).await.unwrap();
    assert!(Instant::now() <= deadline);
    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(json!(views(&store.inner).await)["A-1"]["next_seq"], 21);
    assert_eq!(
        queue.sent(),
        [Resume {
            resume_drain: oid("A-1"),
            next_seq: 21
        }]
    );
    // Abandoned with no progress, the record fails (and comes back) as before.
    let queue = Resumes::default();
    let event = event_of(&records("A-1", [1]));
    let all = ids(&event);
    let deadline = stops_at(700);
    let response = handle(&store, &queue, event, deadline).await.unwrap();
    assert_eq!(failures(&response), all);
    assert!(queue.sent().is_empty());
    assert_eq!(json!(views(&store.inner).await)["A-1"]["next_seq"], 21);
}

#[tokio::test]
async fn why_a_record_failed_is_kept_for_the_operator_once_its_dead_letter_queue_is_near() {
    use convoy_store::OrderReader;
    // A-1's record is poison: kept at once. B-7's commits fail: kept from the third receive.
    let store = FailingStore::new(MemoryOrderStore::new());
    store.fail_commits(&oid("B-7"), 10);
    let mut batch = vec![("A-1".to_owned(), "{ not a transaction".to_owned())];
    batch.extend(records("B-7", [1]));
    let mut event = event_of(&batch);
    let all = ids(&event);
    let response = handle(&store, &NoResume, event.clone(), later())
        .await
        .unwrap();
    assert_eq!(failures(&response), all);
    let poison = store.last_failure(&oid("A-1"), &all[0]).await.unwrap();
    let poison = poison.expect("the poison's failure is kept");
    assert_eq!(poison.disposition, "poison");
    assert!(poison.error.contains("line 1"), "{poison:?}");
    assert_eq!(poison.message_id, all[0]);
    assert_eq!(
        store.last_failure(&oid("B-7"), &all[1]).await.unwrap(),
        None
    );

    for r in &mut event.records {
        r.attributes
            .insert("ApproximateReceiveCount".into(), "3".into());
    }
    handle(&store, &NoResume, event, later()).await.unwrap();
    let fault = store.last_failure(&oid("B-7"), &all[1]).await.unwrap();
    let fault = fault.expect("kept on the third receive");
    assert_eq!(
        (fault.disposition.as_str(), fault.receive_count),
        ("failed", Some(3))
    );
    assert!(fault.error.contains("injected"), "{fault:?}");
}
