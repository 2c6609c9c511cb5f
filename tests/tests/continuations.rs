//! Ledgers past one invocation, on the emulator: a slow transactions queue and short
//! invocations hand each ledger on at least three times (plain JSON Lines resumed with a
//! range read, gzip read again from its start); an invocation of the first one crashes
//! mid-segment and its redelivery resumes from the last checkpoint; the orders, the counts
//! and the one rejects report come out as from a single pass.

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

use convoy_tests::chaos::{CrashOnNotify, CrashingPublisher, SlowPublisher};
use convoy_tests::check::{self, Reject};
use convoy_tests::{generate, model, Harness};
use ledger::pipeline::PipelineOptions;
use ledger::sender::SenderOptions;
use ledger::HandlerOptions;
use std::io::Write;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Every 97th line is not JSON: refused, and listed in the report.
const REFUSED_EVERY: usize = 97;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ledger_longer_than_its_invocations_is_continued_to_the_end() {
    let h = Harness::start().await.unwrap();
    let ids: Vec<String> = (0..300).map(|i| h.order_id(&format!("C-{i}"))).collect();
    let lines = generate::interleave(
        &mut fastrand::Rng::with_seed(77),
        generate::orders(77, &ids),
    );
    let want = model::views(&generate::transactions(&lines).unwrap());
    let mut text = Vec::new();
    let mut rejects = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if i % REFUSED_EVERY == REFUSED_EVERY - 1 {
            text.extend_from_slice(b"not a transaction\n");
            rejects.push(Reject::new(
                text.iter().filter(|&&b| b == b'\n').count() as u64,
                None,
            ));
        }
        text.extend_from_slice(line.to_string().as_bytes());
        text.push(b'\n');
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&text).unwrap();
    let zipped = gz.finish().unwrap();

    // Invocations of 6 s that stop reading 3 s before their end, a checkpoint every second,
    // a small send window (so a segment settles quickly), and a queue taking 500 ms a call.
    let options = HandlerOptions {
        deadline_margin: Duration::from_secs(3),
        checkpoint_every: Duration::from_secs(1),
        pipeline: PipelineOptions {
            channel: 8,
            sender: SenderOptions {
                window: 64,
                ..SenderOptions::default()
            },
        },
    };
    let crashed = Arc::new(Notify::new());
    let ledger = h.ledger_function_tuned(options, Duration::from_secs(6), |inner| {
        CrashingPublisher {
            inner: SlowPublisher {
                inner,
                delay: Duration::from_millis(500),
            },
            // Once, mid-way through the first ledger: its invocation dies there.
            after: 500,
            sent: AtomicUsize::new(0),
            crashed: crashed.clone(),
            lives: AtomicUsize::new(0),
        }
    });
    let ledger = CrashOnNotify {
        inner: ledger,
        crashed,
    };
    let running = h
        .start_with(ledger, h.consumer(h.order_store()))
        .await
        .unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        for (name, bytes) in [("long.jsonl", &text), ("long.jsonl.gz", &zipped)] {
            let upload = h.upload(name, bytes.clone()).await.unwrap();
            let statuses = h
                .settle(running, std::slice::from_ref(&upload))
                .await
                .unwrap();
            let want = check::Expected::done(&upload.key, &text, rejects.len() as u64);
            check::status(&statuses[0], &want).unwrap();
            let status = h.pipeline.status(&upload.key).await.unwrap().unwrap();
            assert!(status.continuations >= 3, "{name}: {status:?}");
            let report = h
                .pipeline
                .read_object(&check::rejects_key(&upload.key))
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{name}: no rejects report"));
            check::report(&upload.key, &text, &report, &rejects).unwrap();
            eprintln!(
                "{name}: {} lines, {} sent, {} refused, {} continuations",
                status.lines_read, status.sent, status.refused, status.continuations
            );
        }
        check::views(&h.views().await.unwrap(), &want).unwrap();
    })
    .await;
}
