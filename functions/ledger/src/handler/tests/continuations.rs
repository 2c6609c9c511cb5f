//! Ledgers longer than an invocation: handed on at checkpoints, resumed after a crash,
//! stale continuations dropped; plain JSON Lines (range reads), CSV and gzip.

use super::*;

/// A ledger of `lines` lines over 37 orders, every 7th line refused; CSV ones with a
/// quoted note spanning two lines every 5th record (so a record may straddle a stop).
fn ledger(csv: bool, lines: u64) -> String {
    let mut text = String::new();
    if csv {
        text.push_str("order_id,seq,op,txn_id,amount,currency,note\n");
    }
    let mut seqs = [0u64; 37];
    for i in 0..lines {
        let order = (i * 7919 % 37) as usize;
        seqs[order] += 1;
        let seq = seqs[order];
        let refused = i % 7 == 3;
        let line = match (csv, refused) {
            (false, true) => format!("{{\"order_id\":\"O-{order}\",\"seq\":\"x{i}\"}}"),
            (false, false) => format!(
                "{{\"order_id\":\"O-{order}\",\"seq\":{seq},\"op\":\"add\",\"txn_id\":\"t-{i}\",\"amount\":\"1.25\"}}"
            ),
            (true, true) => format!("O-{order},x{i},add,t-{i},1.25,,"),
            (true, false) if i % 5 == 0 => format!("O-{order},{seq},add,t-{i},1.25,,\"two\nlines\""),
            (true, false) => format!("O-{order},{seq},add,t-{i},1.25,,"),
        };
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// A handler that sends slowly (each call 200 ms: a few hundred transactions a second),
/// stops 1 s before its deadline and stores a checkpoint every half second.
fn slow_handler() -> TestHandler {
    let mut publisher = MemoryPublisher::new();
    publisher.call_time = Some(Duration::from_millis(600));
    publisher.one_batch_per_group = false;
    Handler::new(
        MemorySource::new(200),
        publisher,
        MemoryRejects::default(),
        MemoryStatus::default(),
        MemoryContinuations::default(),
        HandlerOptions {
            deadline_margin: Duration::from_secs(1),
            checkpoint_every: Duration::from_millis(500),
            ..options()
        },
    )
}

/// The ledger-queue event of message `id` with `body`.
fn message(id: &str, body: String) -> SqsEvent {
    let mut sqs: serde_json::Value = serde_json::from_str(PUT).unwrap();
    sqs["Records"][0]["messageId"] = id.into();
    sqs["Records"][0]["body"] = body.into();
    serde_json::from_value(sqs).unwrap()
}

/// Runs `first`, then every continuation the handler sends, each an invocation of
/// `budget`; the invocation numbered `crash` (from 0) dies after `crash_after` and its
/// message comes back (the same id). Returns the number of invocations.
async fn run_to_the_end(
    h: &TestHandler,
    first: SqsEvent,
    budget: Duration,
    crash: Option<(usize, Duration)>,
) -> usize {
    let mut queue = std::collections::VecDeque::from([first]);
    let mut invocations = 0;
    let mut taken = 0;
    while let Some(event) = queue.pop_front() {
        assert!(invocations < 50, "the ledger never ends");
        let deadline = Instant::now() + budget;
        let run = h.handle(event.clone(), deadline);
        match crash {
            Some((n, after)) if n == invocations => {
                assert!(tokio::time::timeout(after, run).await.is_err(), "crashed");
                queue.push_back(event);
            }
            _ => {
                let response = run.await.unwrap();
                assert!(response.batch_item_failures.is_empty());
            }
        }
        invocations += 1;
        let sent = h.continuations.sent.lock().unwrap().clone();
        for (i, c) in sent.iter().enumerate().skip(taken) {
            queue.push_back(message(&format!("continuation-{i}"), c.to_body().unwrap()));
        }
        taken = sent.len();
    }
    invocations
}

/// The ledger ended as one pass would have: every transaction sent (some maybe twice,
/// after a crash), counted once; every refused line once in the report, in order.
fn assert_like_one_pass(h: &TestHandler, key: &str, text: &str) {
    let (want, lines) = reference(key.trim_end_matches(".gz"), text.as_bytes());
    let status = h.status.get_now(BUCKET, key).unwrap();
    assert_eq!(status.state, State::Done, "{status:?}");
    assert_eq!(status.lines_read, lines);
    assert_eq!(
        status.sent,
        want.len() as u64,
        "sent counts each transaction once"
    );
    let accepted: HashSet<u64> = h.publisher.accepted().iter().map(|m| m.line).collect();
    let wanted: HashSet<u64> = want.iter().map(|(line, _)| *line).collect();
    assert_eq!(accepted, wanted, "every transaction sent, nothing else");
    let refused: Vec<u64> =
        report_lines(&report(h, status.rejects_key.as_deref().unwrap()).unwrap());
    let expected = refused_lines(key, text);
    assert!(
        expected.len() as u64 > lines / 10,
        "{key}: refused lines in the ledger"
    );
    assert_eq!(refused, expected, "each refused line once, in order");
    assert_eq!(status.refused, expected.len() as u64);
    assert!(!status.rejects_truncated);
    let parts = h.rejects.list(BUCKET, "rejects/");
    let left: Vec<String> = futures::executor::block_on(parts)
        .unwrap()
        .into_iter()
        .filter(|k| k.contains(".parts/"))
        .collect();
    assert!(left.is_empty(), "parts deleted: {left:?}");
}

/// The lines of `text` (plain) that are refused.
fn refused_lines(key: &str, text: &str) -> Vec<u64> {
    let mut decoder = Decoder::new(kind_of_key(key.trim_end_matches(".gz")).unwrap());
    let mut out = Vec::new();
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        rest = &rest[decoder.feed(rest, &mut out).unwrap()..];
    }
    decoder.finish(&mut out).unwrap();
    out.iter()
        .filter_map(|p| match p {
            Parsed::Refused(e) => Some(e.line),
            Parsed::Txn { .. } => None,
        })
        .collect()
}

fn report_lines(report: &str) -> Vec<u64> {
    report
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["line"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_ledger_longer_than_an_invocation_is_handed_on_and_ends_like_one_pass() {
    for (key, csv, zipped) in [
        ("ledgers/long.jsonl", false, false),
        ("ledgers/long.csv", true, false),
        ("ledgers/long.jsonl.gz", false, true),
        ("ledgers/long.csv.gz", true, true),
    ] {
        let text = ledger(csv, 1_000);
        let bytes = if zipped {
            gzip(&[text.as_bytes()])
        } else {
            text.clone().into_bytes()
        };
        let h = slow_handler();
        store(&h, key, &bytes, "e");
        let budget = Duration::from_millis(2_500);
        let invocations = run_to_the_end(&h, put_event(key, "e"), budget, None).await;
        assert!(invocations >= 4, "{key}: {invocations} invocations");
        assert_like_one_pass(&h, key, &text);
        let status = h.status.get_now(BUCKET, key).unwrap();
        assert_eq!(status.continuations, invocations as u64 - 1, "{key}");
        let opened = h.source.opened.lock().unwrap().clone();
        if key.ends_with(".jsonl") {
            assert!(
                opened[1..].iter().all(|&at| at > 0),
                "{key}: range reads {opened:?}"
            );
        } else {
            assert!(
                opened.iter().all(|&at| at == 0),
                "{key}: read from the start {opened:?}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_crash_between_checkpoints_resumes_from_the_last_one() {
    for (key, csv, zipped) in [
        ("ledgers/crash.jsonl", false, false),
        ("ledgers/crash.csv.gz", true, true),
    ] {
        let text = ledger(csv, 1_000);
        let bytes = if zipped {
            gzip(&[text.as_bytes()])
        } else {
            text.clone().into_bytes()
        };
        let h = slow_handler();
        store(&h, key, &bytes, "e");
        let budget = Duration::from_millis(2_500);
        // The second invocation dies 1.2 s in: after a checkpoint, before the next.
        let crash = Some((1, Duration::from_millis(1_200)));
        let invocations = run_to_the_end(&h, put_event(key, "e"), budget, crash).await;
        assert!(invocations >= 4, "{key}: {invocations}");
        assert_like_one_pass(&h, key, &text);
        let writes = h.status.writes();
        let resumed = writes
            .iter()
            .filter(|w| w.owner.as_deref() == Some("continuation-0"))
            .count();
        assert!(resumed > 0, "{key}: the crashed run's redelivery went on");
    }
}

#[tokio::test(start_paused = true)]
async fn a_stale_or_duplicate_continuation_does_nothing() {
    let key = "ledgers/stale.jsonl";
    let text = ledger(false, 300);
    let h = slow_handler();
    store(&h, key, text.as_bytes(), "e");
    let budget = Duration::from_millis(2_500);
    let response = h
        .handle(put_event(key, "e"), Instant::now() + budget)
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let handed = h.continuations.sent.lock().unwrap()[0].clone();
    let sent_before = h.publisher.accepted().len();
    // From a run that does not own the ledger: dropped at once.
    let stale = Continuation {
        from: "someone-else".into(),
        ..handed.clone()
    };
    let response = h
        .handle(
            message("stale", stale.to_body().unwrap()),
            Instant::now() + budget,
        )
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(h.publisher.accepted().len(), sent_before, "nothing sent");
    // The real one, then a copy of it once the ledger is done: the copy does nothing.
    run_to_the_end(&h, message("c-1", handed.to_body().unwrap()), budget, None).await;
    assert_like_one_pass(&h, key, &text);
    let (writes, sent) = (h.status.writes().len(), h.publisher.accepted().len());
    h.handle(
        message("c-1-copy", handed.to_body().unwrap()),
        Instant::now() + budget,
    )
    .await
    .unwrap();
    assert_eq!(
        (h.status.writes().len(), h.publisher.accepted().len()),
        (writes, sent)
    );
}

#[tokio::test(start_paused = true)]
async fn a_takeover_stops_the_run_it_took_over_from() {
    // Two copies of the notification (distinct messages, as S3 may send): the second takes
    // the ledger over at once; the first stops at its next checkpoint.
    let key = "ledgers/twice.jsonl";
    let text = ledger(false, 600);
    let h = slow_handler();
    store(&h, key, text.as_bytes(), "e");
    let budget = Duration::from_secs(60);
    let (first, second) = tokio::join!(
        h.handle(
            message("n-1", put_event(key, "e").records[0].body.clone().unwrap()),
            Instant::now() + budget
        ),
        async {
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            h.handle(
                message("n-2", put_event(key, "e").records[0].body.clone().unwrap()),
                Instant::now() + budget,
            )
            .await
        }
    );
    assert!(first.unwrap().batch_item_failures.is_empty());
    assert!(second.unwrap().batch_item_failures.is_empty());
    assert_like_one_pass(&h, key, &text);
    let status = h.status.get_now(BUCKET, key).unwrap();
    assert_eq!(status.owner.as_deref(), Some("n-2"));
    let by_first = h
        .status
        .writes()
        .iter()
        .skip_while(|w| w.owner.as_deref() != Some("n-2"))
        .filter(|w| w.owner.as_deref() == Some("n-1"))
        .count();
    assert_eq!(
        by_first, 0,
        "the first run wrote nothing after the takeover"
    );
}

#[tokio::test(start_paused = true)]
async fn a_continuation_that_failed_is_resumed_by_its_redelivery() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let key = "ledgers/failing.jsonl";
    let text = ledger(false, 600);
    let fail = Arc::new(AtomicBool::new(false));
    let trip = Arc::clone(&fail);
    let mut h = slow_handler();
    let mut publisher = MemoryPublisher::new().failing_calls(Box::new(move |_| {
        trip.swap(false, Ordering::SeqCst)
            .then(|| PublishError::permanent("AccessDenied: not now"))
    }));
    publisher.call_time = Some(Duration::from_millis(600));
    publisher.one_batch_per_group = false;
    h.publisher = publisher;
    store(&h, key, text.as_bytes(), "e");
    let budget = Duration::from_millis(2_500);
    h.handle(put_event(key, "e"), Instant::now() + budget)
        .await
        .unwrap();
    let handed = h.continuations.sent.lock().unwrap()[0].clone();
    let event = message("c-1", handed.to_body().unwrap());
    // The continuation's first call fails for good: its run fails, the message comes back.
    fail.store(true, Ordering::SeqCst);
    let err = h
        .handle(event.clone(), Instant::now() + budget)
        .await
        .unwrap_err();
    assert!(matches!(err.source, LedgerError::Pipeline(_)), "{err:?}");
    assert_eq!(h.status.get_now(BUCKET, key).unwrap().state, State::Failed);
    run_to_the_end(&h, event, budget, None).await;
    assert_like_one_pass(&h, key, &text);
}
