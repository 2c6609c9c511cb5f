//! A ledger's order ids prefixed with a run id, so that a test re-run on the same emulator
//! neither meets the orders of an earlier run nor SQS FIFO's 5-minute deduplication of
//! their messages. Everything else stays: lines, their numbers and their endings, values as
//! written (amounts such as `1e2` or `2.50` are not re-formatted), lines that are not JSON
//! objects byte for byte.
//!
//! Only order ids that are valid (contract section 1) are prefixed: an invalid one (empty,
//! say) must stay invalid, or a refused line would become a valid one.

use convoy_core::OrderId;
use flate2::write::GzEncoder;
use flate2::Compression;
use ledger_format::MAX_LINE_BYTES;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;
use std::io::Write;

const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error("line {line}: prefixing the order id makes the line longer than the limit")]
    TooLong { line: usize },
    #[error("the CSV header has no order_id column")]
    NoOrderIdColumn,
    #[error("reading the CSV")]
    Csv(#[from] csv::Error),
    #[error("writing the CSV")]
    CsvWrite(#[source] std::io::Error),
    #[error("the rewritten CSV does not keep the records or their lines: {0}")]
    CsvMismatch(String),
    #[error("JSON")]
    Json(#[from] serde_json::Error),
    #[error("gzip")]
    Gzip(#[source] std::io::Error),
}

/// `prefix + id` when `id` is a valid order id (and the result too).
fn prefixed(id: &str, prefix: &str) -> Option<String> {
    let new = format!("{prefix}{id}");
    (OrderId::parse(id).is_ok() && OrderId::parse(&new).is_ok()).then_some(new)
}

/// Splits a leading UTF-8 BOM off.
fn split_bom(text: &[u8]) -> (&[u8], &[u8]) {
    match text.strip_prefix(BOM) {
        Some(rest) => (BOM, rest),
        None => (&[], text),
    }
}

/// The members of a JSON object in order, values as written.
struct Members(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

/// One JSON Lines line (without its ending) with its order id prefixed, or `None` to keep it.
fn prefix_json_line(line: &[u8], prefix: &str) -> Result<Option<Vec<u8>>, serde_json::Error> {
    if line.len() > MAX_LINE_BYTES {
        return Ok(None);
    }
    let Ok(text) = std::str::from_utf8(line) else {
        return Ok(None);
    };
    let Ok(Members(mut members)) = serde_json::from_str::<Members>(text) else {
        return Ok(None);
    };
    let mut changed = false;
    for (name, value) in &mut members {
        if name != "order_id" {
            continue;
        }
        let Ok(id) = serde_json::from_str::<String>(value.get()) else {
            continue;
        };
        if let Some(new) = prefixed(&id, prefix) {
            *value = serde_json::value::to_raw_value(&new)?;
            changed = true;
        }
    }
    if !changed {
        return Ok(None);
    }
    let mut out = b"{".to_vec();
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(serde_json::to_string(name)?.as_bytes());
        out.push(b':');
        out.extend_from_slice(value.get().as_bytes());
    }
    out.push(b'}');
    Ok(Some(out))
}

/// A JSON Lines ledger with every valid order id prefixed (see the module doc).
pub fn prefix_jsonl(text: &[u8], prefix: &str) -> Result<Vec<u8>, RewriteError> {
    let (bom, body) = split_bom(text);
    let mut out = bom.to_vec();
    for (index, piece) in body.split_inclusive(|b| *b == b'\n').enumerate() {
        let ending_len = if piece.ends_with(b"\r\n") {
            2
        } else {
            usize::from(piece.ends_with(b"\n"))
        };
        let (line, ending) = piece.split_at(piece.len() - ending_len);
        match prefix_json_line(line, prefix)? {
            Some(new) if new.len() > MAX_LINE_BYTES => {
                return Err(RewriteError::TooLong { line: index + 1 })
            }
            Some(new) => out.extend_from_slice(&new),
            None => out.extend_from_slice(line),
        }
        out.extend_from_slice(ending);
    }
    Ok(out)
}

/// Where the CSV record starting at `start` ends (before its line ending): RFC 4180, a
/// quote opens a quoted field only at the start of a field.
pub fn csv_record_end(text: &[u8], start: usize) -> usize {
    let mut i = start;
    let mut field_start = true;
    let mut quoted = false;
    while i < text.len() {
        let c = text[i];
        if quoted {
            if c == b'"' {
                if text.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                quoted = false;
            }
        } else {
            match c {
                b'\r' | b'\n' => return i,
                b',' => {
                    field_start = true;
                    i += 1;
                    continue;
                }
                b'"' if field_start => quoted = true,
                _ => {}
            }
            field_start = false;
        }
        i += 1;
    }
    text.len()
}

/// The spans of the records of a CSV text (BOM removed), blank lines left out.
fn csv_spans(body: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        let end = csv_record_end(body, pos);
        if end > pos {
            spans.push((pos, end));
        }
        pos = end;
        if body.get(pos) == Some(&b'\r') {
            pos += 1;
        }
        if body.get(pos) == Some(&b'\n') {
            pos += 1;
        }
    }
    spans
}

/// The records of a CSV text, as the csv crate reads them.
fn csv_records(body: &[u8]) -> Result<Vec<csv::ByteRecord>, RewriteError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut records = Vec::new();
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record)? {
        records.push(record.clone());
    }
    Ok(records)
}

/// One record as CSV text, without a line ending.
fn write_csv_record(record: &csv::ByteRecord) -> Result<Vec<u8>, RewriteError> {
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    writer.write_byte_record(record)?;
    let mut out = writer
        .into_inner()
        .map_err(|e| RewriteError::CsvWrite(e.into_error()))?;
    out.pop();
    Ok(out)
}

fn newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count()
}

/// A CSV ledger with every valid value of its `order_id` column prefixed; the other
/// fields, the records, blank lines and line endings, and so every line number, are kept.
/// Each record is re-written with the csv crate; the result is checked by reading it back.
pub fn prefix_csv(text: &[u8], prefix: &str) -> Result<Vec<u8>, RewriteError> {
    let (bom, body) = split_bom(text);
    let spans = csv_spans(body);
    let Some(&(h_start, h_end)) = spans.first() else {
        return Ok(text.to_vec());
    };
    let header = csv_records(&body[h_start..h_end])?;
    let column = header
        .first()
        .and_then(|h| h.iter().position(|name| name == b"order_id"))
        .ok_or(RewriteError::NoOrderIdColumn)?;
    let mut out = bom.to_vec();
    let mut copied = 0;
    let mut want = csv_records(body)?;
    let (mut changed, mut rewritten) = (0, 0);
    for &(start, end) in &spans[1..] {
        let [record] = &csv_records(&body[start..end])?[..] else {
            continue;
        };
        let Some(new_id) = record
            .get(column)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|id| prefixed(id, prefix))
        else {
            continue;
        };
        let mut new = csv::ByteRecord::new();
        for (i, field) in record.iter().enumerate() {
            new.push_field(if i == column {
                new_id.as_bytes()
            } else {
                field
            });
        }
        let written = write_csv_record(&new)?;
        if newlines(&written) != newlines(&body[start..end]) {
            return Err(RewriteError::CsvMismatch(format!(
                "the record at byte {start} spans other lines once written"
            )));
        }
        if let Some(w) = want.iter_mut().find(|w| *w == record) {
            *w = new;
            changed += 1;
        }
        rewritten += 1;
        out.extend_from_slice(&body[copied..start]);
        out.extend_from_slice(&written);
        copied = end;
    }
    out.extend_from_slice(&body[copied..]);

    let got = csv_records(&out[bom.len()..])?;
    if got != want || newlines(&out) != newlines(text) || changed != rewritten {
        return Err(RewriteError::CsvMismatch(format!(
            "read back {} records, {changed} changed: {got:?}",
            got.len()
        )));
    }
    Ok(out)
}

/// `text` gzip-compressed as `members` concatenated gzip members, cut at arbitrary bytes
/// (so a member may end in the middle of a line).
pub fn gzip_members(text: &[u8], members: usize) -> Result<Vec<u8>, RewriteError> {
    let size = text.len().div_ceil(members.max(1)).max(1);
    let mut out = Vec::new();
    for part in text.chunks(size) {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(part).map_err(RewriteError::Gzip)?;
        out.extend(encoder.finish().map_err(RewriteError::Gzip)?);
    }
    Ok(out)
}

/// An expected order (`.expected` line, section 4 JSON) with its order id prefixed.
pub fn prefix_view(line: &str, prefix: &str) -> Result<serde_json::Value, serde_json::Error> {
    let mut view: serde_json::Value = serde_json::from_str(line)?;
    if let Some(id) = view.get("order_id").and_then(|v| v.as_str()) {
        view["order_id"] = format!("{prefix}{id}").into();
    }
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_keeps_lines_values_and_broken_lines() {
        let text = "\u{feff}{\"order_id\": \"A\", \"seq\": 1, \"amount\": 1e2, \"x\": 2.50}\r\n\
            \n\
            not json\n\
            [1,2]\n\
            {\"order_id\": \"\", \"seq\": 1}\n\
            {\"order_id\": 5}\n\
            {\"seq\": 2, \"order_id\": \"B\"}";
        let mut bytes = text.as_bytes().to_vec();
        bytes.extend_from_slice(b"\n{\"order_id\":\"C\",\"note\":\"\xff\"}\n");
        let out = prefix_jsonl(&bytes, "r1-").unwrap();
        let want = "\u{feff}{\"order_id\":\"r1-A\",\"seq\":1,\"amount\":1e2,\"x\":2.50}\r\n\
            \n\
            not json\n\
            [1,2]\n\
            {\"order_id\": \"\", \"seq\": 1}\n\
            {\"order_id\": 5}\n\
            {\"seq\":2,\"order_id\":\"r1-B\"}";
        let mut want = want.as_bytes().to_vec();
        want.extend_from_slice(b"\n{\"order_id\":\"C\",\"note\":\"\xff\"}\n");
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&want)
        );
    }

    #[test]
    fn csv_keeps_records_quotes_blank_lines_and_line_numbers() {
        let text = "\u{feff}op,order_id,note\r\n\
            create,A,\"a, b\"\r\n\
            \r\n\
            add,B,\"two\nlines \"\"q\"\"\"\r\n\
            pay,,x\r\n\
            ship,C\r\n\
            pay,D,last";
        let out = prefix_csv(text.as_bytes(), "r1-").unwrap();
        let want = "\u{feff}op,order_id,note\r\n\
            create,r1-A,\"a, b\"\r\n\
            \r\n\
            add,r1-B,\"two\nlines \"\"q\"\"\"\r\n\
            pay,,x\r\n\
            ship,r1-C\r\n\
            pay,r1-D,last";
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn gzip_members_decompress_to_the_text() {
        use std::io::Read;
        let text = b"line one\nline two\nline three\n";
        let gz = gzip_members(text, 3).unwrap();
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, text);
    }
}
