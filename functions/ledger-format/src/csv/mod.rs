//! CSV ledgers (RFC 4180, header row) record by record, with `csv-core` doing the parsing.
//!
//! Records are found by `csv-core` over the raw byte stream, so a quoted field may hold
//! commas, quotes and newlines, and a record is numbered by the physical line it starts
//! on. Lines are split on `\n` only: the `\r` of a `\r\n` ending is taken off the last
//! field, while a `\r\n` inside a quoted field is kept as written.
//!
//! # Layout
//! - this file: [`CsvRecords`], the reading loop, and the checks of a whole record;
//! - `buffer`: the fields `csv-core` writes for the current record, and their room;
//! - `header`: the header row, and which column holds each known field;
//! - `record`: one record as it came, and its fields read through the header;
//! - `spanning`: what is kept of a record that spans reads.

mod buffer;
mod header;
mod record;
mod spanning;
#[cfg(test)]
mod tests;

use super::decoder::{is_blank, too_long, Parsed};
use super::error::{DecodeError, LineError};
use super::fields::push_parsed;
use super::utf8::Utf8Window;
use super::MAX_LINE_BYTES;
use buffer::FieldBuffer;
use csv_core::{ReadRecordResult, Reader, ReaderBuilder, Terminator};
use header::Header;
pub(crate) use header::MAX_COLUMNS;
use record::{content_of, Record, Whole};
use spanning::Spanning;

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
    /// The current record's fields.
    buffer: FieldBuffer,
    header: Option<Header>,
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
            buffer: FieldBuffer::new(),
            header: None,
        }
    }

    pub(crate) fn newlines(&self) -> u64 {
        self.newlines
    }

    /// The lines every record of which is decoded: up to the current record's start.
    pub(crate) fn settled_lines(&self) -> u64 {
        if self.in_record {
            self.start_line.saturating_sub(1)
        } else {
            self.newlines
        }
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
                self.in_record = true;
                self.start_line = self.newlines + 1;
            }
            let lines_before = self.reader.line();
            let (result, nin) = self.buffer.read(&mut self.reader, &input[pos..]);
            self.newlines += self.reader.line() - lines_before;
            let consumed = &input[pos..pos + nin];
            if nin == 0 && matches!(result, ReadRecordResult::InputEmpty | ReadRecordResult::End) {
                break; // cannot happen with input left; never spin
            }
            match result {
                ReadRecordResult::Record if self.spanning.is_empty() => {
                    // The whole record is in this input: its UTF-8 may be known already.
                    let (content, crlf) = content_of(consumed);
                    let whole = Whole::Here {
                        content,
                        crlf,
                        utf8: utf8.get(pos, pos + content.len()).is_some(),
                    };
                    self.record(whole, out)?;
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
                    self.buffer.more_field_room();
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

    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.spanning.capacity() + self.buffer.capacity()
    }

    /// End of input: the last record needs no line ending.
    pub(crate) fn finish(&mut self, out: &mut Vec<Parsed>) -> Result<(), DecodeError> {
        // Bounded: each turn ends the record, grows the room for field ends, or stops.
        for _ in 0..64 {
            match self.buffer.read(&mut self.reader, &[]).0 {
                ReadRecordResult::Record => self.spanning_record(true, out)?,
                ReadRecordResult::OutputEndsFull => self.more_end_room(),
                ReadRecordResult::End
                | ReadRecordResult::InputEmpty
                | ReadRecordResult::OutputFull => break,
            }
        }
        Ok(())
    }

    fn more_end_room(&mut self) {
        let columns = self.header.as_ref().map(Header::columns);
        self.buffer.more_end_room(columns);
    }

    /// A whole record: checked, then a transaction or a refusal (or the header).
    fn record(&mut self, whole: Whole<'_>, out: &mut Vec<Parsed>) -> Result<(), DecodeError> {
        let result = self.check_record(&whole, out);
        self.in_record = false;
        self.buffer.clear();
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
        if self.buffer.dropped() || len > MAX_LINE_BYTES {
            return broken(&self.header, out, too_long());
        }
        if crlf {
            self.buffer.take_off_cr();
        }
        let blank = match *whole {
            Whole::Here { content, .. } => is_blank(content),
            // Only white space means one field, unquoted, of only white space.
            Whole::Spanning { spanning, .. } => {
                !spanning.saw_quote() && self.buffer.count() == 1 && is_blank(self.buffer.bytes())
            }
        };
        if self.buffer.bytes().is_empty() || blank {
            return Ok(());
        }
        let checked = match *whole {
            Whole::Here { utf8: true, .. } => Ok(()),
            Whole::Here { content, .. } => std::str::from_utf8(content)
                .map(|_| ())
                .map_err(|e| e.valid_up_to()),
            Whole::Spanning { spanning, .. } => spanning.utf8(),
        };
        if let Err(at) = checked {
            let reason = format!("not valid UTF-8 (byte {})", at + 1);
            return broken(&self.header, out, reason);
        }
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
        let count = self.buffer.count();
        let Some(header) = &self.header else {
            if self.buffer.too_many() || count > MAX_COLUMNS {
                let reason = format!("has more than {MAX_COLUMNS} columns");
                return Err(DecodeError::CsvHeader { line, reason });
            }
            self.header = Some(Header::read(&self.buffer.fields(), count));
            return Ok(());
        };
        let columns = header.columns();
        if self.buffer.too_many() || count != columns {
            let n = if self.buffer.too_many() {
                format!("more than {columns}")
            } else {
                count.to_string()
            };
            let reason = format!("has {n} fields but the header has {columns}");
            return broken(&self.header, out, reason);
        }
        let record = Record {
            header,
            fields: self.buffer.fields(),
        };
        push_parsed(&record, line, excerpt, out);
        Ok(())
    }
}
