//! The `convoy` CLI against the emulator: every operator command run as a user runs it (the
//! binary, `--local`), its `--json` output compared with golden files
//! (`tests/fixtures/cli/*.json`, the run's id and volatile fields normalized;
//! `CONVOY_BLESS=1` rewrites them), its tables checked for what they must show, and every
//! error path: a missing stack, ledger, order or message, an unsupported file, missing
//! credentials, a wait that runs out.
//!
//! Needs the binary `target/debug/convoy` (`infra/test.sh` builds it).

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

use convoy_local::pipeline::Upload;
use convoy_tests::Harness;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/debug/convoy`, beside this test's own directory (`target/debug/deps`).
fn convoy_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).unwrap().join("convoy");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build --workspace --bins --tests` (infra/test.sh does)",
        bin.display()
    );
    bin
}

/// What a run of the CLI gave.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// The JSON lines of stdout.
    fn lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    fn ok(self, what: &str) -> Ran {
        assert_eq!(self.code, 0, "{what}: {}", self.stderr);
        self
    }

    /// Fails with `code`, saying `says` in one line on stderr (no SDK debug dump, no panic).
    fn fails(&self, code: i32, says: &str) {
        assert_eq!(
            self.code, code,
            "stdout {} stderr {}",
            self.stdout, self.stderr
        );
        let line = self.stderr.trim_end();
        assert!(line.starts_with("convoy: "), "{line}");
        assert!(line.contains(says), "{line}");
        for dump in ["panicked", "Error {", "ServiceError {", "WARN"] {
            assert!(!line.contains(dump), "{line}");
        }
    }
}

fn convoy(args: &[&str]) -> Ran {
    let out = Command::new(convoy_binary())
        .arg("--local")
        .args(args)
        .env_remove("CONVOY_LOG")
        .output()
        .unwrap();
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The upload `convoy upload --json` printed.
fn upload_of(line: &Value) -> Upload {
    Upload {
        key: line["key"].as_str().unwrap().to_owned(),
        version_id: line["version_id"].as_str().map(str::to_owned),
        etag: line["etag"].as_str().map(str::to_owned),
    }
}

/// Fields that differ from run to run.
const VOLATILE: &[&str] = &[
    "version_id",
    "etag",
    "started_at",
    "updated_at",
    "owner",
    "at",
    "since",
    "stalled_at",
    "last_modified",
    "message_id",
    "sequencer",
    "bucket",
    "file",
];

/// `value` with this run's id as `RUN` and volatile fields as `"<field>"`.
fn normalize(value: &Value, run: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace(run, "RUN")),
        Value::Array(a) => Value::Array(a.iter().map(|v| normalize(v, run)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let v = if VOLATILE.contains(&k.as_str()) && !v.is_null() {
                        Value::String(format!("<{k}>"))
                    } else {
                        normalize(v, run)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Compares `lines` (normalized) with `tests/fixtures/cli/<name>.json`.
fn golden(name: &str, lines: &[Value], run: &str) {
    let got = Value::Array(lines.iter().map(|l| normalize(l, run)).collect());
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/cli")
        .join(format!("{name}.json"));
    if std::env::var_os("CONVOY_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (CONVOY_BLESS=1 writes it)", path.display())),
    )
    .unwrap();
    assert_eq!(
        got,
        want,
        "{name}: got\n{}",
        serde_json::to_string_pretty(&got).unwrap()
    );
}

/// This run's lines only (the table is shared with other tests' orders).
fn mine(lines: Vec<Value>, field: &str, prefix: &str) -> Vec<Value> {
    lines
        .into_iter()
        .filter(|l| l[field].as_str().is_some_and(|v| v.contains(prefix)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_operator_command_on_the_emulator() {
    let h = Harness::start().await.unwrap();
    let run = h.run.clone();
    let (a, b, c) = (h.order_id("A"), h.order_id("B"), h.order_id("C"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cli.jsonl");
    let lines = [
        json!({"order_id": a, "seq": 1, "op": "create", "currency": "EUR"}),
        json!({"order_id": b, "seq": 1, "op": "create", "currency": "USD"}),
        json!({"order_id": a, "seq": 2, "op": "add", "txn_id": "t1", "amount": "12.50"}),
        json!({"order_id": a, "seq": 3, "op": "add", "txn_id": "t2", "amount": "twelve"}),
        json!({"order_id": a, "seq": 3, "op": "add", "txn_id": "t2", "amount": "2.00"}),
        json!({"order_id": a, "seq": 4, "op": "pay"}),
        json!({"order_id": a, "seq": 5, "op": "ship"}),
        json!({"order_id": b, "seq": 3, "op": "pay"}), // b's 2 never comes: 3 waits
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    let key = format!("{run}/cli.jsonl");
    h.mention([a.clone(), b.clone(), c.clone()]);

    let running = h.start_in_process().await.unwrap();
    h.with_running(running, async |running| {
        // upload --wait: the upload, then the final status; exit 0 (done).
        let up = convoy(&[
            "--json",
            "upload",
            file,
            "--key",
            &key,
            "--wait",
            "--timeout",
            "120",
        ])
        .ok("upload --wait");
        let out = up.lines();
        golden("upload_wait", &out, &run);
        h.settle(running, &[upload_of(&out[0])]).await.unwrap();

        let status = convoy(&["--json", "ledger", "status", &key]).ok("ledger status");
        assert_eq!(
            status.lines(),
            out[1..].to_vec(),
            "status = upload's final status"
        );
        let table = convoy(&["ledger", "status", &format!("ledgers/{key}")]).ok("status table");
        let row = |label: &str| {
            let line = table
                .stdout
                .lines()
                .find(|l| l.contains(&format!(" {label} ")))
                .unwrap_or_else(|| panic!("no row {label}: {}", table.stdout));
            let value = line.split('┆').nth(1).unwrap();
            value
                .trim_matches(|c: char| c == '│' || c.is_whitespace())
                .to_owned()
        };
        assert_eq!(row("state"), "done");
        assert_eq!(row("lines read"), "8");
        assert_eq!(row("refused"), "1");
        assert_eq!(row("rejects report"), format!("rejects/{key}.jsonl"));

        let rejects = convoy(&["--json", "ledger", "rejects", &key]).ok("ledger rejects");
        golden("ledger_rejects", &rejects.lines(), &run);
        let table = convoy(&["ledger", "rejects", &key]).ok("rejects table");
        assert!(table.stdout.contains("amount") && table.stdout.contains("twelve"));

        let listed = convoy(&["--json", "ledger", "list", "--prefix", &run]).ok("ledger list");
        golden("ledger_list", &listed.lines(), &run);
        let under = format!("ledgers/{run}");
        let table = convoy(&["ledger", "list", "--prefix", &under]).ok("list table");
        assert!(table.stdout.contains(&key), "{}", table.stdout);
        let none = convoy(&[
            "--json",
            "ledger",
            "list",
            "--prefix",
            &format!("{run}-none"),
        ]);
        assert_eq!(none.ok("an empty listing").stdout, "");

        let shown = convoy(&["--json", "order", "show", &a]).ok("order show");
        golden("order_show", &shown.lines(), &run);
        let history = convoy(&["--json", "order", "show", &a, "--history"]).ok("--history");
        golden("order_show_history", &history.lines(), &run);
        let table = convoy(&["order", "show", &a, "--history"]).ok("history table");
        for shown in [
            "shipped",
            "14.50",
            "│ 2   ┆ add    ┆ applied ┆ t1 12.50 │",
            "│ 4   ┆ pay    ┆ applied",
        ] {
            assert!(table.stdout.contains(shown), "{shown}: {}", table.stdout);
        }

        let open = convoy(&["--json", "orders", "list", "--status", "open"]).ok("orders list");
        golden(
            "orders_list_open",
            &mine(open.lines(), "order_id", &run),
            &run,
        );
        let all = convoy(&["orders", "list"]).ok("orders table");
        assert!(all.stdout.contains(&a) && all.stdout.contains(&b));

        let stalled = convoy(&["--json", "orders", "stalled", "--after", "0"]).ok("stalled");
        golden(
            "orders_stalled",
            &mine(stalled.lines(), "order_id", &run),
            &run,
        );

        let voided = convoy(&[
            "--json",
            "order",
            "void",
            &b,
            "--seq",
            "2",
            "--reason",
            "lost upstream",
        ])
        .ok("order void");
        golden("order_void", &voided.lines(), &run);
        convoy(&["order", "void", &a, "--seq", "2", "--reason", "not missing"])
            .fails(1, "seq 2 was processed");

        // A dead letter: listed, shown, redriven with a corrected body; it then applies.
        let p = &h.pipeline;
        let sent = p
            .sqs
            .send_message()
            .queue_url(&p.stack.transactions_dlq_url)
            .message_group_id(&c)
            .message_deduplication_id(format!("{run}-dead"))
            .message_body(
                json!({"order_id": c, "seq": 1, "op": "create", "currency": "bad"}).to_string(),
            )
            .send()
            .await
            .unwrap();
        let id = sent.message_id().unwrap().to_owned();
        let listed = convoy(&["--json", "dlq", "list"]).ok("dlq list");
        golden("dlq_list", &mine(listed.lines(), "group_id", &run), &run);
        let one = convoy(&["--json", "dlq", "show", &id]).ok("dlq show");
        assert_eq!(one.lines()[0]["message_id"], json!(id));
        let table = convoy(&["dlq", "show", &id]).ok("dlq show table");
        assert!(
            table.stdout.contains(&format!("transaction {c} seq 1")),
            "{}",
            table.stdout
        );
        let fixed = dir.path().join("fixed.json");
        std::fs::write(
            &fixed,
            json!({"order_id": c, "seq": 1, "op": "create", "currency": "EUR"}).to_string(),
        )
        .unwrap();
        let redriven = convoy(&[
            "--json",
            "dlq",
            "redrive",
            "--message-id",
            &id,
            "--body",
            fixed.to_str().unwrap(),
        ])
        .ok("dlq redrive");
        assert_eq!(
            redriven.lines()[0]["sent"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(redriven.lines()[0]["corrected"], json!(1));
        let mut created = false;
        for _ in 0..60 {
            let c_now = convoy(&["--json", "order", "show", &c]);
            if c_now.code == 0 {
                assert_eq!(c_now.lines()[0]["status"], json!("open"));
                created = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        assert!(created, "the redriven transaction was not applied");

        // A large file goes in parts (5 MiB here: 11 MiB in 3), and S3 holds it whole. Its
        // lines carry notes over the 1 KiB limit: each is refused, cheap to process.
        let big = dir.path().join("big.jsonl");
        let line = json!({"order_id": a, "seq": 99, "op": "pay", "note": "n".repeat(200 * 1024)});
        let body = format!("{line}\n").repeat(56);
        assert!(body.len() > 10 * 1024 * 1024 && body.len() < 15 * 1024 * 1024);
        std::fs::write(&big, &body).unwrap();
        let big_key = format!("{run}/big.jsonl");
        let up = convoy(&[
            "--json",
            "upload",
            big.to_str().unwrap(),
            "--key",
            &big_key,
            "--part-mib",
            "5",
            "--wait",
            "--timeout",
            "300",
        ])
        .ok("multipart upload");
        let out = up.lines();
        assert_eq!(out[0]["parts"], json!(3), "{out:?}");
        assert_eq!(out[0]["bytes"], json!(body.len()));
        assert_eq!(
            (out[1]["state"].as_str(), out[1]["refused"].as_u64()),
            (Some("done"), Some(56))
        );
        let stored =
            p.s3.get_object()
                .bucket(&p.stack.bucket)
                .key(format!("ledgers/{big_key}"))
                .send()
                .await
                .unwrap();
        let stored = stored.body.collect().await.unwrap().into_bytes();
        assert!(
            stored == body.as_bytes(),
            "the object differs from the file"
        );
        assert!(
            convoy(&["upload", file, "--part-mib", "4"]).code == 2,
            "parts under 5 MiB"
        );

        // A group of more than ten dead letters: a FIFO queue hands out its next ten only
        // once those before are deleted, and a redrive takes them all.
        let group = h.order_id("D");
        for seq in 1..=15u64 {
            p.sqs
                .send_message()
                .queue_url(&p.stack.transactions_dlq_url)
                .message_group_id(&group)
                .message_deduplication_id(format!("{run}-d{seq}"))
                .message_body(json!({"order_id": group, "seq": seq, "op": "pay"}).to_string())
                .send()
                .await
                .unwrap();
        }
        let listed = convoy(&["--json", "dlq", "list"]).ok("dlq list of a long group");
        let shown = mine(listed.lines(), "group_id", &group).len();
        assert!(
            (1..=10).contains(&shown),
            "a FIFO listing shows {shown} of a group"
        );
        let redriven = convoy(&["--json", "dlq", "redrive", "--group", &group]).ok("long group");
        let sent = redriven.lines()[0]["sent"].as_array().map(Vec::len);
        assert_eq!(sent, Some(15), "{}", redriven.stdout);
        let left = convoy(&["--json", "dlq", "list"]).ok("dlq list after");
        assert!(
            mine(left.lines(), "group_id", &group).is_empty(),
            "{}",
            left.stdout
        );
        convoy(&["dlq", "redrive", "--message-id", "no-such-message"]).fails(
            1,
            "no message no-such-message in the transactions dead-letter queue",
        );

        // Error paths: a clear line, exit 1 (3 for a wait that runs out).
        convoy(&["dlq", "show", "no-such-message"]).fails(
            1,
            "no message no-such-message in the transactions dead-letter queue",
        );
        convoy(&["order", "show", &h.order_id("missing")])
            .fails(1, &format!("no order {run}-missing in table"));
        convoy(&["order", "show", "bad id with spaces"]).fails(1, "invalid order id");
        convoy(&["ledger", "status", &format!("{run}/nope.jsonl")])
            .fails(1, &format!("no ledger ledgers/{run}/nope.jsonl in bucket"));
        convoy(&["--stack", "no-such-stack", "orders", "list"])
            .fails(1, "stack no-such-stack not found");
        let notes = dir.path().join("notes.txt");
        std::fs::write(&notes, "hello").unwrap();
        convoy(&["upload", notes.to_str().unwrap()]).fails(1, "notes.txt: ");
        convoy(&["upload", &format!("{file}.missing")]).fails(1, "cli.jsonl.missing: ");
        let late = format!("{run}/late.jsonl");
        let again = convoy(&[
            "--json",
            "upload",
            file,
            "--key",
            &late,
            "--wait",
            "--timeout",
            "0",
        ]);
        again.fails(3, "still processing after 0 s");
        h.settle(running, &[upload_of(&again.lines()[0])])
            .await
            .unwrap();
        // Without --local, and no credentials anywhere: said, not dumped.
        let mut no_creds = Command::new(convoy_binary());
        no_creds
            .args(["orders", "list"])
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
            .env_remove("CONVOY_LOCAL");
        let out = no_creds.output().unwrap();
        let ran = Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        };
        ran.fails(1, "no AWS credentials: configure them");
        // Usage errors are clap's: exit 2.
        assert_eq!(convoy(&["orders", "list", "--status", "lost"]).code, 2);
    })
    .await;
}

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
