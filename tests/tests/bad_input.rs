//! The bad-input suite: every kind of bad input the pipeline must survive, uploaded at the
//! same time as a good ledger, through the whole pipeline on the emulator. Each case ends
//! with a clear, located error (in the rejects report, the status record or, for a message
//! the ledger function did not send, the transactions dead-letter queue), blocks no other
//! order, and loses nothing valid: the valid lines in and beside the bad files are applied.
//! Peak memory on the gzip bombs is measured in a child process by the ledger crate's
//! peak-memory test; here the 4 KB bomb goes through the real adapters.
//!
//! Prints one line per case and `bad input: cases=N located=N valid_lost=0`.

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

use convoy_tests::check::{self, Expected, Reject};
use convoy_tests::tally::announce;
use convoy_tests::{generate, model, Harness};
use flate2::write::GzEncoder;
use flate2::Compression;
use ledger::State;
use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn lines(values: &[Value]) -> Vec<u8> {
    generate::jsonl(values)
}

/// What one bad ledger must end as.
struct Case {
    name: &'static str,
    /// The uploaded bytes, and the text they decode to (for the report check).
    body: Vec<u8>,
    text: Vec<u8>,
    state: State,
    /// Lines refused (when the ledger ends done).
    refused: u64,
    /// The refused lines the report must list: all of them, up to the report's cap.
    rejects: Vec<Reject>,
    /// For a ledger that fails or is unsupported: words its status error must contain.
    error_says: &'static [&'static str],
    /// Valid lines of the case, which must be applied.
    valid: Vec<Value>,
}

impl Case {
    fn done(name: &'static str, text: Vec<u8>, rejects: Vec<Reject>, valid: Vec<Value>) -> Self {
        Case {
            name,
            body: text.clone(),
            text,
            state: State::Done,
            refused: rejects.len() as u64,
            rejects,
            error_says: &[],
            valid,
        }
    }
}

fn cases(h: &Harness) -> Vec<Case> {
    let id = |s: &str| h.order_id(s);
    let create = |o: &str| json!({"order_id": id(o), "seq": 1, "op": "create", "currency": "EUR"});
    let add = |o: &str, seq: u64| json!({"order_id": id(o), "seq": seq, "op": "add", "txn_id": format!("t{seq}"), "amount": "1.5"});
    let mut cases = Vec::new();

    // A 4 KB gzip member inflating to 2,000,000 refused lines, then two valid ones.
    let bomb_lines = 2_000_000u64;
    let mut text = b"x\n".repeat(bomb_lines as usize);
    text.extend(lines(&[create("BOMB"), add("BOMB", 2)]));
    let body = gzip(&text);
    assert!(
        body.len() < 16 * 1024,
        "the bomb is {} bytes compressed",
        body.len()
    );
    cases.push(Case {
        name: "gzip bomb 2,000,000 refused lines",
        body,
        text,
        state: State::Done,
        refused: bomb_lines,
        rejects: (1..=ledger::rejects::MAX_REPORTED_REJECTS)
            .map(|l| Reject::new(l, None))
            .collect(),
        error_says: &[],
        valid: vec![create("BOMB"), add("BOMB", 2)],
    });

    // A gzip cut in the middle: what came before the cut is applied, the status fails.
    let valid: Vec<Value> = std::iter::once(create("TRUNC"))
        .chain((2..=400).map(|s| add("TRUNC", s)))
        .collect();
    let whole = gzip(&lines(&valid));
    let cut = whole[..whole.len() * 6 / 10].to_vec();
    cases.push(Case {
        name: "truncated gzip",
        body: cut,
        text: Vec::new(),
        state: State::Failed,
        refused: 0,
        rejects: Vec::new(),
        error_says: &["gzip", "after line"],
        valid: Vec::new(), // how many lines precede the cut depends on the deflate blocks
    });

    let mut bytes = lines(&[create("UTF8")]);
    bytes.extend(
        format!(
            r#"{{"order_id":"{}","seq":2,"op":"add","txn_id":""#,
            id("UTF8")
        )
        .as_bytes(),
    );
    bytes.extend(b"\xff\xfe\",\"amount\":\"1\"}\n");
    bytes.extend(lines(&[add("UTF8", 3)]));
    cases.push(Case::done(
        "non-UTF-8 bytes",
        bytes,
        vec![Reject::new(2, None)],
        vec![create("UTF8"), add("UTF8", 3)],
    ));

    let mut bytes = lines(&[
        json!({"order_id": id("LONG"), "seq": 1, "op": "create", "currency": "EUR", "note": "n".repeat(10 << 20)}),
    ]);
    bytes.extend(lines(&[create("LONG2")]));
    cases.push(Case::done(
        "a 10 MB single line",
        bytes,
        vec![Reject::new(1, None)],
        vec![create("LONG2")],
    ));

    let at = format!("2026-12-02T10:00:00.{}Z", "1".repeat(10_000));
    cases.push(Case::done(
        "`at` with 10,000 fraction digits",
        lines(&[
            create("AT"),
            json!({"order_id": id("AT"), "seq": 2, "op": "pay", "at": at}),
            json!({"order_id": id("AT"), "seq": 2, "op": "pay", "at": "2026-12-02T10:00:00.123456789Z"}),
        ]),
        vec![Reject::new(2, Some("at"))],
        vec![
            create("AT"),
            json!({"order_id": id("AT"), "seq": 2, "op": "pay", "at": "2026-12-02T10:00:00.123456789Z"}),
        ],
    ));

    cases.push(Case::done(
        "a 300 KB note",
        lines(&[
            json!({"order_id": id("NOTE"), "seq": 1, "op": "create", "currency": "EUR", "note": "n".repeat(300 << 10)}),
            create("NOTE"),
        ]),
        vec![Reject::new(1, None)],
        vec![create("NOTE")],
    ));

    let too_long = "o".repeat(129);
    cases.push(Case::done(
        "order ids SQS refuses",
        lines(&[
            json!({"order_id": "ördér", "seq": 1, "op": "create", "currency": "EUR"}),
            json!({"order_id": too_long, "seq": 1, "op": "create", "currency": "EUR"}),
            json!({"order_id": "tab\there", "seq": 1, "op": "create", "currency": "EUR"}),
            create("SQSID"),
        ]),
        vec![
            Reject::new(1, Some("order_id")),
            Reject::new(2, Some("order_id")),
            Reject::new(3, Some("order_id")),
        ],
        vec![create("SQSID")],
    ));

    cases.push(Case::done(
        "seq 2^53",
        lines(&[
            create("SEQ"),
            json!({"order_id": id("SEQ"), "seq": 9_007_199_254_740_992_u64, "op": "pay"}),
            json!({"order_id": id("SEQ"), "seq": 9_007_199_254_740_991_u64, "op": "pay"}),
        ]),
        vec![Reject::new(2, Some("seq"))],
        vec![
            create("SEQ"),
            json!({"order_id": id("SEQ"), "seq": 9_007_199_254_740_991_u64, "op": "pay"}),
        ],
    ));

    cases.push(Case::done(
        "an empty file",
        Vec::new(),
        Vec::new(),
        Vec::new(),
    ));
    cases.push(Case {
        name: "a header-only CSV",
        ..Case::done(
            "",
            b"order_id,seq,op,currency\r\n".to_vec(),
            Vec::new(),
            Vec::new(),
        )
    });
    cases.push(Case {
        name: "a wrong extension",
        state: State::Unsupported,
        error_says: &["unsupported", "expected .jsonl"],
        ..Case::done("", lines(&[create("EXT")]), Vec::new(), Vec::new())
    });
    // The contract lets a header lack a column; each row that needs it is refused.
    let csv = format!("order_id,op,currency\n{},create,EUR\n", id("NOSEQ")).into_bytes();
    cases.push(Case {
        name: "a CSV missing a column",
        ..Case::done("", csv, vec![Reject::new(2, Some("seq"))], Vec::new())
    });
    cases
}

/// The key each case is uploaded as.
fn file_name(i: usize, case: &Case) -> String {
    let ext = match case.name {
        "gzip bomb 2,000,000 refused lines" | "truncated gzip" => "jsonl.gz",
        "a header-only CSV" | "a CSV missing a column" => "csv",
        "a wrong extension" => "txt",
        _ => "jsonl",
    };
    format!("bad-{i}.{ext}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_refused_where_it_is_and_nothing_valid_is_lost() {
    let h = Harness::start().await.unwrap();
    let cases = cases(&h);
    let good_ids: Vec<String> = (0..60).map(|i| h.order_id(&format!("GOOD{i}"))).collect();
    let good = generate::interleave(
        &mut fastrand::Rng::with_seed(11),
        generate::orders(11, &good_ids),
    );
    let foreign_group = h.order_id("FOREIGN");
    let foreign_body = format!("not a transaction of ours ({})", h.run);
    let (visibility, max_receives) = h.transactions_queue_settings().await.unwrap();

    let running = h.start_in_process().await.unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        let mut uploads = Vec::new();
        uploads.push(h.upload("good.jsonl", generate::jsonl(&good)).await.unwrap());
        for (i, case) in cases.iter().enumerate() {
            uploads.push(h.upload(&file_name(i, case), case.body.clone()).await.unwrap());
        }
        h.send_copy(&foreign_group, &foreign_body).await.unwrap();
        let patience = visibility * (max_receives as u32 + 2) + Duration::from_secs(300);
        let statuses = h.settle_within(running, &uploads, patience).await.unwrap();

        let mut located = 0;
        for ((case, upload), status) in cases.iter().zip(&uploads[1..]).zip(&statuses[1..]) {
            let key = &upload.key;
            match case.state {
                State::Done => {
                    let want = Expected::done(key, &case.text, case.refused);
                    check::status(status, &want).unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
                    let truncated = case.refused > case.rejects.len() as u64;
                    assert_eq!(status.rejects_truncated, truncated, "{}: {status:?}", case.name);
                    if let Some(report_key) = &status.rejects_key {
                        let report = h.pipeline.read_object(report_key).await.unwrap().unwrap();
                        check::report(key, &case.text, &report, &case.rejects)
                            .unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
                    }
                }
                state => {
                    assert_eq!(status.state, state, "{}: {status:?}", case.name);
                    let error = status.error.as_deref().unwrap_or_default();
                    for word in case.error_says {
                        assert!(error.contains(word), "{}: error {error:?} does not say {word:?}", case.name);
                    }
                }
            }
            let outcome = match (&status.error, status.refused) {
                (Some(e), _) => format!("{}: {e}", status.state),
                (None, 0) => format!("{}, nothing refused", status.state),
                (None, n) => format!("{}, {n} refused, first at line {}", status.state, case.rejects[0].line),
            };
            located += 1;
            announce(&format!("bad input: {}: {outcome}", case.name));
        }

        // The body that is not ours: failed alone, then in the transactions DLQ.
        assert!(
            h.take_dead_letter(&foreign_body).await.unwrap(),
            "the foreign body is not in the transactions dead-letter queue"
        );
        located += 1;
        announce(&format!("bad input: a FIFO body that is not ours: in the transactions DLQ after {max_receives} receives"));

        // Nothing valid lost: the good ledger and every valid line of the bad ones.
        let valid: Vec<Value> = good
            .iter()
            .chain(cases.iter().flat_map(|c| &c.valid))
            .cloned()
            .collect();
        let want = model::views(&generate::transactions(&valid).unwrap());
        let got = h.views().await.unwrap();
        let mut lost = 0;
        for (id, w) in &want {
            match got.get(id) {
                Some(g) if g["applied"] == w["applied"] && g["next_seq"] == w["next_seq"] => {}
                other => {
                    lost += 1;
                    eprintln!("{id}: got {other:?}, expected {w}");
                }
            }
        }
        let cases = cases.len() + 1;
        announce(&format!("bad input: cases={cases} located={located} valid_lost={lost}"));
        assert_eq!((located, lost), (cases, 0));
    })
    .await;
}
