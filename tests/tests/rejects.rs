//! Scenario 6: lines refused at the ledger — several of each kind — are listed in the
//! rejects report (line, field, reason, raw text), the others go on, and an order whose
//! refused line leaves a gap waits with its later transactions parked.

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

use convoy_tests::generate::Ledger;
use convoy_tests::{check, Harness};
use serde_json::json;
use std::collections::BTreeMap;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_lines_are_reported_and_leave_gaps() {
    let h = Harness::start().await.unwrap();
    let (g, k, z) = (h.order_id("G"), h.order_id("K"), h.order_id("Z"));
    let line = |v: serde_json::Value| v.to_string();
    let long_note = "x".repeat(300 * 1024);
    let mut l = Ledger::new();
    // A BOM before line 1 is ignored.
    l.ok(format!(
        "\u{feff}{}",
        json!({"order_id": g, "seq": 1, "op": "create", "currency": "EUR"})
    ))
    // bad amounts: the gap at g's seq 2
    .refused(
        Some("amount"),
        line(json!({"order_id": g, "seq": 2, "op": "add", "txn_id": "a", "amount": "1.23456"})),
    )
    .refused(
        Some("amount"),
        format!(r#"{{"order_id":"{g}","seq":2,"op":"add","txn_id":"a","amount":1e2}}"#),
    )
    .refused(
        Some("amount"),
        line(json!({"order_id": g, "seq": 2, "op": "add", "txn_id": "a", "amount": "+1"})),
    )
    .refused(
        Some("amount"),
        line(json!({"order_id": g, "seq": 2, "op": "add", "txn_id": "a"})),
    )
    .ok(line(
        json!({"order_id": g, "seq": 3, "op": "add", "txn_id": "b", "amount": "2.5"}),
    ))
    // missing or bad currency for create: z never reaches the consumer
    .refused(
        Some("currency"),
        line(json!({"order_id": z, "seq": 1, "op": "create"})),
    )
    .refused(
        Some("currency"),
        line(json!({"order_id": z, "seq": 1, "op": "create", "currency": "eur"})),
    )
    .ending(b"\r\n")
    .refused(
        Some("currency"),
        line(json!({"order_id": z, "seq": 1, "op": "create", "currency": null})),
    )
    .ending(b"\n")
    // bad seq
    .refused(
        Some("seq"),
        line(json!({"order_id": z, "seq": 0, "op": "pay"})),
    )
    .refused(
        Some("seq"),
        line(json!({"order_id": z, "seq": "2", "op": "pay"})),
    )
    .refused(
        Some("seq"),
        line(json!({"order_id": z, "seq": 9_007_199_254_740_992_u64, "op": "pay"})),
    )
    .refused(
        Some("seq"),
        line(json!({"order_id": z, "seq": 1.5, "op": "pay"})),
    )
    .blank("")
    .blank("  \t ")
    // invalid JSON, or not an object
    .refused(None, format!(r#"{{"order_id":"{g}","seq":4,"op":"pay""#))
    .refused(None, "not json at all")
    .refused(None, "[1, 2, 3]")
    .refused(
        None,
        format!(r#"{{"order_id":"{g}","seq":4,"op":"pay"}} trailing"#),
    )
    // longer than 256 KiB
    .refused(
        None,
        line(json!({"order_id": g, "seq": 4, "op": "pay", "note": long_note})),
    )
    .refused(None, " ".repeat(256 * 1024 + 1))
    // not UTF-8
    .refused(
        None,
        [
            format!(r#"{{"order_id":"{g}","seq":4,"op":"add","txn_id":""#).as_bytes(),
            b"\xff\xfe",
            br#"","amount":"1"}"#,
        ]
        .concat(),
    )
    .refused(
        None,
        [
            format!(r#"{{"order_id":"{g}","seq":4,"op":"pay","note":"caf"#).as_bytes(),
            b"\xc3\x28",
            br#""}"#,
        ]
        .concat(),
    )
    // the other fields of the contract's table, one each
    .refused(
        Some("order_id"),
        line(json!({"order_id": "has space", "seq": 1, "op": "pay"})),
    )
    .refused(
        Some("op"),
        line(json!({"order_id": g, "seq": 4, "op": "refund"})),
    )
    .refused(
        Some("txn_id"),
        line(json!({"order_id": g, "seq": 4, "op": "add", "amount": "1"})),
    )
    .refused(
        Some("at"),
        line(json!({"order_id": g, "seq": 4, "op": "pay", "at": "yesterday"})),
    )
    .refused(
        Some("note"),
        line(json!({"order_id": g, "seq": 4, "op": "pay", "note": "n".repeat(1025)})),
    )
    // an order that is fine
    .ok(line(
        json!({"order_id": k, "seq": 1, "op": "create", "currency": "JPY"}),
    ))
    .ok(line(
        json!({"order_id": k, "seq": 2, "op": "add", "txn_id": "k", "amount": 7}),
    ))
    .ending(b"")
    .ok(line(json!({"order_id": g, "seq": 4, "op": "pay"})));
    let refused = l.rejects.len() as u64;

    let running = h.start_in_process().await.unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        let upload = check::settled(h, running, "bad lines.jsonl", &l.bytes, refused);
        let key = upload.await.unwrap().key;
        let report = h
            .pipeline
            .read_object(&check::rejects_key(&key))
            .await
            .unwrap();
        check::report(&key, &l.bytes, &report.unwrap(), &l.rejects).unwrap();

        let want: BTreeMap<String, serde_json::Value> = [
            json!({"order_id": g, "status": "open", "currency": "EUR", "total": "0.00",
                "items": {}, "next_seq": 2, "parked": [3, 4],
                "applied": 1, "rejected": 0, "duplicates": 0, "conflicts": 0}),
            json!({"order_id": k, "status": "open", "currency": "JPY", "total": "7.00",
                "items": {"k": "7.00"}, "next_seq": 3, "parked": [],
                "applied": 2, "rejected": 0, "duplicates": 0, "conflicts": 0}),
        ]
        .into_iter()
        .map(|v| (v["order_id"].as_str().unwrap().to_owned(), v))
        .collect();
        // z's lines were all refused: it is nowhere (not even under another id).
        check::views_except(&h.views().await.unwrap(), &want, &[]).unwrap();
        check::views_except(&h.scan_views().await.unwrap(), &want, &[]).unwrap();
    })
    .await;
}
