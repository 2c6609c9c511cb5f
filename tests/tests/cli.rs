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

use convoy_tests::Harness;
use serde_json::json;
use std::process::Command;

mod cli_support;
use cli_support::*;

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
        let paid = &history.lines()[0]["paid"];
        assert!(paid["receipt"].as_u64().is_some_and(|n| n > 0), "{paid}");
        assert!(
            paid["batch"].as_str().is_some_and(|b| b.len() == 10),
            "{paid}"
        );
        let table = convoy(&["order", "show", &a, "--history"]).ok("history table");
        for shown in [
            "shipped",
            ", batch 20",
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
