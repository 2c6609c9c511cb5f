//! The conformance vectors, end to end through the pure domain: each ledger decoded and
//! its transactions applied in file order must give exactly the expected order JSON.
#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use convoy_core::memory::OrderBook;
use convoy_core::vectors::{self, Vector};
use convoy_core::OrderView;
use ledger_format::{kind_of_key, Decoder, Parsed};
use serde_json::Value;
use std::collections::BTreeMap;

type Refused = Vec<(u64, Option<String>)>;

/// Decodes `bytes` as the key's format, applies every valid transaction in file order
/// (batches of `batch` per order, as a FIFO consumer would see them), returns the views
/// and the refused (line, field) pairs.
fn run(name: &str, bytes: &[u8], batch: usize) -> (BTreeMap<String, Value>, Refused) {
    let mut decoder = Decoder::new(kind_of_key(name).unwrap());
    let mut out = Vec::new();
    for chunk in bytes.chunks(97) {
        let mut rest = chunk;
        while !rest.is_empty() {
            rest = &rest[decoder.feed(rest, &mut out).unwrap()..];
        }
    }
    decoder.finish(&mut out).unwrap();
    let mut book = OrderBook::default();
    let mut refused = Vec::new();
    let mut txns = Vec::new();
    for p in out {
        match p {
            Parsed::Txn { txn, .. } => txns.push(txn),
            Parsed::Refused(e) => refused.push((e.line, e.field.map(|f| f.as_str().to_owned()))),
        }
    }
    for chunk in txns.chunks(batch) {
        let mut groups: BTreeMap<String, Vec<_>> = BTreeMap::new();
        for t in chunk {
            groups
                .entry(t.order_id.to_string())
                .or_default()
                .push(t.clone());
        }
        for g in groups.values() {
            book.receive(g, 99).unwrap();
        }
    }
    let views = book
        .orders()
        .map(|o| {
            let v = OrderView::from(o);
            (
                v.order_id.clone(),
                serde_json::from_str(&v.to_json_line()).unwrap(),
            )
        })
        .collect();
    (views, refused)
}

fn check(v: &Vector) {
    let (name, bytes, expected, rejects) = (v.name, v.ledger.as_bytes(), v.expected, v.rejects);
    let want: BTreeMap<String, Value> = expected
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["order_id"].as_str().unwrap().to_owned(), v)
        })
        .collect();
    let want_refused: Refused = rejects
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["line"].as_u64().unwrap(),
                v["field"].as_str().map(str::to_owned),
            )
        })
        .collect();
    for batch in [1, 3, 10] {
        let (got, refused) = run(name, bytes, batch);
        assert_eq!(refused, want_refused, "{name}: refused lines");
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{name}: orders"
        );
        for (id, w) in &want {
            // Every field, `duplicates` included: nothing deduplicates copies here. The
            // vectors predate `voided`: no ledger line voids, so it is empty.
            let mut got = got[id].clone();
            if w.get("voided").is_none() {
                let voided = got.as_object_mut().and_then(|o| o.remove("voided"));
                assert_eq!(voided, Some(serde_json::json!([])), "{name}: order {id}");
            }
            assert_eq!(&got, w, "{name}: order {id}, batches of {batch}");
        }
    }
}

#[test]
fn every_vector() {
    for v in &vectors::ALL {
        check(v);
    }
}
