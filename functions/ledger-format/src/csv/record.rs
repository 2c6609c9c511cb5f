//! One CSV record: as it came (all in the input, or spread over reads), and its fields
//! read through the header as a line's [`Source`].

use super::header::{Header, Slot};
use super::spanning::Spanning;
use crate::fields::{Source, Value};
use convoy_core::field::Field;

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

/// The fields of one record: field `i` ends at `ends[i]` in `text`, the fields back to back.
pub(super) struct Fields<'a> {
    text: &'a str,
    ends: &'a [usize],
}

impl<'a> Fields<'a> {
    pub(super) fn new(text: &'a str, ends: &'a [usize]) -> Self {
        Self { text, ends }
    }

    /// Field `i` (`""` past the last).
    pub(super) fn get(&self, i: usize) -> &'a str {
        let Some(&end) = self.ends.get(i) else {
            return "";
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text.get(start..end).unwrap_or("")
    }
}

/// A whole record as `CsvRecords::record` takes it.
pub(super) enum Whole<'a> {
    /// All in the current input: without its line ending, whether that was `\r\n`, and
    /// whether it is known to be UTF-8 already.
    Here {
        content: &'a [u8],
        crlf: bool,
        utf8: bool,
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
