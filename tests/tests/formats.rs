//! Scenarios 7 and 8: object keys with spaces, `+` and other characters; gzip (several
//! members) and CSV (quoted fields across lines) ledgers; an unsupported extension.

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

use convoy_tests::generate::{self, Ledger};
use convoy_tests::rewrite::gzip_members;
use convoy_tests::{check, model, Harness};
use ledger::State;
use serde_json::{json, Value};

fn line(v: Value) -> String {
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_with_spaces_and_plus_signs_get_their_reports() {
    let h = Harness::start().await.unwrap();
    let names = ["my ledger+v2.jsonl", "ünï €%41 (1)&=?.NDJSON"];
    let ledgers: Vec<Ledger> = names
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let id = h.order_id(&format!("S-{i}"));
            let mut l = Ledger::new();
            l.ok(line(
                json!({"order_id": id, "seq": 1, "op": "create", "currency": "EUR"}),
            ))
            .refused(
                Some("amount"),
                line(
                    json!({"order_id": id, "seq": 2, "op": "add", "txn_id": "a", "amount": "1e2"}),
                ),
            )
            .ok(line(
                json!({"order_id": id, "seq": 2, "op": "add", "txn_id": "a", "amount": "3"}),
            ));
            l
        })
        .collect();
    let want: Vec<Value> = (0..names.len())
        .map(|i| {
            json!({"order_id": h.order_id(&format!("S-{i}")), "status": "open", "currency": "EUR",
                "total": "3.00", "items": {"a": "3.00"}, "next_seq": 3, "parked": [],
                "applied": 2, "rejected": 0, "duplicates": 0, "conflicts": 0})
        })
        .collect();

    let running = h.start_in_process().await.unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        let mut uploads = Vec::new();
        for (name, l) in names.iter().zip(&ledgers) {
            uploads.push(h.upload(name, l.bytes.clone()).await.unwrap());
        }
        let statuses = h.settle(running, &uploads).await.unwrap();
        for ((status, upload), l) in statuses.iter().zip(&uploads).zip(&ledgers) {
            let key = &upload.key;
            check::status(status, &check::Expected::done(key, &l.bytes, 1)).unwrap();
            let report = h
                .pipeline
                .read_object(&check::rejects_key(key))
                .await
                .unwrap();
            let report =
                report.unwrap_or_else(|| panic!("no report at {}", check::rejects_key(key)));
            check::report(key, &l.bytes, &report, &l.rejects).unwrap();
        }
        let misread = format!("rejects/{}/my ledger v2.jsonl.jsonl", h.run);
        assert_eq!(h.pipeline.read_object(&misread).await.unwrap(), None);
        let want = want
            .iter()
            .map(|v| (v["order_id"].as_str().unwrap().to_owned(), v.clone()))
            .collect();
        check::views_except(&h.views().await.unwrap(), &want, &[]).unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gzip_with_several_members() {
    let h = Harness::start().await.unwrap();
    let ids: Vec<String> = (0..10).map(|i| h.order_id(&format!("Z-{i}"))).collect();
    let lives = generate::orders(8, &ids);
    let lines = generate::interleave(&mut fastrand::Rng::with_seed(80), lives.clone());
    let mut l = Ledger::new();
    for (i, v) in lines.iter().enumerate() {
        if i == lines.len() / 2 {
            l.refused(None, format!("{{\"order_id\":\"{}\",", ids[0]));
            l.blank("");
            l.ending(b"\r\n");
        }
        l.ok(line(v.clone()));
    }
    let gz = gzip_members(&l.bytes, 4).unwrap();
    let want = model::views(&generate::transactions(&lines).unwrap());

    let running = h.start_in_process().await.unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        let upload = h.upload("batch.jsonl.gz", gz.clone()).await.unwrap();
        let key = upload.key.clone();
        let status = h.settle(running, &[upload]).await.unwrap();
        let text = check::ledger_text(&key, &gz).unwrap();
        assert_eq!(text, l.bytes);
        check::status(&status[0], &check::Expected::done(&key, &text, 1)).unwrap();
        let report = h
            .pipeline
            .read_object(&check::rejects_key(&key))
            .await
            .unwrap();
        check::report(&key, &text, &report.unwrap(), &l.rejects).unwrap();
        check::views_except(&h.views().await.unwrap(), &want, &[]).unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn csv_with_quoted_fields_across_lines() {
    let h = Harness::start().await.unwrap();
    let ids: Vec<String> = (0..6).map(|i| h.order_id(&format!("C-{i}"))).collect();
    let lives = generate::orders(9, &ids);
    let lines = generate::interleave(&mut fastrand::Rng::with_seed(90), lives.clone());
    let columns = [
        "at", "note", "amount", "op", "seq", "channel", "txn_id", "order_id", "currency",
    ];
    let notes = ["two\nlines", "a, \"quoted\"\r\nand more", "", "plain"];
    let mut l = Ledger::new();
    l.ending(b"\r\n");
    let mut header = b"\xEF\xBB\xBF".to_vec();
    header.extend(generate::csv_record(columns).unwrap());
    l.ok(header);
    for (i, v) in lines.iter().enumerate() {
        let fields: Vec<String> = columns
            .iter()
            .map(|c| match (*c, &v[*c]) {
                ("note", _) => notes[i % notes.len()].to_owned(),
                ("channel", _) => "web".to_owned(),
                (_, Value::String(s)) => s.clone(),
                (_, Value::Null) => String::new(),
                (_, other) => other.to_string(),
            })
            .collect();
        l.ok(generate::csv_record(&fields).unwrap());
        if i == 3 {
            // after a record across lines: the line numbers count its line breaks
            let bad = ["", "x\ny", "1.23456", "add", "99", "web", "t9", &ids[0], ""];
            l.refused(Some("amount"), generate::csv_record(bad).unwrap());
            l.refused(None, generate::csv_record(["too", "few"]).unwrap());
            l.ok(generate::csv_record([""; 9]).unwrap()); // all empty: blank
                                                          // longer than 256 KiB, across lines; not UTF-8
            let long = format!("{}\n", "y".repeat(100 * 1024)).repeat(3);
            let mut long_record = bad.map(str::as_bytes);
            long_record[1] = long.as_bytes();
            l.refused(None, generate::csv_record(long_record).unwrap());
            let mut not_utf8 = bad.map(str::as_bytes);
            (not_utf8[1], not_utf8[2]) = (b"caf\xc3\x28\n", b"1");
            l.refused(None, generate::csv_record(not_utf8).unwrap());
        }
    }
    let mut want = model::views(&generate::transactions(&lines).unwrap());

    // A header without the op-specific columns: the rows that need one are refused.
    let (n1, n2) = (h.order_id("N-1"), h.order_id("N-2"));
    let mut narrow = Ledger::new();
    narrow
        .ok("seq,op,order_id")
        .refused(Some("currency"), format!("1,create,{n1}"))
        .ok(format!("1,pay,{n2}"))
        .refused(Some("txn_id"), format!("2,add,{n2}"));
    want.insert(
        n2.clone(),
        json!({"order_id": n2, "status": "new", "currency": null, "total": "0.00",
            "items": {}, "next_seq": 2, "parked": [],
            "applied": 0, "rejected": 1, "duplicates": 0, "conflicts": 0}),
    );

    let running = h.start_in_process().await.unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        let mut uploads = Vec::new();
        for (name, l) in [("export.csv", &l), ("narrow.CSV", &narrow)] {
            uploads.push(h.upload(name, l.bytes.clone()).await.unwrap());
        }
        let statuses = h.settle(running, &uploads).await.unwrap();
        for ((status, upload), l) in statuses.iter().zip(&uploads).zip([&l, &narrow]) {
            let key = &upload.key;
            let refused = l.rejects.len() as u64;
            check::status(status, &check::Expected::done(key, &l.bytes, refused)).unwrap();
            let report = h
                .pipeline
                .read_object(&check::rejects_key(key))
                .await
                .unwrap();
            check::report(key, &l.bytes, &report.unwrap(), &l.rejects).unwrap();
        }
        check::views_except(&h.views().await.unwrap(), &want, &[]).unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unsupported_extension_is_refused_whole() {
    let h = Harness::start().await.unwrap();
    let id = h.order_id("U");
    let body = generate::jsonl(&[
        json!({"order_id": id, "seq": 1, "op": "create", "currency": "EUR"}),
        json!({"order_id": id, "seq": 2, "op": "add", "txn_id": "a", "amount": "3"}),
    ]);

    let running = h.start_in_process().await.unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        let mut uploads = Vec::new();
        for name in ["notes.txt", "orders.gz", "orders.jsonl.zip"] {
            uploads.push(h.upload(name, body.clone()).await.unwrap());
        }
        let statuses = h.settle(running, &uploads).await.unwrap();
        for (status, upload) in statuses.iter().zip(&uploads) {
            let want = check::Expected {
                state: State::Unsupported,
                lines_read: 0,
                sent: 0,
                refused: 0,
                rejects_key: None,
            };
            check::status(status, &want).unwrap();
            assert!(status.error.is_some(), "{status:?}");
            let report = check::rejects_key(&upload.key);
            assert_eq!(h.pipeline.read_object(&report).await.unwrap(), None);
        }
        assert_eq!(h.views().await.unwrap(), Default::default(), "nothing sent");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn empty_ledgers_are_done_with_nothing_sent() {
    let h = Harness::start().await.unwrap();
    let ledgers: [(&str, &[u8]); 5] = [
        ("empty.jsonl", b""),
        ("empty.jsonl.gz", b""),
        ("blank lines.ndjson", b"\n  \r\n\t\n"),
        ("header only.csv", b"order_id,seq,op\r\n"),
        ("blank records.csv", b"\xEF\xBB\xBForder_id,seq,op\n,,\n\n"),
    ];
    let running = h.start_in_process().await.unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        let mut uploads = Vec::new();
        for (name, bytes) in ledgers {
            uploads.push(h.upload(name, bytes.to_vec()).await.unwrap());
        }
        let statuses = h.settle(running, &uploads).await.unwrap();
        for ((status, upload), (_, bytes)) in statuses.iter().zip(&uploads).zip(ledgers) {
            let want = check::Expected::done(&upload.key, bytes, 0);
            assert_eq!(want.sent, 0);
            check::status(status, &want).unwrap();
        }
        assert_eq!(h.views().await.unwrap(), Default::default());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unusual_ids_amounts_and_texts_pass_through() {
    let h = Harness::start().await.unwrap();
    let punctuation = h.order_id("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
    let longest = h.order_id(&"x".repeat(128 - h.prefix().len()));
    assert_eq!(longest.len(), 128);
    let keylike = h.order_id("a#state#seq#00000000000000000001");
    let big = "999999999999999999.9999";
    let mut lines = Vec::new();
    for id in [&punctuation, &longest, &keylike] {
        lines.extend([
            json!({"order_id": id, "seq": 1, "op": "create", "currency": "EUR",
                "note": "\u{fffe}\u{ffff} \u{1} 😀 \"q\" \\"}),
            json!({"order_id": id, "seq": 2, "op": "add", "txn_id": "ü€😀", "amount": big}),
            json!({"order_id": id, "seq": 3, "op": "add", "txn_id": "\u{ffff}x\"", "amount": big}),
            json!({"order_id": id, "seq": 4, "op": "add", "txn_id": "é".repeat(128), "amount": "-0.0001"}),
            json!({"order_id": id, "seq": 5, "op": "add", "txn_id": "z", "amount": "0.125"}),
            json!({"order_id": id, "seq": 6, "op": "modify", "txn_id": "z", "amount": "-0"}),
        ]);
    }
    let ledger = generate::jsonl(&lines);
    let want = model::views(&generate::transactions(&lines).unwrap());
    assert_eq!(want[&punctuation]["total"], "1999999999999999999.9997");

    let running = h.start_in_process().await.unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        check::settled(h, running, "unusual.jsonl", &ledger, 0)
            .await
            .unwrap();
        check::views_except(&h.views().await.unwrap(), &want, &[]).unwrap();
    })
    .await;
}
