//! CSV ledgers through the decoder: columns, quotes, line numbers, limits.

use super::super::testing::{
    decode, decode_in_chunks, only_refusal, refusals, try_decode_in_chunks, txn_lines, Outcome, CSV,
};
use super::*;
use convoy_core::field::Field;
use convoy_core::transaction::Content;
use proptest::prelude::*;

const HEADER: &str = "order_id,seq,op,txn_id,amount,currency,note";

fn csv(rows: &[&str]) -> Vec<u8> {
    rows.join("\n").into_bytes()
}

fn txns(out: &[Parsed]) -> Vec<&convoy_core::Transaction> {
    out.iter()
        .filter_map(|p| match p {
            Parsed::Txn { txn, .. } => Some(txn),
            Parsed::Refused(_) => None,
        })
        .collect()
}

#[test]
fn any_column_order_and_unknown_columns_are_ignored() {
    let out = decode(
        CSV,
        &csv(&[
            "extra,currency,op,seq,order_id,also",
            "x,EUR,create,1,A,y",
            ",,pay,2,A,",
        ]),
    );
    assert_eq!(txn_lines(&out), [2, 3]);
    let t = txns(&out);
    assert_eq!(
        t[0].content,
        Content::build(
            convoy_core::Op::Create,
            None,
            None,
            convoy_core::Currency::parse("EUR").ok()
        )
        .unwrap()
    );
    assert_eq!(t[1].content, Content::Pay);
}

#[test]
fn quoted_fields_hold_commas_quotes_and_newlines_and_lines_stay_physical() {
    let file = csv(&[
        HEADER,
        "A,1,create,,,EUR,\"a, b\"",
        "A,2,add,t1,1.5,,\"say \"\"hi\"\"\nsecond line\n\nfourth line\"",
        "A,3,pay,,,,",
        "\"A\",\"4\",\"ship\",,,,\"\"\"\"",
        "A,5,complete,,,,\"\r\n\"",
        "A,6,delete,,,,",
    ]);
    let (out, read) = decode_in_chunks(CSV, &file, &[]);
    assert!(refusals(&out).is_empty(), "{out:#?}");
    assert_eq!(txn_lines(&out), [2, 3, 7, 8, 9, 11]);
    assert_eq!(read, 11);
    let t = txns(&out);
    assert_eq!(t[0].note.as_deref(), Some("a, b"));
    assert_eq!(
        t[1].note.as_deref(),
        Some("say \"hi\"\nsecond line\n\nfourth line")
    );
    assert_eq!(t[3].note.as_deref(), Some("\""));
    assert_eq!(
        t[4].note.as_deref(),
        Some("\r\n"),
        "a \\r\\n inside quotes is kept"
    );
}

#[test]
fn crlf_endings_are_taken_off_the_last_field_even_when_quoted() {
    let file = format!("{HEADER}\r\nA,1,create,,,EUR,\"n\"\r\nA,2,pay,,,,x\r\nA,3,pay,,,,\"\"\r\n");
    let out = decode(CSV, file.as_bytes());
    assert!(refusals(&out).is_empty(), "{out:#?}");
    let t = txns(&out);
    assert_eq!(t[0].note.as_deref(), Some("n"));
    assert_eq!(t[1].note.as_deref(), Some("x"));
    assert_eq!(t[2].note, None);
    // The last column is the currency: its `\r` must go for it to be valid.
    let out = decode(
        CSV,
        b"order_id,seq,op,currency\r\nA,1,create,EUR\r\nB,1,create,\"USD\"\r\n",
    );
    assert_eq!(txn_lines(&out), [2, 3]);
}

#[test]
fn values_are_taken_as_written() {
    for (row, field) in [
        ("A,1,add,t, 5,,", Field::Amount),
        ("A,1,add,t,5 ,,", Field::Amount),
        ("A,1,add,t,+5,,", Field::Amount),
        ("A,1,create,,,EUR ,", Field::Currency),
        ("A, 1,pay,,,,", Field::Seq),
        ("A,1.0,pay,,,,", Field::Seq),
        ("A,-1,pay,,,,", Field::Seq),
        ("A,1e0,pay,,,,", Field::Seq),
        ("A,0,pay,,,,", Field::Seq),
        ("A ,1,pay,,,,", Field::OrderId),
        ("A,1, pay,,,,", Field::Op),
    ] {
        let out = decode(CSV, &csv(&[HEADER, row]));
        let e = only_refusal(&out);
        assert_eq!((e.line, e.field), (2, Some(field)), "{row}: {e}");
        assert_eq!(e.text, row);
    }
    let out = decode(CSV, &csv(&[HEADER, "A,007,add, t ,-0.5,,  "]));
    let t = txns(&out);
    assert_eq!(t[0].seq.get(), 7);
    assert_eq!(t[0].note.as_deref(), Some("  "));
    assert!(matches!(&t[0].content, Content::Add { txn_id, .. } if txn_id.as_str() == " t "));
}

#[test]
fn an_empty_field_is_absent() {
    let out = decode(
        CSV,
        &csv(&[HEADER, "A,1,create,,,,", "A,1,add,\"\",1,,", "A,1,pay,,,,"]),
    );
    assert_eq!(
        refusals(&out),
        [(2, Some(Field::Currency)), (3, Some(Field::TxnId))]
    );
    assert!(only_refusal(&out[..1])
        .reason
        .contains("required for create"));
    assert_eq!(txns(&out)[0].note, None);
}

#[test]
fn a_row_with_another_number_of_fields_is_refused_as_a_whole() {
    let out = decode(
        CSV,
        &csv(&[
            HEADER,
            "A,1,pay,,,",
            "A,1,pay,,,,,",
            "A,1,pay,,,,",
            "A,1,pay,,,,,,,,,,,,,,,,,,,,,,,,,x",
            "A",
        ]),
    );
    assert_eq!(refusals(&out), [(2, None), (3, None), (5, None), (6, None)]);
    assert_eq!(txn_lines(&out), [4]);
    let Parsed::Refused(e) = &out[0] else {
        panic!()
    };
    assert_eq!(e.reason, "has 6 fields but the header has 7");
    let Parsed::Refused(e) = &out[3] else {
        panic!()
    };
    assert_eq!(e.reason, "has more than 7 fields but the header has 7");
}

#[test]
fn blank_lines_and_records_of_empty_fields_are_skipped() {
    let file = csv(&[
        "",
        "  ",
        HEADER,
        "",
        ",,,,,,",
        "\"\",,\"\"",
        " \t ",
        "A,1,pay,,,,",
        ",,",
        "A,2,ship,,,,",
    ]);
    let (out, read) = decode_in_chunks(CSV, &file, &[]);
    assert!(refusals(&out).is_empty(), "{out:#?}");
    assert_eq!(txn_lines(&out), [8, 10]);
    assert_eq!(read, 10);
    let file = format!("{HEADER}\r\n\r\n,,,,,,\r\nA,1,pay,,,,\r\n");
    assert_eq!(txn_lines(&decode(CSV, file.as_bytes())), [4]);
}

#[test]
fn a_header_without_a_column_refuses_only_the_rows_that_need_it() {
    let out = decode(
        CSV,
        &csv(&[
            "op,seq,order_id,currency",
            "create,1,A,EUR",
            "add,2,A,",
            "pay,3,A,",
        ]),
    );
    assert_eq!(txn_lines(&out), [2, 4]);
    let e = only_refusal(&out[1..2]);
    assert_eq!(e.field, Some(Field::TxnId));
    assert!(e.reason.contains("header has no txn_id column"), "{e}");
    let out = decode(CSV, &csv(&["seq,op", "1,pay"]));
    assert_eq!(refusals(&out), [(2, Some(Field::OrderId))]);
}

#[test]
fn a_repeated_column_refuses_the_rows_that_use_it() {
    let out = decode(
        CSV,
        &csv(&[
            "order_id,seq,op,amount,txn_id,amount",
            "A,1,pay,1,t,2",
            "A,2,add,1,t,1",
        ]),
    );
    assert_eq!(txn_lines(&out), [2]);
    let e = only_refusal(&out[1..]);
    assert_eq!((e.line, e.field), (3, Some(Field::Amount)));
    assert!(e.reason.contains("more than once"), "{e}");
}

#[test]
fn names_in_the_header_are_exact() {
    let out = decode(CSV, &csv(&["Order_ID,seq,op", "A,1,pay"]));
    assert_eq!(refusals(&out), [(2, Some(Field::OrderId))]);
    let out = decode(CSV, &csv(&["order_id, seq,op", "A,1,pay"]));
    assert_eq!(refusals(&out), [(2, Some(Field::Seq))]);
}

#[test]
fn a_header_that_cannot_be_read_fails_the_whole_file() {
    let long = format!("order_id,seq,op,{}", "x".repeat(MAX_LINE_BYTES));
    let (out, _, error) = try_decode_in_chunks(CSV, csv(&[&long, "A,1,pay"]).as_slice(), &[]);
    assert!(out.is_empty());
    assert_eq!(
        error.as_deref(),
        Some("line 1: CSV header longer than 262144 bytes (256 KiB)")
    );
    let (_, _, error) = try_decode_in_chunks(CSV, b"\n\norder_id,seq,op,n\xffote\nA,1,pay,", &[]);
    assert_eq!(
        error.as_deref(),
        Some("line 3: CSV header not valid UTF-8 (byte 18)")
    );
}

#[test]
fn a_header_of_too_many_columns_fails_the_whole_file() {
    let wide = |n: usize| {
        let mut header = "order_id,seq,op".to_owned();
        for i in 3..n {
            header.push_str(&format!(",c{i}"));
        }
        format!("{header}\nA,1,pay{}", ",".repeat(n - 3))
    };
    let (out, _, error) = try_decode_in_chunks(CSV, wide(MAX_COLUMNS).as_bytes(), &[]);
    assert_eq!((txn_lines(&out), error), (vec![2], None));
    let header_only = wide(MAX_COLUMNS)
        .split('\n')
        .next()
        .unwrap_or("")
        .to_owned();
    let (_, _, error) = try_decode_in_chunks(CSV, header_only.as_bytes(), &[]);
    assert_eq!(error, None);
    let (_, _, error) = try_decode_in_chunks(CSV, wide(MAX_COLUMNS + 1).as_bytes(), &[]);
    assert_eq!(
        error.as_deref(),
        Some("line 1: CSV header has more than 4096 columns")
    );
}

#[test]
fn a_header_alone_or_nothing_is_an_empty_ledger() {
    assert_eq!(decode_in_chunks(CSV, HEADER.as_bytes(), &[]), (vec![], 1));
    assert_eq!(decode_in_chunks(CSV, b"", &[]), (vec![], 0));
    assert_eq!(decode_in_chunks(CSV, b"\n\n", &[]), (vec![], 2));
}

#[test]
fn not_utf8_is_refused_as_a_whole_record() {
    let out = decode(
        CSV,
        b"order_id,seq,op,note\nA,1,pay,caf\xe9\nA,2,pay,\"\xff\n\"\nA,3,pay,",
    );
    assert_eq!(refusals(&out), [(2, None), (3, None)]);
    assert_eq!(txn_lines(&out), [5]);
    let Parsed::Refused(e) = &out[0] else {
        panic!()
    };
    assert_eq!(e.text, "A,1,pay,caf\u{fffd}");
}

#[test]
fn too_long_records_are_refused_and_the_next_ones_keep_their_lines() {
    let long_field = "y".repeat(MAX_LINE_BYTES);
    let quoted = format!(
        "A,2,pay,,,,\"{}\n{}\"",
        "q".repeat(MAX_LINE_BYTES / 2),
        "r".repeat(MAX_LINE_BYTES / 2)
    );
    let file = csv(&[
        HEADER,
        "A,1,pay,,,,",
        &format!("A,9,pay,,,,{long_field}"),
        "A,3,pay,,,,",
        &quoted,
        "A,4,pay,,,,",
        &",".repeat(MAX_LINE_BYTES + 1),
        "A,5,pay,,,,",
    ]);
    for sizes in [&[][..], &[4093], &[1, 2, 3]] {
        let (out, read) = decode_in_chunks(CSV, &file, sizes);
        assert_eq!(txn_lines(&out), [2, 4, 7, 9], "{sizes:?}");
        assert_eq!(refusals(&out), [(3, None), (5, None), (8, None)]);
        assert_eq!(read, 9);
        let Parsed::Refused(e) = &out[1] else {
            panic!()
        };
        assert!(e.reason.starts_with("longer than"), "{e}");
        assert_eq!(e.text.len(), 1024);
    }
    // Exactly the limit is fine, with quotes and a \r\n ending.
    let pad = format!("\"{}\"", "n".repeat(MAX_LINE_BYTES - "A,1,pay,".len() - 2));
    let row = format!("A,1,pay,{pad}");
    assert_eq!(row.len(), MAX_LINE_BYTES);
    let file = format!("order_id,seq,op,pad\r\n{row}\r\n{row}x\r\n");
    let out = decode(CSV, file.as_bytes());
    assert_eq!(txn_lines(&out), [2]);
    assert_eq!(refusals(&out), [(3, None)]);
}

#[test]
fn a_quote_never_closed_is_refused_at_the_end_of_the_file() {
    let out = decode(
        CSV,
        &csv(&[HEADER, "A,1,pay,,,,", "A,2,pay,,,,\"open", "A,3,pay,,,,"]),
    );
    assert_eq!(txn_lines(&out), [2]);
    let e = only_refusal(&out[1..]);
    assert_eq!((e.line, e.field), (3, None));
    assert!(e.reason.contains("never closed"), "{e}");
}

#[test]
fn a_bom_before_the_header_is_ignored() {
    let file = format!("\u{feff}{HEADER}\nA,1,pay,,,,\n");
    assert_eq!(txn_lines(&decode(CSV, file.as_bytes())), [2]);
    // csv-core drops a second one: the columns must still line up.
    let file = format!("\u{feff}\u{feff}{HEADER}\nA,1,pay,,,,\n");
    assert_eq!(txn_lines(&decode(CSV, file.as_bytes())), [2]);
}

mod chunking;
