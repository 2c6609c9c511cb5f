//! The decoder end to end, line by line: numbering, blank lines, BOM, UTF-8, fields.
//! Limits, gzip and chunking are in `streaming`.

use super::super::testing::{
    decode, decode_in_chunks, gz, gzip, only_refusal, refusals, try_decode_in_chunks, txn_lines,
    CSV, JSONL,
};
use super::super::{MAX_LINE_BYTES, MAX_STEP_BYTES};
use super::*;
use convoy_core::amount::Amount;
use convoy_core::field::Field;
use convoy_core::transaction::{Content, Op, TxnId};
use proptest::prelude::*;

const PAY: &str = r#"{"order_id":"A","seq":5,"op":"pay"}"#;

fn lines(ls: &[&str]) -> Vec<u8> {
    ls.join("\n").into_bytes()
}

fn the_txn(out: &[Parsed]) -> &Transaction {
    match out {
        [Parsed::Txn { txn, .. }] => txn,
        other => panic!("expected one transaction, got {other:#?}"),
    }
}

#[test]
fn lines_are_numbered_from_1_counting_blank_lines_which_are_skipped() {
    let file = format!("{PAY}\n\n   \n\t\r\n\u{a0}\u{3000}\n{PAY}\n\r\n{PAY}\n");
    let (out, read) = decode_in_chunks(JSONL, file.as_bytes(), &[]);
    assert_eq!(txn_lines(&out), [1, 6, 8]);
    assert!(refusals(&out).is_empty());
    assert_eq!(read, 8);
}

#[test]
fn the_last_line_needs_no_newline_and_lines_read_counts_it() {
    let (out, read) = decode_in_chunks(JSONL, lines(&[PAY, PAY]).as_slice(), &[]);
    assert_eq!(txn_lines(&out), [1, 2]);
    assert_eq!(read, 2);
    let (out, read) = decode_in_chunks(JSONL, format!("{PAY}\n{PAY}\n").as_bytes(), &[]);
    assert_eq!((txn_lines(&out), read), (vec![1, 2], 2));
    assert_eq!(decode_in_chunks(JSONL, b"", &[]), (vec![], 0));
    assert_eq!(decode_in_chunks(JSONL, b"\n", &[]), (vec![], 1));
    assert_eq!(decode_in_chunks(JSONL, b"  ", &[]), (vec![], 1));
}

#[test]
fn lines_read_counts_complete_lines_while_streaming() {
    let mut d = Decoder::new(JSONL);
    let mut out = Vec::new();
    d.feed_all(format!("{PAY}\n{PAY}").as_bytes(), &mut out)
        .unwrap();
    assert_eq!((d.lines_read(), out.len()), (1, 1));
    d.feed_all(b"\n\n", &mut out).unwrap();
    assert_eq!((d.lines_read(), out.len()), (3, 2));
    d.finish(&mut out).unwrap();
    assert_eq!(d.lines_read(), 3);
}

#[test]
fn crlf_line_endings_are_accepted() {
    let file = format!("{PAY}\r\n{{\"order_id\":\"A\",\"seq\":0,\"op\":\"pay\"}}\r\n{PAY}\r\n");
    let out = decode(JSONL, file.as_bytes());
    assert_eq!(txn_lines(&out), [1, 3]);
    assert_eq!(refusals(&out), [(2, Some(Field::Seq))]);
    let Parsed::Refused(e) = &out[1] else {
        panic!()
    };
    assert!(!e.text.ends_with('\r'), "{:?}", e.text);
}

#[test]
fn a_bom_at_the_start_is_ignored_but_nowhere_else() {
    let file = format!("\u{feff}{PAY}\n\u{feff}{PAY}\n");
    let out = decode(JSONL, file.as_bytes());
    assert_eq!(txn_lines(&out), [1]);
    assert_eq!(refusals(&out), [(2, None)]);
    assert_eq!(
        decode_in_chunks(JSONL, "\u{feff}".as_bytes(), &[1]),
        (vec![], 0)
    );
    // A start that only looks like a BOM is text.
    let out = decode(JSONL, b"\xEF\xBB");
    assert_eq!(refusals(&out), [(1, None)]);
    assert_eq!(only_refusal(&out).reason, "not valid UTF-8 (byte 1)");
}

#[test]
fn a_bom_after_gzip_decompression_is_ignored() {
    let file = gzip(format!("\u{feff}{PAY}\n").as_bytes());
    let out = decode(gz(JSONL), &file);
    assert_eq!(txn_lines(&out), [1]);
}

#[test]
fn not_utf8_is_refused_as_a_whole_line() {
    let mut file = b"{\"order_id\":\"A\",\"seq\":1,\"op\":\"pay\",\"note\":\"caf\xe9\"}\n".to_vec();
    file.extend_from_slice(PAY.as_bytes());
    let out = decode(JSONL, &file);
    assert_eq!(refusals(&out), [(1, None)]);
    assert_eq!(txn_lines(&out), [2]);
    let Parsed::Refused(e) = &out[0] else {
        panic!()
    };
    assert!(e.reason.contains("UTF-8"), "{}", e.reason);
    assert!(e.text.contains("caf\u{fffd}"), "{}", e.text);
}

#[test]
fn not_json_or_not_an_object_is_refused_with_field_null() {
    let file = lines(&["[1]", "nope", "{\"order_id\":\"A\"", "\"x\"", "{} {}", PAY]);
    let out = decode(JSONL, &file);
    assert_eq!(
        refusals(&out),
        [(1, None), (2, None), (3, None), (4, None), (5, None)]
    );
    assert_eq!(txn_lines(&out), [6]);
}

#[test]
fn the_refusals_of_v5_edges_one_by_one() {
    for (line, field) in [
        (
            r#"{"order_id":"E-1","seq":4,"op":"add","txn_id":"c","amount":"1.23456"}"#,
            Field::Amount,
        ),
        (
            r#"{"order_id":"E-3","seq":"1","op":"create","currency":"EUR"}"#,
            Field::Seq,
        ),
        (
            r#"{"order_id":"E-3","seq":2,"op":"add","txn_id":"t","amount":1e2}"#,
            Field::Amount,
        ),
        (
            r#"{"order_id":"E-3","seq":1,"op":"create","currency":"EUR","at":"yesterday"}"#,
            Field::At,
        ),
        (r#"{"order_id":"E-3","seq":1.0,"op":"pay"}"#, Field::Seq),
        (r#"{"order_id":"E-3","seq":1e0,"op":"pay"}"#, Field::Seq),
        (r#"{"order_id":"E-3","seq":-1,"op":"pay"}"#, Field::Seq),
        (r#"{"order_id":"E-3","seq":0,"op":"pay"}"#, Field::Seq),
        (
            r#"{"order_id":"E-3","seq":9007199254740992,"op":"pay"}"#,
            Field::Seq,
        ),
        (
            r#"{"order_id":"V3-bad","seq":1,"op":"create","currency":"eur"}"#,
            Field::Currency,
        ),
        (
            r#"{"order_id":"A","seq":1,"op":"add","txn_id":"t","amount":"+1"}"#,
            Field::Amount,
        ),
        (
            r#"{"order_id":"A","seq":1,"op":"add","txn_id":"t","amount":" 5"}"#,
            Field::Amount,
        ),
        (
            r#"{"order_id":"A","seq":1,"op":"add","txn_id":"t","amount":"12.50000"}"#,
            Field::Amount,
        ),
        (
            r#"{"order_id":"A","seq":1,"op":"add","txn_id":"t","amount":true}"#,
            Field::Amount,
        ),
        (
            r#"{"order_id":"A","seq":1,"op":"modify","amount":"1"}"#,
            Field::TxnId,
        ),
        (
            r#"{"order_id":"A","seq":1,"op":"add","txn_id":"t"}"#,
            Field::Amount,
        ),
        (r#"{"order_id":"A","seq":1,"op":"create"}"#, Field::Currency),
        (r#"{"order_id":"A","seq":1,"op":"refund"}"#, Field::Op),
        (r#"{"order_id":"A B","seq":1,"op":"pay"}"#, Field::OrderId),
        (r#"{"order_id":7,"seq":1,"op":"pay"}"#, Field::OrderId),
        (r#"{"seq":1,"op":"pay"}"#, Field::OrderId),
        (r#"{"order_id":"A","op":"pay"}"#, Field::Seq),
        (r#"{"order_id":"A","seq":1}"#, Field::Op),
        (r#"{"order_id":"A","seq":1,"op":"pay","at":5}"#, Field::At),
        (
            r#"{"order_id":"A","seq":1,"op":"pay","note":["x"]}"#,
            Field::Note,
        ),
    ] {
        let out = decode(JSONL, line.as_bytes());
        let e = only_refusal(&out);
        assert_eq!((e.line, e.field), (1, Some(field)), "{line}: {e}");
        assert_eq!(e.text, line);
    }
}

#[test]
fn the_accepted_lines_of_v5_edges_one_by_one() {
    let add = |s: &str| decode(JSONL, s.as_bytes());
    let out = add(r#"{"order_id":"E-1","seq":3,"op":"add","txn_id":"b","amount":2.5}"#);
    assert_eq!(
        the_txn(&out).content,
        Content::build(
            Op::Add,
            TxnId::parse("b").ok(),
            Amount::parse("2.50").ok(),
            None
        )
        .unwrap()
    );
    let out = add(r#"{"order_id":"E-2","seq":3,"op":"add","txn_id":"x","amount":-0.5}"#);
    assert_eq!(
        the_txn(&out).content,
        Content::build(
            Op::Add,
            TxnId::parse("x").ok(),
            Amount::parse("-0.5").ok(),
            None
        )
        .unwrap()
    );
    let out = add(
        r#"{"order_id":"E-2","seq":1,"op":"create","currency":"USD","at":"2026-11-24T09:00:00+02:00"}"#,
    );
    assert_eq!(
        the_txn(&out).at.as_deref(),
        Some("2026-11-24T09:00:00+02:00")
    );
    let out = add(r#"{"order_id":"E-4","seq":1,"op":"ship","txn_id":5}"#);
    assert_eq!(the_txn(&out).content, Content::Ship);
    let out =
        add(r#"{"order_id":"E-1","seq":2,"op":"add","txn_id":"a","amount":"12.5","note":"first"}"#);
    assert_eq!(the_txn(&out).note.as_deref(), Some("first"));
}

#[test]
fn unknown_fields_are_ignored_and_null_is_absent() {
    let out = decode(
        JSONL,
        br#"{"order_id":"A","seq":1,"op":"pay","extra":{"deep":[1,null]},"at":null,"note":null,"currency":null}"#,
    );
    let t = the_txn(&out);
    assert_eq!((t.at.as_deref(), t.note.as_deref()), (None, None));
    let out = decode(
        JSONL,
        br#"{"order_id":"A","seq":1,"op":"create","currency":null}"#,
    );
    let e = only_refusal(&out);
    assert_eq!(e.field, Some(Field::Currency));
    assert!(e.reason.contains("required for create"), "{e}");
}

#[test]
fn a_string_that_decodes_to_no_text_is_refused_naming_its_field_when_checked() {
    let out = decode(
        JSONL,
        br#"{"order_id":"A","seq":1,"op":"pay","note":"\ud800"}"#,
    );
    assert_eq!(only_refusal(&out).field, Some(Field::Note));
    let out = decode(
        JSONL,
        br#"{"order_id":"A","seq":1,"op":"pay","txn_id":"\ud800"}"#,
    );
    assert_eq!(the_txn(&out).content, Content::Pay);
}

#[test]
fn a_repeated_key_refuses_the_line_naming_it_when_checked() {
    let out = decode(JSONL, br#"{"order_id":"A","seq":1,"seq":1,"op":"pay"}"#);
    let e = only_refusal(&out);
    assert_eq!(e.field, Some(Field::Seq));
    assert!(e.reason.contains("more than once"), "{e}");
    // A repeated field the op ignores is not checked.
    let out = decode(
        JSONL,
        br#"{"order_id":"A","seq":1,"op":"pay","currency":"EUR","currency":"USD"}"#,
    );
    assert_eq!(the_txn(&out).content, Content::Pay);
    // The first failing field in table order wins over a later repeated one.
    let out = decode(
        JSONL,
        br#"{"note":"a","note":"b","order_id":"","seq":1,"op":"pay"}"#,
    );
    assert_eq!(only_refusal(&out).field, Some(Field::OrderId));
}

mod streaming;
