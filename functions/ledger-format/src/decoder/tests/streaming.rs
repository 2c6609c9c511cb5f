//! The decoder end to end over streams: line limits, bounded memory, gzip, and any
//! chunking giving the same output.

use super::*;

/// A valid JSON line of exactly `len` bytes.
fn line_of(len: usize) -> String {
    let head = r#"{"order_id":"A","seq":1,"op":"pay","pad":""#;
    format!("{head}{}\"}}", "x".repeat(len - head.len() - 2))
}

#[test]
fn a_line_of_256_kib_is_fine_and_one_byte_more_is_refused() {
    let ok = line_of(MAX_LINE_BYTES);
    let long = line_of(MAX_LINE_BYTES + 1);
    for sizes in [&[][..], &[1000], &[MAX_LINE_BYTES - 1, 1, 1, 1]] {
        let file = format!("{ok}\n{ok}\r\n{long}\n{ok}");
        let (out, read) = decode_in_chunks(JSONL, file.as_bytes(), sizes);
        assert_eq!(txn_lines(&out), [1, 2, 4], "{sizes:?}");
        assert_eq!(refusals(&out), [(3, None)]);
        assert_eq!(read, 4);
        let Parsed::Refused(e) = &out[2] else {
            panic!()
        };
        assert!(e.reason.contains("longer than 262144 bytes"), "{e}");
        assert_eq!(e.text, long[..1024]);
    }
}

#[test]
fn a_very_long_line_in_the_middle_keeps_later_lines_right() {
    let huge = format!("{{\"note\":\"{}\"}}", "é".repeat(3 * MAX_LINE_BYTES));
    let file = format!("{PAY}\n{huge}\n\n{PAY}\n{huge}");
    for sizes in [&[][..], &[7], &[65536], &[MAX_LINE_BYTES + 3]] {
        let (out, read) = decode_in_chunks(JSONL, file.as_bytes(), sizes);
        assert_eq!(txn_lines(&out), [1, 4], "{sizes:?}");
        assert_eq!(refusals(&out), [(2, None), (5, None)]);
        assert_eq!(read, 5);
        let Parsed::Refused(e) = &out[1] else {
            panic!()
        };
        assert_eq!(e.text, huge[..1023], "cut on a char boundary");
    }
}

#[test]
fn memory_stays_bounded_whatever_the_line_length() {
    let limit = MAX_LINE_BYTES + 64 * 1024;
    for kind in [JSONL, CSV] {
        let mut d = Decoder::new(kind);
        let mut out = Vec::new();
        d.feed_all(b"order_id,seq,op\n", &mut out).unwrap();
        for chunk in 0..200 {
            // 12.8 MB on one line, in 64 KiB chunks; a quote keeps CSV inside one field.
            let piece = if chunk == 0 {
                b"\"".to_vec()
            } else {
                b"a".repeat(64 * 1024)
            };
            d.feed_all(&piece, &mut out).unwrap();
            assert!(
                d.buffered() <= limit,
                "{kind:?}: {} bytes held",
                d.buffered()
            );
        }
        d.feed_all(b"\"\n", &mut out).unwrap();
        d.finish(&mut out).unwrap();
        assert_eq!(refusals(&out).last(), Some(&(2, None)), "{kind:?}");
    }
}

#[test]
fn gzip_that_inflates_enormously_is_decoded_in_bounded_memory() {
    let text = [
        b"a".repeat(8 << 20),
        b"\n".to_vec(),
        PAY.as_bytes().to_vec(),
    ]
    .concat();
    let zipped = gzip(&text);
    assert!(zipped.len() < 100_000);
    let mut d = Decoder::new(gz(JSONL));
    let mut out = Vec::new();
    d.feed_all(&zipped, &mut out).unwrap();
    assert!(
        d.buffered() <= MAX_LINE_BYTES + 128 * 1024,
        "{}",
        d.buffered()
    );
    d.finish(&mut out).unwrap();
    assert_eq!(refusals(&out), [(1, None)]);
    assert_eq!(txn_lines(&out), [2]);
}

#[test]
fn one_feed_yields_a_bounded_step_whatever_the_chunk_or_the_compression() {
    // 200,000 refused lines: 400 KB as one plain chunk, or about 4 KB of gzip.
    let text = b"x\n".repeat(200_000);
    let zipped = gzip(&text);
    assert!(zipped.len() < text.len() / 64, "{}", zipped.len());
    for (kind, input) in [(JSONL, &text), (gz(JSONL), &zipped)] {
        let mut d = Decoder::new(kind);
        let mut out = Vec::new();
        let (mut rest, mut refused, mut calls) = (&input[..], 0, 0);
        while !rest.is_empty() {
            rest = &rest[d.feed(rest, &mut out).unwrap()..];
            calls += 1;
            // A refused line is at least two bytes of text.
            assert!(
                out.len() <= MAX_STEP_BYTES / 2,
                "{kind:?}: {} at once",
                out.len()
            );
            refused += out.len();
            out.clear();
        }
        d.finish(&mut out).unwrap();
        assert!(
            out.len() <= MAX_STEP_BYTES / 2,
            "{kind:?}: {} at the end",
            out.len()
        );
        refused += out.len();
        assert_eq!((refused, d.lines_read()), (200_000, 200_000), "{kind:?}");
        assert!(
            calls >= text.len() / MAX_STEP_BYTES,
            "{kind:?}: {calls} calls"
        );
    }
}

#[test]
fn gzip_with_several_members_is_read_whole_even_mid_line() {
    let text = format!("{PAY}\n{PAY}\n{PAY}");
    let (a, b) = text.as_bytes().split_at(50);
    let mut file = gzip(a);
    file.extend(gzip(b""));
    file.extend(gzip(b));
    for sizes in [&[][..], &[1], &[3, 17]] {
        let (out, read) = decode_in_chunks(gz(JSONL), &file, sizes);
        assert_eq!(txn_lines(&out), [1, 2, 3]);
        assert_eq!(read, 3);
    }
}

#[test]
fn gzip_of_many_lines_decodes_like_the_plain_text() {
    let text: String = (1..=20_000)
        .map(|i| {
            format!(
                "{{\"order_id\":\"O-{}\",\"seq\":{i},\"op\":\"pay\"}}\n",
                i % 97
            )
        })
        .collect();
    let plain = decode(JSONL, text.as_bytes());
    assert_eq!(plain.len(), 20_000);
    let (zipped, read) = decode_in_chunks(gz(JSONL), &gzip(text.as_bytes()), &[4096]);
    assert_eq!(zipped, plain);
    assert_eq!(read, 20_000);
}

#[test]
fn corrupt_or_truncated_gzip_fails_the_whole_file() {
    let good = gzip(format!("{PAY}\n{PAY}\n").as_bytes());
    let mut d = Decoder::new(gz(JSONL));
    let mut out = Vec::new();
    let e = d.feed_all(b"this is not gzip", &mut out).unwrap_err();
    assert!(matches!(e, DecodeError::Gzip { .. }), "{e}");
    assert!(std::error::Error::source(&e).is_some());
    assert!(matches!(
        d.feed_all(&good, &mut out),
        Err(DecodeError::Closed("failed"))
    ));

    let mut d = Decoder::new(gz(JSONL));
    d.feed_all(&good[..good.len() - 4], &mut out).unwrap();
    assert!(matches!(d.finish(&mut out), Err(DecodeError::Gzip { .. })));

    let mut bad = good.clone();
    bad.extend_from_slice(b"garbage after the member");
    let mut d = Decoder::new(gz(JSONL));
    let e = d.feed_all(&bad, &mut out).and_then(|()| d.finish(&mut out));
    assert!(matches!(e, Err(DecodeError::Gzip { .. })));

    let mut flipped = good.clone();
    let at = flipped.len() - 6; // inside the CRC-32 / size trailer
    flipped[at] ^= 0xff;
    let mut d = Decoder::new(gz(JSONL));
    let e = d
        .feed_all(&flipped, &mut out)
        .and_then(|()| d.finish(&mut out));
    assert!(matches!(e, Err(DecodeError::Gzip { .. })));
}

#[test]
fn an_empty_gzip_object_is_an_empty_ledger() {
    assert_eq!(decode_in_chunks(gz(JSONL), b"", &[]), (vec![], 0));
}

#[test]
fn nothing_after_finish() {
    let mut d = Decoder::new(JSONL);
    let mut out = Vec::new();
    d.finish(&mut out).unwrap();
    assert!(matches!(
        d.feed_all(b"x", &mut out),
        Err(DecodeError::Closed("finished"))
    ));
    assert!(matches!(
        d.finish(&mut out),
        Err(DecodeError::Closed("finished"))
    ));
}

#[test]
fn the_decoder_can_cross_await_points() {
    fn is_send<T: Send>() {}
    is_send::<Decoder>();
    is_send::<Parsed>();
    is_send::<DecodeError>();
}

/// Pieces to build ledgers from: valid, refused, blank, multi-line, odd bytes.
const JSONL_PIECES: &[&str] = &[
    r#"{"order_id":"A-1","seq":1,"op":"create","currency":"EUR","at":"2026-11-24T09:00:00Z"}"#,
    r#"{"order_id":"A-1","seq":2,"op":"add","txn_id":"t1","amount":"12.50","note":"say \"hi\"\n"}"#,
    r#"{"order_id":"A-1","seq":3,"op":"add","txn_id":"t2","amount":1e2}"#,
    r#"{"order_id":"B","seq":"1","op":"pay"}"#,
    r#"{"order_id":"é","seq":1,"op":"pay","note":"café ☕"}"#,
    "",
    "   ",
    "\r",
    "not json",
    "\u{feff}{}",
    "\u{1F600}",
];

const CSV_PIECES: &[&str] = &[
    "A-1,1,create,,,EUR,",
    "A-1,2,add,t1,12.50,,\"rush, gift wrap\"",
    "A-1,3,add,t2,1.5,,\"line1\nline2 \"\"quoted\"\"\r\nline3\"",
    "B,\"1\",pay,,,,",
    "B,1.0,pay,,,,",
    "B,2,ship,,,",
    ",,,,,,",
    "",
    "  ",
    "\r",
    "é,1,pay,,,,café ☕",
    "C,1,add,\"t\n\n\",\"-0.5\",,",
];

fn assemble(
    pieces: &[&str],
    picks: &[(usize, bool)],
    bom: bool,
    trailing_newline: bool,
) -> Vec<u8> {
    let mut file = Vec::new();
    if bom {
        file.extend_from_slice("\u{feff}".as_bytes());
    }
    for (i, &(pick, crlf)) in picks.iter().enumerate() {
        file.extend_from_slice(pieces[pick % pieces.len()].as_bytes());
        if i + 1 < picks.len() || trailing_newline {
            file.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
    }
    file
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Chunk boundaries fall anywhere (inside a BOM, a `\r\n`, a UTF-8 character,
    /// a quoted CSV field, a gzip header): the output is always the same.
    #[test]
    fn any_chunking_gives_the_same_output(
        picks in proptest::collection::vec((0usize..64, any::<bool>()), 0..40),
        bom: bool,
        trailing_newline: bool,
        csv: bool,
        sizes in proptest::collection::vec(1usize..40, 1..8),
        invalid_utf8_at in proptest::option::of(0usize..4000),
    ) {
        let (kind, pieces, header) = if csv {
            (CSV, CSV_PIECES, "order_id,seq,op,txn_id,amount,currency,note\n")
        } else {
            (JSONL, JSONL_PIECES, "")
        };
        let mut file = assemble(pieces, &picks, bom, trailing_newline);
        if csv {
            let at = if bom { 3 } else { 0 };
            file.splice(at..at, header.bytes());
        }
        if let Some(at) = invalid_utf8_at {
            let at = at % (file.len() + 1);
            file.insert(at, 0xff);
        }
        let whole = try_decode_in_chunks(kind, &file, &[]);
        let chunked = try_decode_in_chunks(kind, &file, &sizes);
        prop_assert_eq!(&chunked, &whole);
        let zipped = try_decode_in_chunks(gz(kind), &gzip(&file), &sizes);
        prop_assert_eq!(&zipped, &whole);
        if let Some(error) = &whole.2 {
            // Only a broken CSV header fails the whole file.
            prop_assert!(csv && error.contains("CSV header"), "{}", error);
            return Ok(());
        }
        // Lines are in order, and every line is counted.
        let numbers: Vec<u64> = whole.0.iter().map(Parsed::line).collect();
        prop_assert!(numbers.windows(2).all(|w| w[0] < w[1]));
        let newlines = file.iter().filter(|&&b| b == b'\n').count() as u64;
        let ends_mid_line = file.last().is_some_and(|&b| b != b'\n')
            && file != "\u{feff}".as_bytes();
        prop_assert_eq!(whole.1, newlines + u64::from(ends_mid_line));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// A line over the limit anywhere, cut anywhere: refused at its own line, and the
    /// lines after it keep their numbers.
    #[test]
    fn a_too_long_line_anywhere_with_any_chunking(
        before in 0usize..5,
        after in 0usize..5,
        csv: bool,
        crlf: bool,
        extra in 1usize..3000,
        sizes in proptest::collection::vec(prop_oneof![1usize..50, 1000usize..70_000], 1..6),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let (kind, head, row, long) = if csv {
            let long = format!("L,1,pay,,,,\"{}\n{}\"", "x".repeat(MAX_LINE_BYTES / 2), "y".repeat(MAX_LINE_BYTES / 2 + extra));
            (CSV, format!("order_id,seq,op,txn_id,amount,currency,note{eol}"), "A,1,pay,,,,".to_owned(), long)
        } else {
            (JSONL, String::new(), PAY.to_owned(), format!("{{\"note\":\"{}\"}}", "é".repeat(MAX_LINE_BYTES / 2 + extra)))
        };
        let first = 1 + u64::from(csv);
        let mut file = head;
        for _ in 0..before {
            file.push_str(&row);
            file.push_str(eol);
        }
        file.push_str(&long);
        for _ in 0..after {
            file.push_str(eol);
            file.push_str(&row);
        }
        let whole = decode_in_chunks(kind, file.as_bytes(), &[]);
        let chunked = decode_in_chunks(kind, file.as_bytes(), &sizes);
        prop_assert_eq!(&chunked, &whole);
        let long_line = first + before as u64;
        let long_lines = 1 + u64::from(csv); // the CSV record holds a newline
        prop_assert_eq!(refusals(&whole.0), vec![(long_line, None)]);
        let expected: Vec<u64> = (first..long_line)
            .chain((0..after as u64).map(|i| long_line + long_lines + i))
            .collect();
        prop_assert_eq!(txn_lines(&whole.0), expected);
    }
}

/// Decodes `file` in chunks of `sizes`, stopping after each count of feeds in `stops`:
/// there the output so far must be exactly the lines up to [`Decoder::settled`], and a
/// decoder resumed from it goes on, fed from its input offset. Returns all the output.
fn decode_with_stops(
    kind: LedgerKind,
    file: &[u8],
    sizes: &[usize],
    stops: &[usize],
    whole: &[Parsed],
) -> Result<(Vec<Parsed>, u64), TestCaseError> {
    let mut decoder = Decoder::new(kind);
    let mut out = Vec::new();
    let mut stops = stops.iter().copied();
    let mut next_stop = stops.next();
    let mut feeds = 0;
    let mut rest = file;
    let mut sizes = sizes.iter().copied().cycle();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        let mut chunk = &rest[..n];
        rest = &rest[n..];
        while !chunk.is_empty() {
            let taken = decoder.feed(chunk, &mut out).unwrap();
            chunk = &chunk[taken..];
            feeds += 1;
            if next_stop.is_some_and(|stop| feeds >= stop) {
                next_stop = stops.next();
                let settled = decoder.settled();
                let expected: Vec<&Parsed> =
                    whole.iter().filter(|p| p.line() <= settled.line).collect();
                prop_assert_eq!(out.iter().collect::<Vec<_>>(), expected, "at {:?}", settled);
                if settled.offset.is_some() {
                    prop_assert!(!kind.gzip && kind.format == Format::JsonLines);
                }
                decoder = Decoder::resume(kind, settled);
                let from = usize::try_from(decoder.input_offset()).unwrap();
                prop_assert!(from <= file.len());
                rest = &file[from..];
                chunk = &[];
            }
        }
    }
    decoder.finish(&mut out).unwrap();
    Ok((out, decoder.lines_read()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A ledger stopped anywhere, any number of times, and resumed from where it was
    /// settled (from the offset, or from the start skipping what was done) gives exactly
    /// the output of one pass: nothing skipped, nothing twice.
    #[test]
    fn resuming_where_it_settled_gives_exactly_the_rest(
        picks in proptest::collection::vec((0usize..64, any::<bool>()), 0..40),
        bom: bool,
        trailing_newline: bool,
        csv: bool,
        zipped: bool,
        sizes in proptest::collection::vec(1usize..40, 1..8),
        stops in proptest::collection::vec(1usize..30, 0..4),
    ) {
        let (kind, pieces) = if csv { (CSV, CSV_PIECES) } else { (JSONL, JSONL_PIECES) };
        let mut file = assemble(pieces, &picks, bom, trailing_newline);
        if csv {
            let at = if bom { 3 } else { 0 };
            file.splice(at..at, "order_id,seq,op,txn_id,amount,currency,note\n".bytes());
        }
        let whole = try_decode_in_chunks(kind, &file, &[]);
        prop_assume!(whole.2.is_none());
        let (kind, file) = if zipped { (gz(kind), gzip(&file)) } else { (kind, file) };
        // Stops count feeds from the last one (a resumed run starts again at 0).
        let stops: Vec<usize> = stops.iter().scan(0, |at, s| { *at += s; Some(*at) }).collect();
        let (out, read) = decode_with_stops(kind, &file, &sizes, &stops, &whole.0)?;
        prop_assert_eq!(out, whole.0);
        prop_assert_eq!(read, whole.1);
    }
}

/// A stop inside the BOM (found by the property test above: a ledger of a BOM alone, fed a
/// byte at a time, stopped after the first): nothing is settled, so the resumed decoder
/// starts at offset 0 and must drop the BOM as a fresh one does, not read it as a line.
#[test]
fn a_stop_inside_the_bom_resumes_as_a_fresh_start() {
    for file in [
        &b"\xEF\xBB\xBF"[..],
        b"\xEF\xBB\xBF\n",
        b"\xEF\xBB\xBF{\"x\":1}\n",
    ] {
        let whole = try_decode_in_chunks(JSONL, file, &[]);
        for fed in 1..3 {
            let mut decoder = Decoder::new(JSONL);
            let mut out = Vec::new();
            assert_eq!(decoder.feed(&file[..fed], &mut out).unwrap(), fed);
            let settled = decoder.settled();
            let mut resumed = Decoder::resume(JSONL, settled);
            let from = usize::try_from(resumed.input_offset()).unwrap();
            assert_eq!(from, 0, "{settled:?}");
            let mut rest = &file[from..];
            while !rest.is_empty() {
                let took = resumed.feed(rest, &mut out).unwrap();
                rest = &rest[took..];
            }
            resumed.finish(&mut out).unwrap();
            assert_eq!(out, whole.0, "{file:?} stopped after {fed} bytes");
        }
    }
}
