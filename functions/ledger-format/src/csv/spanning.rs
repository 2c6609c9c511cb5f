//! What is kept of a CSV record that spans reads: its head and the state of its checks.
//!
//! The fields of such a record are in `csv-core`'s output already; keeping its raw bytes
//! too would double the memory a long record takes. So only the head is kept (for the
//! rejects report), and what the checks need of the rest is gathered as the bytes pass:
//! length, UTF-8, quotes, and how the record ends.

use crate::utf8::Utf8Stream;
use crate::MAX_TEXT_BYTES;

/// Enough of the head for the excerpt, cut on a character boundary.
const HEAD: usize = MAX_TEXT_BYTES + 4;

#[derive(Debug, Default)]
pub(super) struct Spanning {
    head: Vec<u8>,
    /// Bytes seen, line ending included.
    len: usize,
    utf8: Utf8Stream,
    quotes: Quotes,
    saw_quote: bool,
    /// The last two bytes seen.
    last: [u8; 2],
}

impl Spanning {
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn extend(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let room = HEAD.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
        self.len = self.len.saturating_add(bytes.len());
        self.utf8.push(bytes);
        self.saw_quote |= memchr::memchr(b'"', bytes).is_some();
        for &b in bytes {
            self.quotes.step(b);
        }
        match bytes {
            [.., a, b] => self.last = [*a, *b],
            [b] => self.last = [self.last[1], *b],
            [] => {}
        }
    }

    /// The record's length without its line ending, and whether that ending is `\r\n`
    /// (or a last `\r` at the end of the file).
    pub(super) fn content_len(&self) -> (usize, bool) {
        let mut len = self.len;
        let mut last = self.last;
        if len > 0 && last[1] == b'\n' {
            len -= 1;
            last = [0, last[0]];
        }
        let crlf = len > 0 && last[1] == b'\r';
        (len - usize::from(crlf), crlf)
    }

    /// The head of the record without its line ending (if the head reaches that far).
    pub(super) fn head(&self) -> &[u8] {
        let (content, _) = self.content_len();
        &self.head[..content.min(self.head.len())]
    }

    /// `Err(position)` of the first byte that is not UTF-8.
    pub(super) fn utf8(&self) -> Result<(), usize> {
        self.utf8.result()
    }

    pub(super) fn saw_quote(&self) -> bool {
        self.saw_quote
    }

    /// Whether the record ends inside a quoted field (possible only at the end of the file).
    pub(super) fn ends_inside_quotes(&self) -> bool {
        self.quotes == Quotes::Quoted
    }

    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.head.capacity()
    }

    pub(super) fn clear(&mut self) {
        self.head.clear();
        *self = Self {
            head: std::mem::take(&mut self.head),
            ..Self::default()
        };
    }
}

/// Where a record is with respect to quotes, following `csv-core`'s reading of them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Quotes {
    #[default]
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

impl Quotes {
    fn step(&mut self, b: u8) {
        *self = match (*self, b) {
            (Quotes::FieldStart, b'"') => Quotes::Quoted,
            (Quotes::Quoted, b'"') => Quotes::QuoteInQuoted,
            (Quotes::Quoted, _) => Quotes::Quoted,
            (Quotes::QuoteInQuoted, b'"') => Quotes::Quoted,
            (_, b',' | b'\n') => Quotes::FieldStart,
            _ => Quotes::Unquoted,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spanning(pieces: &[&[u8]]) -> Spanning {
        let mut s = Spanning::default();
        for p in pieces {
            s.extend(p);
        }
        s
    }

    fn open(record: &[u8]) -> bool {
        spanning(&[record]).ends_inside_quotes()
    }

    #[test]
    fn quote_state_at_the_end_follows_csv_core() {
        assert!(open(b"a,\"b"));
        assert!(open(b"a,\"b\"\"c"));
        assert!(!open(b"a,\"b\""));
        assert!(!open(b"a,b\"c"));
        assert!(!open(b"a,\"b\"c\"d"));
        assert!(open(b"\"a\nb,\"\"\n"));
    }

    #[test]
    fn length_and_ending_whatever_the_pieces() {
        for (pieces, want) in [
            (&[&b"ab"[..], b"c\r", b"\n"][..], (3, true)),
            (&[b"abc\r\n"], (3, true)),
            (&[b"abc\n"], (3, false)),
            (&[b"abc"], (3, false)),
            (&[b"ab", b"c\r"], (3, true)),
            (&[b"\r", b"\n"], (0, true)),
            (&[b"\n"], (0, false)),
            (&[b"a\r", b"b"], (3, false)),
        ] {
            let s = spanning(pieces);
            assert_eq!(s.content_len(), want, "{pieces:?}");
        }
    }

    #[test]
    fn only_the_head_is_kept() {
        let mut s = spanning(&[&[b'x'; 5000], &[b'y'; 5000], b"\n"]);
        assert_eq!(s.head().len(), HEAD);
        assert_eq!(s.content_len(), (10_000, false));
        assert_eq!(s.utf8(), Ok(()));
        s.clear();
        assert!(s.is_empty());
        let s = spanning(&[b"short\r\n"]);
        assert_eq!(s.head(), b"short");
    }
}
