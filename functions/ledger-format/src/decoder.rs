//! [`Decoder`]: the push-based pipeline raw chunks → (gunzip) → BOM → lines or records.

use super::csv::CsvRecords;
use super::error::{DecodeError, LineError};
use super::gzip::Gunzip;
use super::jsonl::JsonLines;
use super::kind::{Format, LedgerKind};
use super::MAX_STEP_BYTES;
use convoy_core::transaction::Transaction;

/// What one line (or CSV record) of a ledger gave. Blank lines give nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A valid transaction, from the physical line where it starts.
    Txn { line: u64, txn: Transaction },
    /// A line refused at the ledger, for the rejects report.
    Refused(LineError),
}

impl Parsed {
    /// The physical line where the line or record starts, from 1.
    pub fn line(&self) -> u64 {
        match self {
            Parsed::Txn { line, .. } => *line,
            Parsed::Refused(e) => e.line,
        }
    }
}

/// Decodes a ledger fed to it chunk by chunk: synchronous, pure, bounded memory.
///
/// Each [`feed`](Decoder::feed) decodes only the start of its input — at most
/// [`MAX_STEP_BYTES`] of text, after gunzip — and says how much it took, so that the caller
/// can hand on what came out (and wait for room downstream) before it feeds the rest: what
/// one call yields is bounded whatever the chunk size or the compression ratio.
///
/// ```
/// use ledger_format::{kind_of_key, Decoder, Parsed};
/// let mut decoder = Decoder::new(kind_of_key("ledgers/day.jsonl")?);
/// let mut out = Vec::new();
/// for chunk in [
///     &br#"{"order_id":"A","seq":1,"op":"create","currency":"EUR"}"#[..],
///     b"\n{\"order_id\":\"A\",\"seq\":\"2\",\"op\":\"pay\"}",
/// ] {
///     let mut rest = chunk;
///     while !rest.is_empty() {
///         let taken = decoder.feed(rest, &mut out)?;
///         rest = &rest[taken..];
///         // hand `out` on here, then clear it
///     }
/// }
/// decoder.finish(&mut out)?;
/// assert!(matches!(&out[0], Parsed::Txn { line: 1, .. }));
/// assert!(matches!(&out[1], Parsed::Refused(e) if e.line == 2));
/// assert_eq!(decoder.lines_read(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Decoder {
    gunzip: Option<Gunzip>,
    text: Text,
    state: State,
    /// Lines already done in an earlier run ([`Decoder::resume`]): decoded again, but
    /// nothing of theirs is output.
    skip_through: u64,
    /// Where in the object the input fed to this decoder starts.
    input_offset: u64,
}

/// How far a ledger is decoded: its first `line` lines are, and nothing of a later line has
/// come out. A decoder resumed there ([`Decoder::resume`]) gives exactly the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Settled {
    pub line: u64,
    /// The byte offset in the object where line `line + 1` starts, where a decoder can be
    /// fed from there (an uncompressed JSON Lines ledger); otherwise `None`: a resumed
    /// decoder reads the object from its start and skips the settled lines.
    pub offset: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Finished,
    Failed,
}

impl Decoder {
    pub fn new(kind: LedgerKind) -> Self {
        let body = match kind.format {
            Format::JsonLines => Body::JsonLines(JsonLines::new()),
            Format::Csv => Body::Csv(Box::new(CsvRecords::new())),
        };
        Self {
            gunzip: kind.gzip.then(Gunzip::new),
            text: Text {
                bom: [0; 3],
                bom_len: 0,
                bom_done: false,
                ends_mid_line: false,
                body,
            },
            state: State::Open,
            skip_through: 0,
            input_offset: 0,
        }
    }

    /// A decoder for the rest of a ledger of which `done` is settled (by an earlier run's
    /// [`Decoder::settled`]). Feed it the object from [`Decoder::input_offset`]: from
    /// `done.offset` where there is one (an uncompressed JSON Lines ledger, read with a
    /// range), else from the start — its first `done.line` lines are decoded again, but
    /// nothing of theirs is output (a CSV ledger needs its header; a gzip stream, its start).
    pub fn resume(kind: LedgerKind, done: Settled) -> Self {
        match done.offset {
            // At offset 0 nothing is settled (a stop inside a BOM settles there): a fresh
            // start, which drops the BOM, is the rest.
            Some(offset) if offset > 0 && !kind.gzip && kind.format == Format::JsonLines => Self {
                gunzip: None,
                text: Text {
                    bom: [0; 3],
                    bom_len: 0,
                    bom_done: true,
                    ends_mid_line: false,
                    body: Body::JsonLines(JsonLines::resume(done.line, offset)),
                },
                state: State::Open,
                skip_through: 0,
                input_offset: offset,
            },
            _ => Self {
                skip_through: done.line,
                ..Self::new(kind)
            },
        }
    }

    /// Where in the object this decoder's input starts: 0, or the offset it resumes at.
    pub fn input_offset(&self) -> u64 {
        self.input_offset
    }

    /// How far the ledger is decoded now: every line up to `line` has given its output (a
    /// CSV record spanning lines counts from the line it starts on), none after it has.
    pub fn settled(&self) -> Settled {
        let (line, offset) = match &self.text.body {
            _ if self.state == State::Finished => (self.lines_read(), None),
            Body::JsonLines(lines) => {
                let bom = if self.text.bom_done && self.text.bom[..self.text.bom_len] == BOM[..] {
                    3
                } else {
                    0
                };
                let offset = self.gunzip.is_none().then(|| bom + lines.line_start());
                (lines.newlines(), offset)
            }
            Body::Csv(records) => (records.settled_lines(), None),
        };
        if line < self.skip_through {
            // Still reading again what an earlier run did.
            return Settled {
                line: self.skip_through,
                offset: None,
            };
        }
        Settled { line, offset }
    }

    /// Feeds the start of `input` (raw bytes, gzip-compressed if the kind says so): decodes
    /// at most [`MAX_STEP_BYTES`] of its text and appends the lines that completes to `out`,
    /// in line order. Returns how many bytes of `input` it took; feed the rest next (after
    /// handling `out`). Each call takes at least one byte of a non-empty `input` or yields
    /// text, so a loop over the rest ends. (A gzip call is one pass of the inflater: at most
    /// its 32 KiB buffer, plus what an earlier pass left in it.)
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<Parsed>) -> Result<usize, DecodeError> {
        self.check_open()?;
        let first_new = out.len();
        let text = &mut self.text;
        let result = match &mut self.gunzip {
            Some(gunzip) => gunzip.push(input, |bytes| text.feed(bytes, out)),
            None => {
                let taken = input.len().min(MAX_STEP_BYTES);
                text.feed(&input[..taken], out).map(|()| taken)
            }
        };
        self.skip_done(out, first_new);
        self.fail_on_error(result)
    }

    /// Drops what lines already done in an earlier run gave, from `out[first_new..]`.
    fn skip_done(&self, out: &mut Vec<Parsed>, first_new: usize) {
        if self.skip_through > 0
            && out[first_new..]
                .iter()
                .any(|p| p.line() <= self.skip_through)
        {
            let mut new = out.split_off(first_new);
            new.retain(|p| p.line() > self.skip_through);
            out.append(&mut new);
        }
    }

    /// End of input: decodes the last line (which needs no line ending) and checks that
    /// a gzip stream is complete.
    pub fn finish(&mut self, out: &mut Vec<Parsed>) -> Result<(), DecodeError> {
        self.check_open()?;
        let first_new = out.len();
        let text = &mut self.text;
        let result = match &mut self.gunzip {
            Some(gunzip) => gunzip.finish(|bytes| text.feed(bytes, out)),
            None => Ok(()),
        }
        .and_then(|()| self.text.finish(out));
        self.skip_done(out, first_new);
        self.fail_on_error(result)?;
        self.state = State::Finished;
        Ok(())
    }

    /// Physical lines seen so far: complete lines, and after [`finish`](Self::finish)
    /// the last line if it has no line ending.
    pub fn lines_read(&self) -> u64 {
        let partial = self.state == State::Finished && self.text.ends_mid_line;
        self.text.body.newlines() + u64::from(partial)
    }

    /// Bytes the decoder holds on to between pushes (its buffers' capacity).
    #[cfg(test)]
    fn buffered(&mut self) -> usize {
        let body = match &self.text.body {
            Body::JsonLines(lines) => lines.buffered(),
            Body::Csv(records) => records.buffered(),
        };
        body + self.gunzip.as_mut().map_or(0, Gunzip::buffered)
    }

    fn check_open(&self) -> Result<(), DecodeError> {
        match self.state {
            State::Open => Ok(()),
            State::Finished => Err(DecodeError::Closed("finished")),
            State::Failed => Err(DecodeError::Closed("failed")),
        }
    }

    fn fail_on_error<T>(&mut self, result: Result<T, DecodeError>) -> Result<T, DecodeError> {
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }
}

/// The decompressed text: a BOM at its very start is dropped, the rest goes to the body.
struct Text {
    bom: [u8; 3],
    bom_len: usize,
    bom_done: bool,
    /// Whether the last byte given to the body is not a `\n`.
    ends_mid_line: bool,
    body: Body,
}

const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

impl Text {
    fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<Parsed>) -> Result<(), DecodeError> {
        if !self.bom_done {
            while self.bom_len < 3
                && !bytes.is_empty()
                && self.bom[..self.bom_len] == BOM[..self.bom_len]
            {
                self.bom[self.bom_len] = bytes[0];
                self.bom_len += 1;
                bytes = &bytes[1..];
            }
            let so_far = &self.bom[..self.bom_len];
            if so_far.len() < 3 && so_far == &BOM[..so_far.len()] {
                return Ok(()); // could still be a BOM: wait for more
            }
            self.bom_done = true;
            if so_far != BOM {
                let head = self.bom;
                self.feed_body(&head[..self.bom_len], out)?;
            }
        }
        self.feed_body(bytes, out)
    }

    fn finish(&mut self, out: &mut Vec<Parsed>) -> Result<(), DecodeError> {
        if !self.bom_done {
            // A file shorter than a BOM that starts like one: it was text after all.
            self.bom_done = true;
            let head = self.bom;
            self.feed_body(&head[..self.bom_len], out)?;
        }
        match &mut self.body {
            Body::JsonLines(lines) => {
                lines.finish(out);
                Ok(())
            }
            Body::Csv(records) => records.finish(out),
        }
    }

    fn feed_body(&mut self, bytes: &[u8], out: &mut Vec<Parsed>) -> Result<(), DecodeError> {
        let Some(&last) = bytes.last() else {
            return Ok(());
        };
        self.ends_mid_line = last != b'\n';
        match &mut self.body {
            Body::JsonLines(lines) => {
                lines.feed(bytes, out);
                Ok(())
            }
            Body::Csv(records) => records.feed(bytes, out),
        }
    }
}

enum Body {
    JsonLines(JsonLines),
    Csv(Box<CsvRecords>),
}

impl Body {
    fn newlines(&self) -> u64 {
        match self {
            Body::JsonLines(lines) => lines.newlines(),
            Body::Csv(records) => records.newlines(),
        }
    }
}

/// Whether a line is blank: empty or only white space.
pub(crate) fn is_blank(line: &[u8]) -> bool {
    let is_space = |b: u8| b == b' ' || (b'\t'..=b'\r').contains(&b);
    match line.iter().position(|&b| !is_space(b)) {
        None => true,
        Some(i) if line[i].is_ascii() => false,
        // Non-ASCII white space (U+00A0, U+3000, ...) counts too.
        Some(i) => std::str::from_utf8(&line[i..]).is_ok_and(|s| s.trim().is_empty()),
    }
}

/// The reason given for a line over the limit.
pub(crate) fn too_long() -> String {
    format!("longer than {} bytes (256 KiB)", super::MAX_LINE_BYTES)
}

#[cfg(test)]
mod tests;
