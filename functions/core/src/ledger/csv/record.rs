//! One CSV record: as it came (all in the input, or spread over reads), and its fields
//! read through the header as a line's [`Source`].

use super::header::{Header, Slot};
use super::spanning::Spanning;
use crate::field::Field;
use crate::ledger::fields::{Source, Value};

/// A row read through the header.
pub(super) struct Record<'a> {
    pub(super) header: &'a Header,
    pub(super) fields: Fields<'a>,
}

impl Source for Record<'_> {
    fn value(&self, field: Field) -> Value<'_> {
        match self.header.slot(field) {
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
pub(super) struct Fields<'a> {
    text: &'a str,
    ends: &'a [usize],
    delimited: bool,
}

impl<'a> Fields<'a> {
    /// The fields of a record without quotes, cut out of its text between the commas.
    pub(super) fn delimited(text: &'a str, ends: &'a [usize]) -> Self {
        Self {
            text,
            ends,
            delimited: true,
        }
    }

    /// The fields as `csv-core` wrote them, back to back.
    pub(super) fn back_to_back(text: &'a str, ends: &'a [usize]) -> Self {
        Self {
            text,
            ends,
            delimited: false,
        }
    }

    /// Field `i` (`""` past the last).
    pub(super) fn get(&self, i: usize) -> &'a str {
        let Some(&end) = self.ends.get(i) else {
            return "";
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        let commas = if self.delimited { i } else { 0 };
        self.text.get(start + commas..end + commas).unwrap_or("")
    }
}

/// A whole record as `CsvRecords::record` takes it.
pub(super) enum Whole<'a> {
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
pub(super) fn content_of(raw: &[u8]) -> (&[u8], bool) {
    let content = raw.strip_suffix(b"\n").unwrap_or(raw);
    match content.strip_suffix(b"\r") {
        Some(content) => (content, true),
        None => (content, false),
    }
}
