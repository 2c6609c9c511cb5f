//! The rejects report of a ledger (contract section 5), spooled to a local temporary file
//! as refused lines arrive, so memory stays constant however many lines are refused.
//!
//! Bounded on disk too: the report lists at most [`MAX_REPORTED_REJECTS`] lines, each at
//! most [`MAX_REPORT_LINE_BYTES`] long, so the spool never exceeds
//! `MAX_REPORTED_REJECTS × MAX_REPORT_LINE_BYTES` (204.8 MB; Lambda's `/tmp` has 512 MB).
//! Refused lines past the cap are counted, not written ([`RejectsSpool::truncated`]).
//!
//! Lines refused by the decoder arrive in line order; the few refused later by SQS (a
//! `SenderFault` entry) arrive in send order. Each entry's line and place in the file are
//! kept (16 bytes an entry); if any came out of order, [`RejectsSpool::finish`] writes the
//! entries again in line order into a second file (so, for that moment, twice the bound).

use ledger_format::LineError;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use tempfile::{NamedTempFile, TempPath};

/// The most refused lines a rejects report lists: 100,000. Later ones are only counted.
pub const MAX_REPORTED_REJECTS: u64 = 100_000;

/// The longest line of a rejects report, its `\n` included: 2 KiB. A `text` whose JSON
/// escapes would make its line longer is cut shorter than its 1 KiB, then the `reason`.
pub const MAX_REPORT_LINE_BYTES: usize = 2048;

/// The longest `reason` in a rejects report, in bytes (cut on a character boundary).
pub const MAX_REASON_BYTES: usize = 512;

/// Writing the spool failed (local disk).
#[derive(Debug, thiserror::Error)]
#[error("could not spool the rejects report to local disk")]
pub struct SpoolError(#[source] pub std::io::Error);

impl From<std::io::Error> for SpoolError {
    fn from(e: std::io::Error) -> Self {
        SpoolError(e)
    }
}

/// Where an entry is in the spool file.
#[derive(Debug, Clone, Copy)]
struct Spooled {
    line: u64,
    /// Its end offset; it starts where the one before it in the file ends.
    end: u64,
}

/// A rejects report being written.
pub struct RejectsSpool {
    file: Option<BufWriter<NamedTempFile>>,
    /// The entries written, in file order.
    entries: Vec<Spooled>,
    /// Refused lines seen, written or not.
    count: u64,
    cap: u64,
    /// Whether the entries came in line order.
    in_order: bool,
}

impl RejectsSpool {
    pub fn new() -> Self {
        Self::with_cap(MAX_REPORTED_REJECTS)
    }

    /// A spool that writes at most `cap` entries.
    pub fn with_cap(cap: u64) -> Self {
        Self {
            file: None,
            entries: Vec::new(),
            count: 0,
            cap,
            in_order: true,
        }
    }

    /// Adds a refused line, in any order; past the cap it is only counted.
    pub fn write(&mut self, error: &LineError) -> Result<(), SpoolError> {
        self.count += 1;
        if self.entries.len() as u64 >= self.cap {
            return Ok(());
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(BufWriter::new(NamedTempFile::new()?)),
        };
        let bytes = report_line(error).map_err(std::io::Error::from)?;
        file.write_all(&bytes)?;
        let start = self.entries.last().map_or(0, |e| e.end);
        if self.entries.last().is_some_and(|e| e.line > error.line) {
            self.in_order = false;
        }
        self.entries.push(Spooled {
            line: error.line,
            end: start + bytes.len() as u64,
        });
        Ok(())
    }

    /// Refused lines so far, written or not.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Refused lines written to the report.
    pub fn listed(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Whether refused lines were left out of the report (more than the cap).
    pub fn truncated(&self) -> bool {
        self.count > self.entries.len() as u64
    }

    /// The finished report in line order, or `None` when no line was refused. The file is
    /// deleted when the returned path is dropped.
    pub fn finish(self) -> Result<Option<TempPath>, SpoolError> {
        let Some(file) = self.file else {
            return Ok(None);
        };
        let mut spooled = file.into_inner().map_err(|e| e.into_error())?;
        if self.in_order {
            return Ok(Some(spooled.into_temp_path()));
        }
        let mut places: Vec<(u64, u64, u64)> = Vec::with_capacity(self.entries.len());
        let mut start = 0;
        for e in &self.entries {
            places.push((e.line, start, e.end));
            start = e.end;
        }
        places.sort_by_key(|&(line, start, _)| (line, start));
        let mut sorted = BufWriter::new(NamedTempFile::new()?);
        let mut buf = Vec::with_capacity(MAX_REPORT_LINE_BYTES);
        let source = spooled.as_file_mut();
        for (_, start, end) in places {
            buf.resize((end - start) as usize, 0);
            source.seek(SeekFrom::Start(start))?;
            source.read_exact(&mut buf)?;
            sorted.write_all(&buf)?;
        }
        drop(spooled);
        let sorted = sorted.into_inner().map_err(|e| e.into_error())?;
        Ok(Some(sorted.into_temp_path()))
    }
}

impl Default for RejectsSpool {
    fn default() -> Self {
        Self::new()
    }
}

/// The report line of `e`: its JSON object and `\n`, at most [`MAX_REPORT_LINE_BYTES`].
/// `reason` is cut at [`MAX_REASON_BYTES`], `text` at 1 KiB; if the JSON escapes still make
/// the line too long, `text` is cut further, then `reason`.
fn report_line(e: &LineError) -> Result<Vec<u8>, serde_json::Error> {
    /// [`LineError`]'s own form, over borrowed, cut strings.
    #[derive(serde::Serialize)]
    struct Entry<'a> {
        line: u64,
        field: Option<convoy_core::Field>,
        reason: &'a str,
        text: &'a str,
    }
    let mut reason = cut(&e.reason, MAX_REASON_BYTES);
    let mut text = cut(&e.text, ledger_format::MAX_TEXT_BYTES);
    loop {
        let mut json = serde_json::to_vec(&Entry {
            line: e.line,
            field: e.field,
            reason,
            text,
        })?;
        json.push(b'\n');
        let over = json.len().saturating_sub(MAX_REPORT_LINE_BYTES);
        if over == 0 || (text.is_empty() && reason.is_empty()) {
            return Ok(json);
        }
        // A byte of text is one to six bytes of JSON (`\u0001`): cutting a sixth of the
        // excess at a time never cuts much more than needed, and ends.
        let less = over.div_ceil(6);
        if text.is_empty() {
            reason = cut(reason, reason.len().saturating_sub(less));
        } else {
            text = cut(text, text.len().saturating_sub(less));
        }
    }
}

/// `text` cut at `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` cut at 1 KiB on a character boundary, like the decoder's excerpts.
pub fn excerpt(text: &str) -> String {
    cut(text, ledger_format::MAX_TEXT_BYTES).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use convoy_core::Field;
    use proptest::prelude::*;

    fn err(line: u64, field: Option<Field>) -> LineError {
        LineError {
            line,
            field,
            reason: format!("reason {line}"),
            text: format!("text {line}"),
        }
    }

    fn read(path: &TempPath) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn nothing_refused_gives_no_report() {
        let spool = RejectsSpool::new();
        assert!(!spool.truncated());
        assert!(spool.finish().unwrap().is_none());
    }

    #[test]
    fn the_report_is_one_json_object_per_line_in_line_order() {
        let mut spool = RejectsSpool::new();
        for (line, field) in [
            (3, Some(Field::Amount)),
            (9, None),
            (12, None),
            (1, Some(Field::OrderId)),
            (5, None),
        ] {
            spool.write(&err(line, field)).unwrap();
        }
        assert_eq!((spool.count(), spool.truncated()), (5, false));
        let path = spool.finish().unwrap().unwrap();
        let got = read(&path);
        let lines: Vec<u64> = got.iter().map(|v| v["line"].as_u64().unwrap()).collect();
        assert_eq!(lines, vec![1, 3, 5, 9, 12]);
        assert_eq!(
            got[1],
            serde_json::json!({"line": 3, "field": "amount", "reason": "reason 3", "text": "text 3"})
        );
        assert_eq!(got[3]["field"], serde_json::Value::Null);
    }

    #[test]
    fn past_the_cap_lines_are_counted_not_written() {
        let mut spool = RejectsSpool::with_cap(3);
        for line in [2, 4, 6, 8, 1] {
            spool.write(&err(line, None)).unwrap();
        }
        assert_eq!((spool.count(), spool.truncated()), (5, true));
        let path = spool.finish().unwrap().unwrap();
        let lines: Vec<u64> = read(&path)
            .iter()
            .map(|v| v["line"].as_u64().unwrap())
            .collect();
        assert_eq!(lines, vec![2, 4, 6], "the first three found, in line order");

        let mut spool = RejectsSpool::with_cap(3);
        for line in 1..=3 {
            spool.write(&err(line, None)).unwrap();
        }
        assert!(!spool.truncated(), "exactly the cap");
    }

    #[test]
    fn a_report_line_is_the_line_errors_own_json() {
        let e = LineError {
            line: 7,
            field: Some(Field::Seq),
            reason: "bad \"seq\"".into(),
            text: "{\"seq\":0}".into(),
        };
        let mut want = serde_json::to_vec(&e).unwrap();
        want.push(b'\n');
        assert_eq!(report_line(&e).unwrap(), want);
    }

    fn bounded(reason: String, text: String) -> (LineError, serde_json::Value, usize) {
        let e = LineError {
            line: u64::MAX,
            field: Some(Field::OrderId),
            reason,
            text,
        };
        let bytes = report_line(&e).unwrap();
        let value = serde_json::from_slice(&bytes).unwrap();
        (e, value, bytes.len())
    }

    #[test]
    fn escapes_cut_the_text_shorter_than_1_kib_to_bound_the_line() {
        // 1 KiB of control characters: each is six bytes of JSON (`\u0001`).
        let (_, v, len) = bounded("r".into(), "\u{1}".repeat(1024));
        assert!(len <= MAX_REPORT_LINE_BYTES, "{len}");
        let text = v["text"].as_str().unwrap();
        assert!(
            text.len() > 300 && text.chars().all(|c| c == '\u{1}'),
            "{text:?}"
        );
        assert!(
            len > MAX_REPORT_LINE_BYTES - 12,
            "not cut much more than needed: {len}"
        );
        // A long reason is cut at 512 bytes, on a character boundary.
        let (_, v, len) = bounded("é".repeat(1000), "t".into());
        assert!(len <= MAX_REPORT_LINE_BYTES);
        assert_eq!(v["reason"].as_str().unwrap(), "é".repeat(256));
        assert_eq!(v["text"], "t");
    }

    proptest! {
        #[test]
        fn every_report_line_is_bounded_and_a_prefix_of_the_entry(
            reason in "(?s).{0,700}",
            text in "(?s).{0,1100}",
        ) {
            let (e, v, len) = bounded(reason, text);
            prop_assert!(len <= MAX_REPORT_LINE_BYTES, "{} bytes", len);
            prop_assert_eq!(v["line"].as_u64(), Some(e.line));
            prop_assert_eq!(v["field"].as_str(), Some("order_id"));
            let (r, t) = (v["reason"].as_str().unwrap(), v["text"].as_str().unwrap());
            prop_assert!(e.reason.starts_with(r) && e.text.starts_with(t));
            prop_assert!(r.len() <= MAX_REASON_BYTES && t.len() <= ledger_format::MAX_TEXT_BYTES);
        }
    }

    #[test]
    fn excerpts_are_cut_at_1_kib_on_a_char_boundary() {
        assert_eq!(excerpt("abc"), "abc");
        let s = format!("{}€", "a".repeat(1022));
        assert_eq!(excerpt(&s), "a".repeat(1022));
    }
}
