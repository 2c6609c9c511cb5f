//! The current record's fields as `csv-core` writes them: unquoted bytes back to back,
//! where each field ends, and the room for them growing up to the limits.

use super::header::MAX_COLUMNS;
use super::record::Fields;
use crate::MAX_LINE_BYTES;
use csv_core::{ReadRecordResult, Reader};

/// A record's field bytes are at most its length: the line limit (plus a `\r`).
const FIELDS_LIMIT: usize = MAX_LINE_BYTES + 1;

pub(super) struct FieldBuffer {
    /// `bytes[..len]` are the fields so far, back to back.
    bytes: Vec<u8>,
    len: usize,
    /// The field bytes did not fit (the record is over-long); they were dropped.
    dropped: bool,
    /// `ends[..ends_len]`: where each field so far ends in `bytes`.
    ends: Vec<usize>,
    ends_len: usize,
    /// More fields than the header has: their ends were dropped.
    too_many: bool,
}

impl FieldBuffer {
    pub(super) fn new() -> Self {
        Self {
            bytes: vec![0; 4096],
            len: 0,
            dropped: false,
            ends: vec![0; 16],
            ends_len: 0,
            too_many: false,
        }
    }

    /// `csv-core` reads on from `input` into the room left; returns its result and the
    /// input bytes it consumed.
    pub(super) fn read(&mut self, reader: &mut Reader, input: &[u8]) -> (ReadRecordResult, usize) {
        let (result, nin, nout, nend) = reader.read_record(
            input,
            &mut self.bytes[self.len..],
            &mut self.ends[self.ends_len..],
        );
        self.len += nout;
        self.ends_len += nend;
        (result, nin)
    }

    /// Doubles the room for field bytes, or drops them once they pass the limit (the
    /// record is refused anyway).
    pub(super) fn more_field_room(&mut self) {
        if self.bytes.len() < FIELDS_LIMIT {
            let len = (self.bytes.len() * 2).min(FIELDS_LIMIT);
            self.bytes.reserve_exact(len - self.bytes.len());
            self.bytes.resize(len, 0);
        } else {
            self.dropped = true;
            self.len = 0;
        }
    }

    /// Doubles the room for field ends, up to one more than `columns` (or than
    /// [`MAX_COLUMNS`] while there is no header yet); past it the ends are dropped.
    pub(super) fn more_end_room(&mut self, columns: Option<usize>) {
        let cap = columns.unwrap_or(MAX_COLUMNS) + 1;
        if self.ends.len() < cap {
            let len = (self.ends.len() * 2).min(cap);
            self.ends.reserve_exact(len - self.ends.len());
            self.ends.resize(len, 0);
        } else {
            self.too_many = true;
            self.ends_len = 0;
        }
    }

    /// Ready for the next record.
    pub(super) fn clear(&mut self) {
        self.len = 0;
        self.dropped = false;
        self.ends_len = 0;
        self.too_many = false;
    }

    /// Takes off the `\r` of a `\r\n` ending, which `csv-core` put into the last field.
    pub(super) fn take_off_cr(&mut self) {
        if self.len > 0 && self.bytes[self.len - 1] == b'\r' {
            self.len -= 1;
            if !self.too_many {
                if let Some(end) = self.ends[..self.ends_len].last_mut() {
                    *end = self.len;
                }
            }
        }
    }

    /// The field bytes were dropped: the record is over-long.
    pub(super) fn dropped(&self) -> bool {
        self.dropped
    }

    /// The record has more fields than there was room for (the header's, or
    /// [`MAX_COLUMNS`]).
    pub(super) fn too_many(&self) -> bool {
        self.too_many
    }

    /// How many fields the record has (unless [`too_many`](Self::too_many)).
    pub(super) fn count(&self) -> usize {
        self.ends_len
    }

    /// The field bytes back to back.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The fields of a record that is valid UTF-8. They are cut at ASCII bytes (commas,
    /// quotes, the line ending) of valid UTF-8, so they are valid UTF-8 too: the check
    /// cannot fail.
    pub(super) fn fields(&self) -> Fields<'_> {
        let text = std::str::from_utf8(self.bytes()).unwrap_or("");
        Fields::new(text, &self.ends[..self.ends_len])
    }

    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }
}
