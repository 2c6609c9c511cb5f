//! CSV records are the same however the input is cut, whatever the lines.

use super::*;

/// Everything a `CsvRecords` makes of `bytes` in chunks of the given sizes (cycled).
fn records_in_chunks(mut records: CsvRecords, bytes: &[u8], sizes: &[usize]) -> Outcome {
    let mut out = Vec::new();
    let mut sizes = sizes.iter().copied().cycle();
    let mut rest = bytes;
    let mut result = Ok(());
    while !rest.is_empty() && result.is_ok() {
        let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        result = records.feed(&rest[..n], &mut out);
        rest = &rest[n..];
    }
    let result = result.and_then(|()| records.finish(&mut out));
    (out, records.newlines(), result.err().map(|e| e.to_string()))
}

/// Lines of CSV of every sort: about as many fields as the headers below have, values
/// valid or not for each column, quotes, `\r`, blanks, non-ASCII, bytes that are not
/// UTF-8, and now and then a `\n` inside a field.
fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
    let atom = prop_oneof![
        3 => Just(&b"A-1"[..]),
        2 => Just(&b"1"[..]),
        1 => Just(&b"0"[..]),
        2 => Just(&b"add"[..]),
        1 => Just(&b"create"[..]),
        2 => Just(&b"pay"[..]),
        1 => Just(&b"t1"[..]),
        1 => Just(&b"12.50"[..]),
        1 => Just(&b"EUR"[..]),
        1 => Just(&b"2026-11-24T09:00:00Z"[..]),
        1 => Just(&b" "[..]),
        1 => Just(&b"\t"[..]),
        1 => Just(&b"\r"[..]),
        1 => Just(&b"\""[..]),
        1 => Just(&b"\n"[..]),
        1 => Just(&b","[..]),
        1 => Just("café ☕".as_bytes()),
        1 => Just("\u{a0}".as_bytes()),
        1 => Just(&b"\xff"[..]),
        1 => Just(&b"\xe2\x82"[..]),
    ];
    let field = proptest::collection::vec(atom, 0..3).prop_map(|atoms| atoms.concat());
    let line = (
        proptest::collection::vec(field, 0..18),
        prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b""[..])],
    )
        .prop_map(|(fields, end)| [fields.join(&b","[..]), end.to_vec()].concat());
    proptest::collection::vec(line, 0..30).prop_map(|lines| lines.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The records are the same however the input is cut, whatever the lines.
    #[test]
    fn the_records_are_the_same_however_the_input_is_cut(
        header in prop_oneof![
            Just(HEADER),
            Just("order_id,seq,op,txn_id,amount,currency,at,note"),
            Just("op,order_id,seq"),
            Just("seq,order_id,op,x,y,z,a,b,c,d,e,f,g,h,i,j"),
            Just("order_id"),
        ],
        crlf: bool,
        body in csv_bytes(),
        sizes in proptest::collection::vec(1usize..200, 1..5),
    ) {
        let mut file = header.as_bytes().to_vec();
        file.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        file.extend_from_slice(&body);
        let whole = records_in_chunks(CsvRecords::new(), &file, &[]);
        let cut = records_in_chunks(CsvRecords::new(), &file, &sizes);
        prop_assert_eq!(&cut, &whole);
    }
}
