//! CSV ledgers (RFC 4180, header row) record by record, with `csv-core` doing the parsing.
//!
//! Records are found by `csv-core` over the raw byte stream, so a quoted field may hold
//! commas, quotes and newlines, and a record is numbered by the physical line it starts
//! on. Lines are split on `\n` only: the `\r` of a `\r\n` ending is taken off the last
//! field, while a `\r\n` inside a quoted field is kept as written.
//!
//! Speed: most records are one line without quotes, as many fields as the header. Such a
//! line skips `csv-core` (`CsvRecords::quote_free_lines`): its commas are found 8 bytes at a
//! time and its fields are cut out of the input where they are, which is what `csv-core`
//! would make of it (a property test checks the two agree on lines of every sort).

mod spanning;

use super::decoder::{is_blank, too_long, Parsed};
use super::error::{DecodeError, LineError};
use super::fields::{push_parsed, Source, Value};
use super::utf8::Utf8Window;
use super::MAX_LINE_BYTES;
use crate::field::Field;
use csv_core::{ReadRecordResult, Reader, ReaderBuilder, Terminator};
use spanning::Spanning;

/// A record's field bytes are at most its length: the line limit (plus a `\r`).
const FIELDS_LIMIT: usize = MAX_LINE_BYTES + 1;

/// The most columns a header may have (so that reading one stays within bounded memory).
pub(crate) const MAX_COLUMNS: usize = 4096;

/// The records of a CSV ledger: the first non-blank record is the header.
pub(crate) struct CsvRecords {
    reader: Reader,
    /// `\n` bytes consumed so far: the number of complete physical lines.
    newlines: u64,
    /// Whether a record has started (its first byte is consumed).
    in_record: bool,
    /// The physical line the current record starts on.
    start_line: u64,
    /// What is kept of the current record when it spans reads.
    spanning: Spanning,
    /// The current record's unquoted field bytes, back to back, and where each field ends.
    fields: Vec<u8>,
    fields_len: usize,
    /// The field bytes did not fit (the record is over-long); they were dropped.
    fields_dropped: bool,
    ends: Vec<usize>,
    ends_len: usize,
    /// More fields than the header has: their ends were dropped.
    too_many_fields: bool,
    header: Option<Header>,
    /// Whether quote-free lines may skip `csv-core` (off only to test that path against it).
    fast: bool,
}

/// The header: how many columns, and where each known field is.
struct Header {
    columns: usize,
    slots: [Slot; 8],
}

/// Where a known field is in a row.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    Column(usize),
    NoColumn,
    Repeated,
}

impl CsvRecords {
    pub(crate) fn new() -> Self {
        Self {
            reader: ReaderBuilder::new()
                .terminator(Terminator::Any(b'\n'))
                .build(),
            newlines: 0,
            in_record: false,
            start_line: 0,
            spanning: Spanning::default(),
            fields: vec![0; 4096],
            fields_len: 0,
            fields_dropped: false,
            ends: vec![0; 16],
            ends_len: 0,
            too_many_fields: false,
            header: None,
            fast: true,
        }
    }

    /// Records read by `csv-core` alone, to check the fast path against.
    #[cfg(test)]
    fn without_fast_path() -> Self {
        Self {
            fast: false,
            ..Self::new()
        }
    }

    pub(crate) fn newlines(&self) -> u64 {
        self.newlines
    }

    pub(crate) fn feed(&mut self, input: &[u8], out: &mut Vec<Parsed>) -> Result<(), DecodeError> {
        let mut utf8 = Utf8Window::new(input);
        let mut pos = 0;
        while pos < input.len() {
            if !self.in_record {
                // Empty lines between records: csv-core would drop them too.
                let empty = input[pos..].iter().take_while(|&&b| b == b'\n').count();
                self.newlines += empty as u64;
                pos += empty;
                if pos == input.len() {
                    break;
                }
                let taken = self.quote_free_lines(input, pos, &mut utf8, out);
                if taken > pos {
                    pos = taken;
                    continue;
                }
                self.in_record = true;
                self.start_line = self.newlines + 1;
            }
            let lines_before = self.reader.line();
            let (result, nin, nout, nend) = self.reader.read_record(
                &input[pos..],
                &mut self.fields[self.fields_len..],
                &mut self.ends[self.ends_len..],
            );
            self.newlines += self.reader.line() - lines_before;
            self.fields_len += nout;
            self.ends_len += nend;
            let consumed = &input[pos..pos + nin];
            if nin == 0 && matches!(result, ReadRecordResult::InputEmpty | ReadRecordResult::End) {
                break; // cannot happen with input left; never spin
            }
            match result {
                ReadRecordResult::Record if self.spanning.is_empty() => {
                    // The whole record is in this input: its UTF-8 may be known already.
                    let (content, crlf) = content_of(consumed);
                    let text = utf8.get(pos, pos + content.len());
                    self.record(
                        Whole::Here {
                            content,
                            crlf,
                            text,
                        },
                        out,
                    )?;
                }
                ReadRecordResult::Record => {
                    self.spanning.extend(consumed);
                    self.spanning_record(false, out)?;
                }
                ReadRecordResult::InputEmpty | ReadRecordResult::End => {
                    self.spanning.extend(consumed)
                }
                ReadRecordResult::OutputFull => {
                    self.spanning.extend(consumed);
                    self.more_field_room();
                }
                ReadRecordResult::OutputEndsFull => {
                    self.spanning.extend(consumed);
                    self.more_end_room();
                }
            }
            pos += nin;
        }
        Ok(())
    }

    /// The fast path for the common record: one whole line of the input, after the header,
    /// with no quote, in a part of the input known to be UTF-8, and as many fields as the
    /// header. Such a line is what `csv-core` would read as the text between commas (with
    /// a `\r` before the `\n` going into the last field, then taken off as `check_record`
    /// does), so its fields are cut out of the input where they are, found 8 bytes at a
    /// time, and `csv-core` (whose state is at a record start) never sees the line.
    ///
    /// Takes such lines one after the other from `input[pos..]`, having done exactly what
    /// the slow path does with each, up to the first line it cannot take (which the slow
    /// path then reads, nothing having changed for it); returns where it stopped.
    #[inline]
    fn quote_free_lines(
        &mut self,
        input: &[u8],
        mut pos: usize,
        utf8: &mut Utf8Window<'_>,
        out: &mut Vec<Parsed>,
    ) -> usize {
        let Some(header) = self.header.as_ref().filter(|_| self.fast) else {
            return pos;
        };
        let columns = header.columns;
        let Some(ends) = self.ends.get_mut(..columns) else {
            return pos;
        };
        // A line longer than the field buffer (so that `csv-core` would not have filled it)
        // is for the slow path.
        let limit = self.fields.len();
        while let Some(rest) = input.get(pos..).filter(|rest| !rest.is_empty()) {
            // Field `i` ends at `ends[i]` in the fields back to back (as `csv-core` counts).
            let mut commas = 0;
            let Some(end) = scan_line(rest, limit, |at| {
                if let Some(slot) = ends.get_mut(commas) {
                    *slot = at - commas;
                }
                commas += 1;
            }) else {
                break;
            };
            let (content, _crlf) = content_of(&rest[..=end]);
            let line = self.newlines + 1;
            let fields_len = content.len() - commas;
            if fields_len != 0 && !is_blank(content) {
                let Some(text) = utf8.get(pos, pos + content.len()) else {
                    break;
                };
                if commas + 1 != columns {
                    break;
                }
                ends[columns - 1] = fields_len;
                let record = Record {
                    header,
                    fields: Fields {
                        text,
                        ends,
                        delimited: true,
                    },
                };
                push_parsed(&record, line, content, out);
            }
            self.newlines += 1;
            pos += end + 1;
        }
        pos
    }

    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.spanning.capacity()
            + self.fields.capacity()
            + self.ends.capacity() * std::mem::size_of::<usize>()
    }

    /// End of input: the last record needs no line ending.
    pub(crate) fn finish(&mut self, out: &mut Vec<Parsed>) -> Result<(), DecodeError> {
        // Bounded: each turn ends the record, grows `ends`, or stops.
        for _ in 0..64 {
            let (result, _, nout, nend) = self.reader.read_record(
                &[],
                &mut self.fields[self.fields_len..],
                &mut self.ends[self.ends_len..],
            );
            self.fields_len += nout;
            self.ends_len += nend;
            match result {
                ReadRecordResult::Record => self.spanning_record(true, out)?,
                ReadRecordResult::OutputEndsFull => self.more_end_room(),
                ReadRecordResult::End
                | ReadRecordResult::InputEmpty
                | ReadRecordResult::OutputFull => break,
            }
        }
        Ok(())
    }

    fn more_field_room(&mut self) {
        if self.fields.len() < FIELDS_LIMIT {
            let len = (self.fields.len() * 2).min(FIELDS_LIMIT);
            self.fields.reserve_exact(len - self.fields.len());
            self.fields.resize(len, 0);
        } else {
            // The fields alone are longer than any record may be: refused anyway.
            self.fields_dropped = true;
            self.fields_len = 0;
        }
    }

    fn more_end_room(&mut self) {
        let cap = match &self.header {
            Some(h) => h.columns + 1,
            None => MAX_COLUMNS + 1,
        };
        if self.ends.len() < cap {
            let len = (self.ends.len() * 2).min(cap);
            self.ends.reserve_exact(len - self.ends.len());
            self.ends.resize(len, 0);
        } else {
            self.too_many_fields = true;
            self.ends_len = 0;
        }
    }

    /// A whole record: checked, then a transaction or a refusal (or the header).
    fn record(&mut self, whole: Whole<'_>, out: &mut Vec<Parsed>) -> Result<(), DecodeError> {
        let result = self.check_record(&whole, out);
        self.in_record = false;
        self.fields_len = 0;
        self.fields_dropped = false;
        self.ends_len = 0;
        self.too_many_fields = false;
        result
    }

    /// A record that spans reads is complete.
    fn spanning_record(&mut self, at_eof: bool, out: &mut Vec<Parsed>) -> Result<(), DecodeError> {
        let spanning = std::mem::take(&mut self.spanning);
        let result = self.record(
            Whole::Spanning {
                at_eof,
                spanning: &spanning,
            },
            out,
        );
        self.spanning = spanning;
        self.spanning.clear();
        result
    }

    fn check_record(
        &mut self,
        whole: &Whole<'_>,
        out: &mut Vec<Parsed>,
    ) -> Result<(), DecodeError> {
        let line = self.start_line;
        let (excerpt, len, crlf) = match *whole {
            Whole::Here { content, crlf, .. } => (content, content.len(), crlf),
            Whole::Spanning { spanning, .. } => {
                let (len, crlf) = spanning.content_len();
                (spanning.head(), len, crlf)
            }
        };
        // A record broken as a whole: refused, or the whole file fails if it is the header.
        let broken = |header: &Option<Header>, out: &mut Vec<Parsed>, reason: String| match header {
            None => Err(DecodeError::CsvHeader { line, reason }),
            Some(_) => {
                out.push(Parsed::Refused(LineError::new(line, None, reason, excerpt)));
                Ok(())
            }
        };
        if self.fields_dropped || len > MAX_LINE_BYTES {
            return broken(&self.header, out, too_long());
        }
        // The `\r` of a `\r\n` ending went into the last field.
        if crlf && self.fields_len > 0 && self.fields[self.fields_len - 1] == b'\r' {
            self.fields_len -= 1;
            if !self.too_many_fields {
                if let Some(end) = self.ends[..self.ends_len].last_mut() {
                    *end = self.fields_len;
                }
            }
        }
        let blank = match *whole {
            Whole::Here { content, .. } => is_blank(content),
            // Only white space means one field, unquoted, of only white space.
            Whole::Spanning { spanning, .. } => {
                !spanning.saw_quote()
                    && self.ends_len == 1
                    && is_blank(&self.fields[..self.fields_len])
            }
        };
        if self.fields_len == 0 || blank {
            return Ok(());
        }
        let utf8 = match *whole {
            Whole::Here { content, text, .. } => match text {
                Some(text) => Ok(Some(text)),
                None => std::str::from_utf8(content)
                    .map(Some)
                    .map_err(|e| e.valid_up_to()),
            },
            Whole::Spanning { spanning, .. } => spanning.utf8().map(|()| None),
        };
        let text = match utf8 {
            Ok(text) => text,
            Err(at) => {
                let reason = format!("not valid UTF-8 (byte {})", at + 1);
                return broken(&self.header, out, reason);
            }
        };
        if let Whole::Spanning {
            at_eof: true,
            spanning,
        } = whole
        {
            if spanning.ends_inside_quotes() {
                let reason = "has a quoted field that is never closed".to_owned();
                return broken(&self.header, out, reason);
            }
        }
        let Some(header) = &self.header else {
            if self.too_many_fields || self.ends_len > MAX_COLUMNS {
                let reason = format!("has more than {MAX_COLUMNS} columns");
                return Err(DecodeError::CsvHeader { line, reason });
            }
            self.header = Some(self.read_header(text));
            return Ok(());
        };
        if self.too_many_fields || self.ends_len != header.columns {
            let n = if self.too_many_fields {
                format!("more than {}", header.columns)
            } else {
                self.ends_len.to_string()
            };
            let reason = format!("has {n} fields but the header has {}", header.columns);
            return broken(&self.header, out, reason);
        }
        let record = Record {
            header,
            fields: self.fields(text),
        };
        push_parsed(&record, line, excerpt, out);
        Ok(())
    }

    /// The fields of the current record, which is valid UTF-8; `text` is the record
    /// (without line ending) if it is at hand.
    fn fields<'s>(&'s self, text: Option<&'s str>) -> Fields<'s> {
        let ends = &self.ends[..self.ends_len];
        let commas = ends.len().saturating_sub(1);
        let unquoted = text.filter(|text| {
            memchr::memchr(b'"', text.as_bytes()).is_none()
                && self.fields_len + commas == text.len()
        });
        if let Some(text) = unquoted {
            // No quotes (and nothing else dropped, such as a second BOM that csv-core
            // takes off the first record): each field is the text between commas.
            Fields {
                text,
                ends,
                delimited: true,
            }
        } else {
            // Quotes dropped: the fields are cut at ASCII bytes of valid UTF-8, so they
            // are valid UTF-8 too (the check cannot fail).
            Fields {
                text: std::str::from_utf8(&self.fields[..self.fields_len]).unwrap_or(""),
                ends,
                delimited: false,
            }
        }
    }

    fn read_header(&self, text: Option<&str>) -> Header {
        let fields = self.fields(text);
        let mut header = Header {
            columns: self.ends_len,
            slots: [Slot::NoColumn; 8],
        };
        for column in 0..self.ends_len {
            if let Some(field) = Field::from_name(fields.get(column)) {
                let slot = &mut header.slots[field as usize];
                *slot = match slot {
                    Slot::NoColumn => Slot::Column(column),
                    Slot::Column(_) | Slot::Repeated => Slot::Repeated,
                };
            }
        }
        header
    }
}

/// The first line of `bytes`: the position of its `\n` if that comes before any quote and
/// before `limit`, having called `comma` with the position of each comma before it, in
/// order (found 8 bytes at a time). `None` (and no call) otherwise.
#[inline]
fn scan_line(bytes: &[u8], limit: usize, mut comma: impl FnMut(usize)) -> Option<usize> {
    let end = memchr::memchr2(b'\n', b'"', bytes)?;
    if bytes[end] != b'\n' || end >= limit {
        return None;
    }
    let line = &bytes[..end];
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const LOW7: u64 = ONES * 0x7F;
    const HIGH: u64 = ONES * 0x80;
    // Bit 7 of each byte of `word` that is a comma, and no other bit: after the XOR a comma
    // is a zero byte, and adding 0x7F to the low 7 bits of a byte cannot carry out of it.
    let commas = |word: [u8; 8]| {
        let x = u64::from_le_bytes(word) ^ (ONES * u64::from(b','));
        !(((x & LOW7) + LOW7) | x) & HIGH
    };
    let mut report = |mut bits: u64, base: usize| {
        while bits != 0 {
            comma(base + bits.trailing_zeros() as usize / 8);
            bits &= bits - 1;
        }
    };
    let mut words = line.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        report(commas(bytes), base);
        base += 8;
    }
    let rest = words.remainder().len();
    if rest == 0 {
        return Some(end);
    }
    match end.checked_sub(8) {
        // The last 8 bytes, less those already seen.
        Some(start) => {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&line[start..]);
            report(commas(bytes) >> (8 * (8 - rest)) << (8 * (8 - rest)), start);
        }
        None => {
            for (i, &b) in line.iter().enumerate() {
                if b == b',' {
                    comma(i);
                }
            }
        }
    }
    Some(end)
}

/// A row read through the header.
struct Record<'a> {
    header: &'a Header,
    fields: Fields<'a>,
}

impl Source for Record<'_> {
    #[inline(always)]
    fn value(&self, field: Field) -> Value<'_> {
        match self.header.slots[field as usize] {
            Slot::Repeated => Value::Repeated,
            Slot::NoColumn => Value::NoColumn,
            Slot::Column(column) => match self.fields.get(column) {
                "" => Value::Absent,
                text if field == Field::Seq => Value::Number(text),
                text => Value::Text(text),
            },
        }
    }
}

/// The fields of one record: field `i` ends at `ends[i]` in the fields back to back, or,
/// if `delimited`, `i` bytes further on in the record itself (one comma before each field).
struct Fields<'a> {
    text: &'a str,
    ends: &'a [usize],
    delimited: bool,
}

impl<'a> Fields<'a> {
    #[inline(always)]
    fn get(&self, i: usize) -> &'a str {
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1],
        };
        let commas = if self.delimited { i } else { 0 };
        self.text
            .get(start + commas..self.ends[i] + commas)
            .unwrap_or("")
    }
}

/// A whole record as [`CsvRecords::record`] takes it.
enum Whole<'a> {
    /// All in the current input: without its line ending, whether that was `\r\n`, and
    /// the same as text if known to be UTF-8 already.
    Here {
        content: &'a [u8],
        crlf: bool,
        text: Option<&'a str>,
    },
    /// Spread over reads: what is known of it.
    Spanning {
        at_eof: bool,
        spanning: &'a Spanning,
    },
}

/// A record without its line ending, and whether that ending was `\r\n` (or a final `\r`).
fn content_of(raw: &[u8]) -> (&[u8], bool) {
    let content = raw.strip_suffix(b"\n").unwrap_or(raw);
    match content.strip_suffix(b"\r") {
        Some(content) => (content, true),
        None => (content, false),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{
        decode, decode_in_chunks, only_refusal, refusals, try_decode_in_chunks, txn_lines, Outcome,
        CSV,
    };
    use super::*;
    use crate::transaction::Content;
    use proptest::prelude::*;

    const HEADER: &str = "order_id,seq,op,txn_id,amount,currency,note";

    fn csv(rows: &[&str]) -> Vec<u8> {
        rows.join("\n").into_bytes()
    }

    fn txns(out: &[Parsed]) -> Vec<&crate::Transaction> {
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
                crate::Op::Create,
                None,
                None,
                crate::Currency::parse("EUR").ok()
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
        let file =
            format!("{HEADER}\r\nA,1,create,,,EUR,\"n\"\r\nA,2,pay,,,,x\r\nA,3,pay,,,,\"\"\r\n");
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
        let (_, _, error) =
            try_decode_in_chunks(CSV, b"\n\norder_id,seq,op,n\xffote\nA,1,pay,", &[]);
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

    /// What `scan_line` should find, byte by byte.
    fn scan_slowly(bytes: &[u8], limit: usize) -> Option<(usize, Vec<usize>)> {
        let end = bytes.iter().position(|&b| b == b'\n' || b == b'"')?;
        let commas = (0..end).filter(|&i| bytes[i] == b',').collect();
        (bytes[end] == b'\n' && end < limit).then_some((end, commas))
    }

    fn scan(bytes: &[u8], limit: usize) -> Option<(usize, Vec<usize>)> {
        let mut commas = Vec::new();
        let end = scan_line(bytes, limit, |at| commas.push(at))?;
        Some((end, commas))
    }

    #[test]
    fn lines_are_scanned_wherever_their_commas_quotes_and_ends_are() {
        let long = format!("{}\n", ",a".repeat(100));
        for line in [
            &b""[..],
            b"\n",
            b",\n",
            b"abc",
            b"abc,",
            b",,,,,,,,,,,,,,,,,\n",
            b"ORD-1234567,12,add,t3,-12.3456,,2026-01-02T03:04:05Z,\r\nnext,line\n",
            "é,☕,\r,\u{2c}x,1234567,12345678,\n".as_bytes(),
            &[0xAC, b',', 0x2C ^ 0x80, 0xFF, 0x00, b',', b'\n'],
            b"a,b,\"c\"\n",
            b"a,b,c\"\n",
            b"1234567,\"\n",
            long.as_bytes(),
        ] {
            for limit in [0, 1, 7, 8, 9, 63, 64, 65, 4096] {
                assert_eq!(
                    scan(line, limit),
                    scan_slowly(line, limit),
                    "{line:?} {limit}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn scan_line_agrees_with_a_byte_by_byte_look(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b','), Just(b'\n'), Just(b'"'), Just(b'\r'), Just(b'a'), any::<u8>()],
                0..200,
            ),
            limit in 0usize..220,
        ) {
            prop_assert_eq!(scan(&bytes, limit), scan_slowly(&bytes, limit));
        }
    }

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

        /// The fast path for quote-free lines gives exactly what `csv-core` alone gives,
        /// whatever the lines and however the input is cut.
        #[test]
        fn the_fast_path_is_the_same_as_csv_core_alone(
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
            let slow = records_in_chunks(CsvRecords::without_fast_path(), &file, &[]);
            let fast = records_in_chunks(CsvRecords::new(), &file, &[]);
            prop_assert_eq!(&fast, &slow);
            let fast = records_in_chunks(CsvRecords::new(), &file, &sizes);
            prop_assert_eq!(&fast, &slow);
        }
    }

    #[test]
    fn the_fast_path_takes_the_usual_lines() {
        let file =
            format!("{HEADER}\nA,1,create,,,EUR,\nA,2,add,t,1.5,,\r\n\n,,,,,,\nA,3,pay,,,,\"x\"\n");
        let mut records = CsvRecords::new();
        let mut out = Vec::new();
        let pos = HEADER.len() + 1;
        records.feed(&file.as_bytes()[..pos], &mut out).unwrap();
        let bytes = file.as_bytes();
        let mut utf8 = Utf8Window::new(bytes);
        let taken = records.quote_free_lines(bytes, pos, &mut utf8, &mut out);
        assert_eq!(
            &file[pos..taken],
            "A,1,create,,,EUR,\nA,2,add,t,1.5,,\r\n\n,,,,,,\n",
            "two rows, an empty line, a record of empty fields"
        );
        assert_eq!(txn_lines(&out), [2, 3]);
        assert_eq!(records.newlines(), 5);
    }

    #[test]
    fn a_bom_before_the_header_is_ignored() {
        let file = format!("\u{feff}{HEADER}\nA,1,pay,,,,\n");
        assert_eq!(txn_lines(&decode(CSV, file.as_bytes())), [2]);
        // csv-core drops a second one: the columns must still line up.
        let file = format!("\u{feff}\u{feff}{HEADER}\nA,1,pay,,,,\n");
        assert_eq!(txn_lines(&decode(CSV, file.as_bytes())), [2]);
    }
}
