//! Test helpers: decode whole byte strings, in chunks, gzip them, and summarize the output.

use super::{DecodeError, Decoder, Format, LedgerKind, Parsed};
use convoy_core::field::Field;
use std::io::Write;

pub(crate) const JSONL: LedgerKind = LedgerKind {
    format: Format::JsonLines,
    gzip: false,
};
pub(crate) const CSV: LedgerKind = LedgerKind {
    format: Format::Csv,
    gzip: false,
};

pub(crate) fn gz(kind: LedgerKind) -> LedgerKind {
    LedgerKind { gzip: true, ..kind }
}

impl Decoder {
    /// Feeds all of `input`, step after step, collecting everything in `out`.
    pub(crate) fn feed_all(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<Parsed>,
    ) -> Result<(), DecodeError> {
        while !input.is_empty() {
            let taken = self.feed(input, out)?;
            input = &input[taken..];
        }
        Ok(())
    }
}

/// Everything a decoder makes of `bytes` fed in chunks of the given sizes (cycled),
/// and the lines it read.
pub(crate) fn decode_in_chunks(
    kind: LedgerKind,
    bytes: &[u8],
    sizes: &[usize],
) -> (Vec<Parsed>, u64) {
    let mut decoder = Decoder::new(kind);
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut sizes = sizes.iter().copied().cycle();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        decoder.feed_all(&rest[..n], &mut out).unwrap();
        rest = &rest[n..];
    }
    decoder.finish(&mut out).unwrap();
    (out, decoder.lines_read())
}

/// Like [`decode_in_chunks`], but a whole-file failure ends the run and is kept as text.
pub(crate) type Outcome = (Vec<Parsed>, u64, Option<String>);

pub(crate) fn try_decode_in_chunks(kind: LedgerKind, bytes: &[u8], sizes: &[usize]) -> Outcome {
    let mut decoder = Decoder::new(kind);
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut sizes = sizes.iter().copied().cycle();
    let mut result = Ok(());
    while !rest.is_empty() && result.is_ok() {
        let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        result = decoder.feed_all(&rest[..n], &mut out);
        rest = &rest[n..];
    }
    let result = result.and_then(|()| decoder.finish(&mut out));
    (
        out,
        decoder.lines_read(),
        result.err().map(|e| e.to_string()),
    )
}

pub(crate) fn decode(kind: LedgerKind, bytes: &[u8]) -> Vec<Parsed> {
    decode_in_chunks(kind, bytes, &[]).0
}

/// `(line, field)` of every refusal, in order.
pub(crate) fn refusals(out: &[Parsed]) -> Vec<(u64, Option<Field>)> {
    out.iter()
        .filter_map(|p| match p {
            Parsed::Refused(e) => Some((e.line, e.field)),
            Parsed::Txn { .. } => None,
        })
        .collect()
}

/// Line numbers of the transactions, in order.
pub(crate) fn txn_lines(out: &[Parsed]) -> Vec<u64> {
    out.iter()
        .filter_map(|p| match p {
            Parsed::Txn { line, .. } => Some(*line),
            Parsed::Refused(_) => None,
        })
        .collect()
}

/// The only refusal in `out`.
pub(crate) fn only_refusal(out: &[Parsed]) -> &super::LineError {
    match out {
        [Parsed::Refused(e)] => e,
        other => panic!("expected one refusal, got {other:#?}"),
    }
}

/// `bytes` as one gzip member.
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}
