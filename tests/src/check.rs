//! What the tests compare: orders as users see them (contract section 4, as parsed JSON),
//! rejects reports and status records (section 5). Every check collects all differences
//! and returns them as one [`Mismatch`], so a failed test shows the whole picture.

use crate::rewrite::csv_record_end;
use ledger::{LedgerStatus, State};
use ledger_format::{kind_of_key, Format, MAX_LINE_BYTES, MAX_TEXT_BYTES};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;

/// The fields of an order that section 4 promises.
pub const FIELDS: [&str; 11] = [
    "order_id",
    "status",
    "currency",
    "total",
    "items",
    "next_seq",
    "parked",
    "applied",
    "rejected",
    "duplicates",
    "conflicts",
];

/// Differences found, one per line.
pub struct Mismatch(pub Vec<String>);

impl fmt::Debug for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} difference(s):", self.0.len())?;
        for d in &self.0 {
            writeln!(f, "  {d}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Mismatch {}

fn done(diffs: Vec<String>) -> Result<(), Mismatch> {
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(Mismatch(diffs))
    }
}

/// Checks what section 4 says of any one order: `applied + rejected = next_seq - 1`,
/// `parked` ascending and after `next_seq`, amounts never `-0.00`.
fn invariants(id: &str, view: &Value, diffs: &mut Vec<String>) {
    for field in FIELDS {
        if view.get(field).is_none() {
            diffs.push(format!("{id}: no field {field}"));
        }
    }
    let n = |f: &str| view.get(f).and_then(Value::as_u64);
    let voided = view
        .get("voided")
        .and_then(Value::as_array)
        .map_or(0, Vec::len) as u64;
    if let (Some(a), Some(r), Some(next)) = (n("applied"), n("rejected"), n("next_seq")) {
        if a + r + voided + 1 != next {
            diffs.push(format!(
                "{id}: applied {a} + rejected {r} + {voided} voided != next_seq {next} - 1"
            ));
        }
    }
    let parked: Vec<u64> = view["parked"]
        .as_array()
        .map(|p| p.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let next = n("next_seq").unwrap_or(0);
    if parked.windows(2).any(|w| w[0] >= w[1]) || parked.first().is_some_and(|p| *p <= next) {
        diffs.push(format!(
            "{id}: parked {parked:?} not ascending after next_seq {next}"
        ));
    }
    if view["total"] == "-0.00" {
        diffs.push(format!("{id}: total is -0.00"));
    }
}

/// The orders `got` are exactly the orders `want`, equal in every field of section 4 but
/// `duplicates` (which SQS deduplication makes depend on timing).
pub fn views(
    got: &BTreeMap<String, Value>,
    want: &BTreeMap<String, Value>,
) -> Result<(), Mismatch> {
    views_except(got, want, &["duplicates"])
}

/// As [`views`], in every field of section 4 but `ignored`.
pub fn views_except(
    got: &BTreeMap<String, Value>,
    want: &BTreeMap<String, Value>,
    ignored: &[&str],
) -> Result<(), Mismatch> {
    let mut diffs = Vec::new();
    for id in want.keys().filter(|id| !got.contains_key(*id)) {
        diffs.push(format!("{id}: missing; expected {}", want[id]));
    }
    for id in got.keys().filter(|id| !want.contains_key(*id)) {
        diffs.push(format!("{id}: not expected; got {}", got[id]));
    }
    for (id, g) in got {
        invariants(id, g, &mut diffs);
        let Some(w) = want.get(id) else { continue };
        // `voided` (contract section 4 since voids) is compared where the expectation has it.
        let voided = w.get("voided").map(|_| "voided");
        for field in FIELDS.iter().copied().chain(voided) {
            if ignored.contains(&field) {
                continue;
            }
            if g.get(field) != w.get(field) {
                diffs.push(format!(
                    "{id}.{field}: got {}, expected {}",
                    g.get(field).unwrap_or(&Value::Null),
                    w.get(field).unwrap_or(&Value::Null)
                ));
            }
        }
    }
    done(diffs)
}

/// One expected entry of a rejects report: the line and the failing field (`None` when the
/// line as a whole is broken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub line: u64,
    pub field: Option<String>,
}

impl Reject {
    pub fn new(line: u64, field: Option<&str>) -> Self {
        Self {
            line,
            field: field.map(str::to_owned),
        }
    }
}

/// `rejects/K.jsonl` for `ledgers/K` (section 5).
pub fn rejects_key(ledger_key: &str) -> String {
    format!(
        "rejects/{}.jsonl",
        ledger_key.strip_prefix("ledgers/").unwrap_or(ledger_key)
    )
}

/// A ledger's text as the function reads it: gunzipped (every member) when its key says so.
pub fn ledger_text(key: &str, uploaded: &[u8]) -> std::io::Result<Vec<u8>> {
    if !key.to_ascii_lowercase().ends_with(".gz") {
        return Ok(uploaded.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(uploaded).read_to_end(&mut out)?;
    Ok(out)
}

/// The physical lines of a text, without their endings (`\n` or `\r\n`); a leading BOM
/// is not part of line 1.
pub fn physical_lines(text: &[u8]) -> Vec<&[u8]> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    if text.is_empty() {
        return Vec::new();
    }
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    text.split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect()
}

/// The raw line or CSV record that starts on `line` (from 1).
pub fn raw_at(key: &str, text: &[u8], line: u64) -> Option<Vec<u8>> {
    let body = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut start = 0;
    for _ in 1..line {
        start += body.get(start..)?.iter().position(|b| *b == b'\n')? + 1;
    }
    let end = match kind_of_key(key).ok()?.format {
        Format::Csv => csv_record_end(body, start),
        Format::JsonLines => body[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(body.len(), |p| start + p),
    };
    let raw = &body[start..end];
    Some(raw.strip_suffix(b"\r").unwrap_or(raw).to_vec())
}

/// The `text` of a rejects-report entry matches the raw line: equal (non-UTF-8 bytes as
/// U+FFFD) when short, else a prefix of it cut at 1 KiB on a character boundary.
fn text_matches(text: &str, raw: &[u8]) -> bool {
    let full = String::from_utf8_lossy(raw);
    if raw.len() <= MAX_TEXT_BYTES {
        return text == full;
    }
    text.len() <= MAX_TEXT_BYTES && text.len() + 4 > MAX_TEXT_BYTES && full.starts_with(text)
}

/// A rejects report (`report`, JSON Lines) of the ledger `key` whose text is `text` lists
/// exactly `want`, in line order, each entry with a reason and the raw line's text.
pub fn report(key: &str, text: &[u8], report: &str, want: &[Reject]) -> Result<(), Mismatch> {
    let mut diffs = Vec::new();
    let mut got = Vec::new();
    for (i, entry) in report.lines().enumerate() {
        let Ok(entry) = serde_json::from_str::<Value>(entry) else {
            diffs.push(format!("report line {}: not JSON: {entry}", i + 1));
            continue;
        };
        let Some(line) = entry["line"].as_u64() else {
            diffs.push(format!("report line {}: no line number: {entry}", i + 1));
            continue;
        };
        let field = match &entry["field"] {
            Value::Null => None,
            Value::String(f) => Some(f.as_str()),
            other => {
                diffs.push(format!(
                    "line {line}: field {other} is neither null nor a string"
                ));
                None
            }
        };
        got.push(Reject::new(line, field));
        if entry["reason"].as_str().is_none_or(|r| r.trim().is_empty()) {
            diffs.push(format!("line {line}: no reason: {entry}"));
        }
        match (entry["text"].as_str(), raw_at(key, text, line)) {
            (Some(t), Some(raw)) if text_matches(t, &raw) => {}
            (t, raw) => diffs.push(format!(
                "line {line}: text {t:?} is not the raw line {:?}",
                raw.map(|r| String::from_utf8_lossy(&r[..r.len().min(200)]).into_owned())
            )),
        }
    }
    if got != want {
        diffs.push(format!("report lists {got:?}, expected {want:?}"));
    }
    done(diffs)
}

/// What a finished ledger's status record should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub state: State,
    pub lines_read: u64,
    pub sent: u64,
    pub refused: u64,
    pub rejects_key: Option<String>,
}

impl Expected {
    /// A ledger `key` with text `text` (decompressed) of which `refused` lines are refused:
    /// done, every physical line read, every non-blank line (or CSV record but the header;
    /// a line too long is never blank) either sent or refused, and a rejects report if
    /// any was refused.
    pub fn done(key: &str, text: &[u8], refused: u64) -> Self {
        let lines = physical_lines(text);
        let entries = match kind_of_key(key).map(|k| k.format) {
            Ok(Format::Csv) => csv_entries(text),
            _ => lines
                .iter()
                .filter(|l| {
                    l.len() > MAX_LINE_BYTES || !String::from_utf8_lossy(l).trim().is_empty()
                })
                .count() as u64,
        };
        Self {
            state: State::Done,
            lines_read: lines.len() as u64,
            sent: entries.saturating_sub(refused),
            refused,
            rejects_key: (refused > 0).then(|| rejects_key(key)),
        }
    }
}

/// Records of a CSV text but the header, blank ones (every field empty) left out.
fn csv_entries(text: &[u8]) -> u64 {
    let body = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(body);
    let mut n = 0;
    let mut record = csv::ByteRecord::new();
    while let Ok(true) = reader.read_byte_record(&mut record) {
        if record.iter().any(|f| !f.is_empty()) {
            n += 1;
        }
    }
    n
}

/// The status record says what `want` says, with no error.
pub fn status(got: &LedgerStatus, want: &Expected) -> Result<(), Mismatch> {
    let mut diffs = Vec::new();
    let key = &got.key;
    if got.state != want.state {
        diffs.push(format!(
            "{key}: state {} (error {:?}), expected {}",
            got.state, got.error, want.state
        ));
    }
    for (name, g, w) in [
        ("lines_read", got.lines_read, want.lines_read),
        ("sent", got.sent, want.sent),
        ("refused", got.refused, want.refused),
    ] {
        if g != w {
            diffs.push(format!("{key}: {name} {g}, expected {w}"));
        }
    }
    if got.rejects_key != want.rejects_key {
        diffs.push(format!(
            "{key}: rejects_key {:?}, expected {:?}",
            got.rejects_key, want.rejects_key
        ));
    }
    if want.state == State::Done && got.error.is_some() {
        diffs.push(format!("{key}: done with an error {:?}", got.error));
    }
    done(diffs)
}

/// Uploads `ledger` as `name` alone, waits until it is settled and checks its status record
/// says done with `refused` lines refused; returns the upload.
pub async fn settled(
    h: &crate::Harness,
    running: &convoy_local::pipeline::Running,
    name: &str,
    ledger: &[u8],
    refused: u64,
) -> Result<convoy_local::pipeline::Upload, crate::BoxError> {
    let upload = h.upload(name, ledger.to_vec()).await?;
    let statuses = h.settle(running, std::slice::from_ref(&upload)).await?;
    let got = statuses.first().ok_or("no status record")?;
    status(got, &Expected::done(&upload.key, ledger, refused))?;
    Ok(upload)
}

/// Every order id a ledger mentions, valid or not and whether its line is refused or not:
/// the orders a test looks up afterwards (those never reached must be absent). JSON Lines
/// (also for unsupported keys): each line's `order_id` string; CSV: the `order_id` column.
pub fn mentioned_ids(key: &str, uploaded: &[u8]) -> BTreeSet<String> {
    let text = ledger_text(key, uploaded).unwrap_or_default();
    let body = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&text);
    let mut ids = BTreeSet::new();
    if matches!(kind_of_key(key).map(|k| k.format), Ok(Format::Csv)) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(body);
        let mut records = reader.byte_records().filter_map(Result::ok);
        let column = records
            .next()
            .and_then(|h| h.iter().position(|name| name == b"order_id"));
        if let Some(column) = column {
            for record in records {
                if let Some(id) = record.get(column) {
                    ids.insert(String::from_utf8_lossy(id).into_owned());
                }
            }
        }
        return ids;
    }
    for line in body.split(|b| *b == b'\n') {
        if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(line) {
            if let Some(Value::String(id)) = o.get("order_id") {
                ids.insert(id.clone());
            }
        }
    }
    ids
}
