//! Streaming decoding of ledger files (contract section 1): bytes in, transactions and
//! refused lines out.
//!
//! The caller feeds raw chunks of an object as they arrive ([`Decoder::feed`]) and ends
//! with [`Decoder::finish`]; every complete line (or CSV record) comes out as a
//! [`Parsed`]: a valid [`Transaction`](convoy_core::Transaction) or a [`LineError`] for the
//! rejects report. Memory stays bounded whatever the file: about [`MAX_LINE_BYTES`] of a
//! line is held at most, gzip is decompressed as it streams, and one `feed` decodes at most
//! [`MAX_STEP_BYTES`] of text (it says how much of its input it took; the caller feeds the
//! rest after handing the output on). So what one call yields is bounded too, whatever the
//! chunk size or the compression ratio: a 4 KB gzip bomb of two million refused lines
//! comes out 32,768 refusals at a time at most, not all at once.
//!
//! # Layout
//! - [`kind`]: which format a key names ([`kind_of_key`]).
//! - [`decoder`]: [`Decoder`], the push-based pipeline gzip → BOM → lines/records.
//! - `gzip`: push-based decompression of every member of a gzip file (`flate2` on zlib-rs).
//! - `jsonl`: JSON Lines, line by line, with `carry` holding a line that spans chunks.
//! - `csv`: CSV records found by `csv-core`: the reading loop, the field buffer, the
//!   header, one record read through the header, and `csv::spanning` for a record that
//!   spans reads.
//! - `fields`: a line's field values into a transaction, each checked by its type's one
//!   `parse`, in the contract's order, naming the first failing field.
//! - `datetime`: the RFC 3339 check of `at`.
//! - `utf8`: UTF-8 checked once per chunk rather than once per line, or piece by piece.
//! - [`error`]: [`LineError`] (one refused line) and [`DecodeError`] (the whole file).
//!
//! The ledger format builds on the domain types of `convoy-core` (`OrderId`, `Seq`, `Amount`,
//! `Transaction` and its parts, `Field`) through their public `parse` constructors only.
//! Only the ledger function reads ledgers, so only it compiles this crate; the consumer and
//! the store depend on `convoy-core` alone.
//!
//! # Choices where the contract is silent
//! - A JSON key or CSV column that a known field has twice refuses the line naming that
//!   field, when that field is checked (so not when the op ignores it).
//! - JSON `null` is the same as an absent field (as in the wire format of a transaction).
//! - `at` has at most 9 fraction digits of a second (RFC 3339 sets no bound): so every
//!   field is bounded, and so is every message and stored item (`convoy_core::bounds`).
//! - A reason quotes a value up to 64 characters (`"…"…`), never a line's worth of it.
//! - A JSON string whose escapes make no text (a lone surrogate, `"\ud800"`) is refused
//!   naming its field, when that field is checked; the line is valid JSON otherwise.
//! - Blank lines before a CSV header are skipped: the header is the first non-blank record.
//! - A line longer than [`MAX_LINE_BYTES`] is refused even if it is only white space; the
//!   limit counts the bytes of the line without its `\n` or `\r\n` ending.
//! - A CSV header that is too long, not UTF-8 or wider than 4096 columns fails the whole file
//!   ([`DecodeError::CsvHeader`]). Column names are matched exactly (case and spaces
//!   included). A CSV record ending inside a quoted field (at the end of the file) is
//!   refused as a whole; other quote oddities are read as `csv-core` reads them.
//! - An empty `.gz` object (zero bytes) is an empty ledger, not a corrupt one.

mod carry;
mod csv;
mod datetime;
pub mod decoder;
pub mod error;
mod fields;
mod gzip;
mod jsonl;
pub mod kind;
mod utf8;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod vectors;

pub use decoder::{Decoder, Parsed, Settled};
pub use error::{DecodeError, LineError};
pub use kind::{kind_of_key, Format, LedgerKind, UnsupportedKey};

/// The longest line (or CSV record) accepted, in bytes, without its line ending: 256 KiB.
pub const MAX_LINE_BYTES: usize = 256 * 1024;

/// The most text (decompressed) one [`Decoder::feed`] decodes: 64 KiB. A gzip call is
/// one pass of the inflater (its 32 KiB buffer, plus what an earlier pass left in it).
pub const MAX_STEP_BYTES: usize = 64 * 1024;

/// The longest `text` a [`LineError`] carries: 1 KiB, cut on a character boundary.
pub const MAX_TEXT_BYTES: usize = 1024;

/// The longest `note` accepted, in bytes (a bound of the domain: see
/// [`convoy_core::bounds`] for the sizes that follow from the bounds of the fields).
pub use convoy_core::transaction::MAX_NOTE_BYTES;
