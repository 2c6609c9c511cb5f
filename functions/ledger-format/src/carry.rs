//! `Carry`: the bytes of a JSON Lines line that spans chunks, held up to a limit.

use super::MAX_TEXT_BYTES;

/// How much of an over-long line is kept: enough for its excerpt, cut on a char boundary.
const KEEP_WHEN_OVERLONG: usize = MAX_TEXT_BYTES + 4;

/// The part of the current line seen so far. Past `limit` bytes, only its head is kept
/// (for the rejects report), so memory stays bounded however long the line is.
#[derive(Debug)]
pub(crate) struct Carry {
    buf: Vec<u8>,
    seen: usize,
    limit: usize,
}

impl Carry {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            buf: Vec::new(),
            seen: 0,
            limit,
        }
    }

    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.seen = self.seen.saturating_add(bytes.len());
        if self.seen <= self.limit {
            // Grow as `Vec` would (doubling), but never past the limit.
            let needed = self.buf.len() + bytes.len();
            if needed > self.buf.capacity() {
                let target = needed.max(self.buf.capacity() * 2).min(self.limit);
                self.buf.reserve_exact(target - self.buf.len());
            }
            self.buf.extend_from_slice(bytes);
        } else {
            self.buf.truncate(KEEP_WHEN_OVERLONG);
            let room = KEEP_WHEN_OVERLONG.saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&bytes[..room.min(bytes.len())]);
        }
    }

    /// Whether any byte of a line is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.seen == 0
    }

    /// More than `limit` bytes were seen: only the head is kept.
    pub(crate) fn is_overlong(&self) -> bool {
        self.seen > self.limit
    }

    /// Takes the bytes kept (the whole line, or its head if it is over-long) out, to read
    /// them while the owner is borrowed mutably; give the buffer back with [`Carry::restore`].
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Bytes allocated for the line.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Puts back a buffer from [`Carry::take`], emptied, and forgets the line.
    pub(crate) fn restore(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        self.buf = buf;
        self.seen = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Carry {
        fn bytes(&self) -> &[u8] {
            &self.buf
        }
    }

    #[test]
    fn keeps_everything_up_to_the_limit_then_only_the_head() {
        let mut c = Carry::new(2000);
        c.extend(&[b'a'; 1500]);
        assert!(!c.is_overlong());
        assert_eq!(c.bytes().len(), 1500);
        c.extend(&[b'b'; 500]);
        assert!(!c.is_overlong());
        assert_eq!(c.bytes().len(), 2000);
        c.extend(b"c");
        assert!(c.is_overlong());
        assert_eq!(c.bytes().len(), KEEP_WHEN_OVERLONG);
        c.extend(&[b'd'; 100_000]);
        assert_eq!(c.bytes().len(), KEEP_WHEN_OVERLONG);
        assert!(c.bytes().iter().all(|&b| b == b'a'));
        let buf = c.take();
        c.restore(buf);
        assert!(c.is_empty() && !c.is_overlong());
    }

    #[test]
    fn never_allocates_past_the_limit() {
        let mut c = Carry::new(1000);
        for _ in 0..100 {
            c.extend(&[b'a'; 9]);
        }
        c.extend(&[b'a'; 100]);
        assert_eq!(c.seen, 1000);
        assert!(c.capacity() <= 1000, "{}", c.capacity());
    }

    #[test]
    fn head_is_kept_when_the_first_piece_is_already_too_long() {
        let mut c = Carry::new(10);
        c.extend(b"0123456789abcdef");
        assert!(c.is_overlong());
        assert_eq!(c.bytes(), b"0123456789abcdef");
        let buf = c.take();
        c.restore(buf);
        assert!(c.is_empty());
    }
}
