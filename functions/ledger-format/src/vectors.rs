//! The conformance vectors of the contract (in `tests/fixtures/vectors/` at the repository root): refused lines and
//! the number of valid transactions of each ledger.

use super::testing::{decode, decode_in_chunks, gz, gzip, refusals, txn_lines, CSV, JSONL};
use super::LedgerKind;
use convoy_core::field::Field;

/// `(line, field)` pairs of a `.rejects` file: one JSON object per line.
fn expected_rejects(rejects: &str) -> Vec<(u64, Option<Field>)> {
    rejects
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let line = v["line"].as_u64().unwrap();
            let field = v["field"].as_str().map(|f| Field::from_name(f).unwrap());
            (line, field)
        })
        .collect()
}

fn check(kind: LedgerKind, ledger: &[u8], rejects: &str, valid: usize, lines: u64) {
    let out = decode(kind, ledger);
    assert_eq!(refusals(&out), expected_rejects(rejects));
    assert_eq!(txn_lines(&out).len(), valid);
    // Same result whole, in small chunks, and gzip-compressed in small chunks.
    let (chunked, read) = decode_in_chunks(kind, ledger, &[1, 7, 64, 3]);
    assert_eq!(chunked, out);
    assert_eq!(read, lines);
    let (zipped, read) = decode_in_chunks(gz(kind), &gzip(ledger), &[5, 100]);
    assert_eq!(zipped, out);
    assert_eq!(read, lines);
}

/// The ledger and expected rejects of the vector `name`, from the one list of them.
fn fixture(name: &str) -> (&'static [u8], &'static str) {
    let v = convoy_core::vectors::get(name).unwrap();
    (v.ledger.as_bytes(), v.rejects)
}

#[test]
fn v1_interleaved() {
    let (ledger, rejects) = fixture("v1-interleaved.jsonl");
    check(JSONL, ledger, rejects, 142, 142);
}

#[test]
fn v2_reordered() {
    let (ledger, rejects) = fixture("v2-reordered.jsonl");
    check(JSONL, ledger, rejects, 98, 98);
}

#[test]
fn v3_gap_dup_conflict() {
    let (ledger, rejects) = fixture("v3-gap-dup-conflict.jsonl");
    check(JSONL, ledger, rejects, 67, 68);
}

#[test]
fn v4_quoted_csv() {
    let (ledger, rejects) = fixture("v4-quoted.csv");
    // 59 lines: the header and 58 records.
    check(CSV, ledger, rejects, 58, 59);
}

#[test]
fn v5_edges() {
    let (ledger, rejects) = fixture("v5-edges.jsonl");
    // 19 lines: 2 blank, 4 refused.
    check(JSONL, ledger, rejects, 13, 19);
}
