//! Push-based gzip decompression of every member of a (multi-member) gzip file.
//!
//! `flate2`'s write-side decoder takes compressed bytes and writes what they decompress
//! to into a `Vec`; each `write` call decompresses at most one internal buffer (32 KiB).
//! [`Gunzip::push`] makes one such call and hands its output on, so the caller bounds what
//! is decompressed before it is used, however well the data compresses.

use super::error::DecodeError;
use flate2::write::MultiGzDecoder;
use std::io::{self, Write};

pub(crate) struct Gunzip {
    decoder: MultiGzDecoder<Vec<u8>>,
    /// Whether any compressed byte arrived (an empty object is an empty ledger).
    started: bool,
}

impl Gunzip {
    pub(crate) fn new() -> Self {
        Self {
            decoder: MultiGzDecoder::new(Vec::new()),
            started: false,
        }
    }

    /// Decompresses the start of `chunk` — one `write`, one pass of the inflater — and
    /// hands its output to `sink`; returns the compressed bytes taken.
    pub(crate) fn push(
        &mut self,
        chunk: &[u8],
        mut sink: impl FnMut(&[u8]) -> Result<(), DecodeError>,
    ) -> Result<usize, DecodeError> {
        if chunk.is_empty() {
            return Ok(0);
        }
        self.started = true;
        let taken = self.decoder.write(chunk).map_err(corrupt)?;
        let produced = self.drain(&mut sink)?;
        if taken == 0 && !produced {
            return Err(corrupt(io::Error::new(
                io::ErrorKind::InvalidData,
                "the gzip decoder made no progress",
            )));
        }
        Ok(taken)
    }

    /// End of input: checks that the last member is complete, and hands on the rest.
    pub(crate) fn finish(
        &mut self,
        mut sink: impl FnMut(&[u8]) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        if !self.started {
            return Ok(());
        }
        self.decoder.try_finish().map_err(corrupt)?;
        self.drain(&mut sink)?;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn buffered(&mut self) -> usize {
        self.decoder.get_mut().capacity()
    }

    fn drain(
        &mut self,
        sink: &mut impl FnMut(&[u8]) -> Result<(), DecodeError>,
    ) -> Result<bool, DecodeError> {
        let out = self.decoder.get_mut();
        if out.is_empty() {
            return Ok(false);
        }
        let result = sink(out);
        out.clear();
        result.map(|()| true)
    }
}

fn corrupt(source: io::Error) -> DecodeError {
    DecodeError::Gzip { source }
}
