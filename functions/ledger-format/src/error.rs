//! The two ways decoding fails: one refused line ([`LineError`]) or the whole file
//! ([`DecodeError`]).

use super::MAX_TEXT_BYTES;
use convoy_core::field::Field;
use std::fmt;

/// A line (or CSV record) refused at the ledger: the entry of the rejects report
/// (contract section 5), `{"line", "field", "reason", "text"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("line {line}: {}{reason}", FieldPrefix(*field))]
pub struct LineError {
    /// The physical line where the line or record starts, from 1.
    pub line: u64,
    /// The first failing field in the contract's order; `None` when the line as a whole
    /// is broken (too long, not UTF-8, not a JSON object, wrong number of CSV fields).
    pub field: Option<Field>,
    /// Why, in a sentence.
    pub reason: String,
    /// The raw line or record as written, cut at 1 KiB on a character boundary
    /// (bytes that are not UTF-8 shown as U+FFFD).
    pub text: String,
}

impl LineError {
    pub(crate) fn new(line: u64, field: Option<Field>, reason: String, raw: &[u8]) -> Self {
        Self {
            line,
            field,
            reason,
            text: excerpt(raw),
        }
    }
}

struct FieldPrefix(Option<Field>);

impl fmt::Display for FieldPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(field) => write!(f, "{field}: "),
            None => Ok(()),
        }
    }
}

/// A failure of the whole file: decoding stops, the lines already pushed stand.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The gzip data is corrupt or truncated.
    #[error("corrupt or truncated gzip data")]
    Gzip {
        #[source]
        source: std::io::Error,
    },
    /// The CSV header cannot be read, so no row can be.
    #[error("line {line}: CSV header {reason}")]
    CsvHeader { line: u64, reason: String },
    /// `push` or `finish` after the decoder failed or finished.
    #[error("the decoder has already {0}")]
    Closed(&'static str),
}

/// `raw` cut at [`MAX_TEXT_BYTES`] on a character boundary, as text.
pub(crate) fn excerpt(raw: &[u8]) -> String {
    let mut end = raw.len().min(MAX_TEXT_BYTES);
    // Do not cut a UTF-8 sequence in two: back off over (at most 3) continuation bytes.
    let floor = end.saturating_sub(3);
    while end > floor && end < raw.len() && raw[end] & 0xC0 == 0x80 {
        end -= 1;
    }
    let mut text = String::from_utf8_lossy(&raw[..end]).into_owned();
    if text.len() > MAX_TEXT_BYTES {
        // Replacement characters are longer than the bytes they replace.
        let mut cut = MAX_TEXT_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_line_and_field() {
        let e = LineError::new(
            12,
            Some(Field::Amount),
            "more than 4 fraction digits".into(),
            b"x",
        );
        assert_eq!(
            e.to_string(),
            "line 12: amount: more than 4 fraction digits"
        );
        let e = LineError::new(3, None, "not valid JSON".into(), b"x");
        assert_eq!(e.to_string(), "line 3: not valid JSON");
    }

    #[test]
    fn serializes_as_the_rejects_report_entry() {
        let e = LineError::new(7, Some(Field::Seq), "bad".into(), b"{\"seq\":0}");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"line": 7, "field": "seq", "reason": "bad", "text": "{\"seq\":0}"})
        );
        let e = LineError::new(8, None, "bad".into(), b"");
        assert_eq!(
            serde_json::to_value(&e).unwrap()["field"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn excerpt_cuts_at_1_kib_on_a_char_boundary() {
        assert_eq!(excerpt(b"short"), "short");
        let ascii = "a".repeat(5000);
        assert_eq!(excerpt(ascii.as_bytes()).len(), 1024);
        // 'é' is two bytes: 1023 ASCII bytes then 'é' straddles the limit.
        let s = format!("{}é{}", "a".repeat(1023), "b".repeat(10));
        let cut = excerpt(s.as_bytes());
        assert_eq!(cut, "a".repeat(1023));
        let s = format!("{}€", "a".repeat(1022)); // '€' is three bytes
        assert_eq!(excerpt(s.as_bytes()), "a".repeat(1022));
        let s = "€".repeat(1000);
        let cut = excerpt(s.as_bytes());
        assert!(cut.len() <= 1024 && cut.len() > 1020, "{}", cut.len());
        assert!(cut.chars().all(|c| c == '€'));
    }

    #[test]
    fn excerpt_of_invalid_utf8_is_lossy_and_bounded() {
        assert_eq!(excerpt(b"a\xffb"), "a\u{fffd}b");
        let cut = excerpt(&[0xff; 4000]);
        assert!(cut.len() <= 1024);
        assert!(cut.chars().all(|c| c == '\u{fffd}'));
    }
}
