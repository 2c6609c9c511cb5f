//! `convoy batch` against the emulator: the binary run as a user runs it, `--json` outputs
//! compared with golden files (`tests/fixtures/cli/batch_*.json`; `CONVOY_BLESS=1` rewrites
//! them), and its errors.
//!
//! Needs the binary `target/debug/convoy` (`infra/test.sh` builds it).

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

mod cli_support;
use cli_support::*;

use convoy_tests::Harness;
use serde_json::json;

/// `convoy batch`: a past window (settled long ago, nothing paid in it) written once as an
/// empty batch, then left unchanged; listed and shown; unreadable files listed with their
/// error; a window not settled, a missing batch, a bad file and a bad window name refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_commands() {
    let h = Harness::start().await.unwrap();
    let (s3, bucket) = (&h.pipeline.s3, &h.pipeline.stack.bucket);
    // Windows of this test alone (the bucket is shared), cleared for a run on the same
    // emulator: 01 is written, 02 missing, 03 a bad order line, 04 a bad header, 05 empty.
    let key = |day: u8| format!("batches/2020-01-{day:02}.jsonl");
    for day in 1..=5 {
        let cleared = s3.delete_object().bucket(bucket).key(key(day)).send().await;
        cleared.unwrap();
    }

    let written = convoy(&["--json", "batch", "run", "--window", "2020-01-01"]).ok("batch run");
    golden("batch_run", &written.lines(), &h.run);
    let again = convoy(&["--json", "batch", "run", "--window", "2020-01-01"]).ok("run again");
    assert_eq!(again.lines()[0]["outcome"], json!("already_written"));
    assert_eq!(
        again.stderr,
        "convoy: unchanged: batch of 2020-01-01 was written before\n"
    );
    let table = convoy(&["batch", "run", "--window", "2020-01-01"]).ok("run table");
    assert!(
        table.stdout.contains("already written (unchanged)"),
        "{}",
        table.stdout
    );

    let shown = convoy(&["--json", "batch", "show", "2020-01-01"]).ok("batch show");
    golden("batch_show", &shown.lines(), &h.run);
    let table = convoy(&["batch", "show", "2020-01-01"]).ok("show table");
    for shown in ["2020-01-01/e3b0c44298fc1c14", "14:00 UTC", "(none)"] {
        assert!(table.stdout.contains(shown), "{shown}: {}", table.stdout);
    }

    // Files the batch function would never write, put there by hand.
    let header = shown.stdout.lines().next().unwrap();
    let other = header.replace("2020-01-01", "2020-01-03");
    let files = [
        (3, format!("{other}\n{{\"order_id\":\"A-1\"}}\n")),
        (4, "not a header\n".to_owned()),
        (5, String::new()),
    ];
    for (day, body) in files {
        let put = s3
            .put_object()
            .bucket(bucket)
            .key(key(day))
            .body(body.into_bytes().into());
        put.send().await.unwrap();
    }
    let listed = convoy(&["--json", "batch", "list", "--prefix", "2020-01-0"]).ok("batch list");
    golden("batch_list", &listed.lines(), &h.run);
    let table = convoy(&["batch", "list", "--prefix", "batches/2020-01-0"]).ok("list table");
    for shown in [
        "2020-01-01/e3b0c44298fc1c14",
        "2019-12-31T14:00:00Z",
        "unreadable: line 1: not a batch header",
    ] {
        assert!(table.stdout.contains(shown), "{shown}: {}", table.stdout);
    }
    let none = convoy(&["--json", "batch", "list", "--prefix", "1999-"]).ok("an empty listing");
    assert_eq!(none.stdout, "");

    // Error paths: one clear line, exit 1; a window name that is no date is a usage error.
    convoy(&["batch", "run", "--window", "2999-01-01"]).fails(
        1,
        "window 2999-01-01 is not settled until 2999-01-01T14:16:00Z",
    );
    convoy(&["batch", "show", "2020-01-02"]).fails(
        1,
        &format!("no batch for window 2020-01-02 in s3://{bucket}/batches/2020-01-02.jsonl (convoy batch run --window 2020-01-02 writes it"),
    );
    convoy(&["batch", "show", "2020-01-03"]).fails(
        1,
        "batches/2020-01-03.jsonl is not a valid batch file: line 2: not a batch order",
    );
    convoy(&["batch", "show", "2020-01-05"]).fails(1, "line 1: the file is empty");
    let bad = convoy(&["batch", "show", "not-a-date"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr
            .contains("window name 'not-a-date': not a date written YYYY-MM-DD"),
        "{}",
        bad.stderr
    );
}
