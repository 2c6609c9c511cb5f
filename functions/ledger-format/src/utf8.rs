//! UTF-8 checked once per chunk rather than once per line, or piece by piece.
//!
//! [`Utf8Window`]: checking a 64 KiB chunk in one pass is much faster than checking its
//! thousand lines one by one; a line inside the checked part is then cut out of it as
//! `&str` for free. Where the check stops (a byte that is not UTF-8, or a character cut by
//! the chunk's end), the lines around it fall back to their own check, and the next line
//! checks again from its own start, so every byte is checked about once.
//!
//! [`Utf8Stream`]: the check of one line that arrives in pieces and is not kept whole.

pub(crate) struct Utf8Window<'a> {
    input: &'a [u8],
    /// `input[from..from + text.len()]` is known to be valid UTF-8.
    from: usize,
    text: &'a str,
}

impl<'a> Utf8Window<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            from: 0,
            text: "",
        }
    }

    /// `input[start..end]` as text, if it lies in a part known to be valid UTF-8.
    /// `None` means "check it yourself", not "invalid". `start` should be a line start.
    #[inline]
    pub(crate) fn get(&mut self, start: usize, end: usize) -> Option<&'a str> {
        if start >= self.from + self.text.len() {
            self.check_from(start)?;
        }
        self.text
            .get(start.checked_sub(self.from)?..end.checked_sub(self.from)?)
    }

    /// Checks the input from `start` on, up to its first byte that is not UTF-8 (or a
    /// character cut by its end).
    #[inline(never)]
    fn check_from(&mut self, start: usize) -> Option<()> {
        let rest = self.input.get(start..)?;
        self.from = start;
        self.text = match std::str::from_utf8(rest) {
            Ok(text) => text,
            // (`utf8_chunks` would not check twice, but checks byte by byte: far slower.)
            Err(e) => std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or(""),
        };
        Some(())
    }
}

/// Checks one line given in pieces, which may cut a character anywhere.
#[derive(Debug, Default)]
pub(crate) struct Utf8Stream {
    /// The start of a character cut by the end of the last piece.
    tail: [u8; 3],
    tail_len: usize,
    /// Bytes known good so far (not counting the tail).
    good: usize,
    /// Where the first bad byte is, from 0.
    bad_at: Option<usize>,
}

impl Utf8Stream {
    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        if self.bad_at.is_some() {
            return;
        }
        // Finish the character the last piece cut, one byte at a time.
        while self.tail_len > 0 {
            let Some((&b, rest)) = bytes.split_first() else {
                return;
            };
            let mut char_bytes = [0u8; 4];
            char_bytes[..self.tail_len].copy_from_slice(&self.tail[..self.tail_len]);
            char_bytes[self.tail_len] = b;
            let n = self.tail_len + 1;
            match std::str::from_utf8(&char_bytes[..n]) {
                Ok(_) => {
                    self.good += n;
                    self.tail_len = 0;
                }
                Err(e) if e.error_len().is_none() && n < 4 => {
                    self.tail[self.tail_len] = b;
                    self.tail_len = n;
                }
                Err(_) => {
                    self.bad_at = Some(self.good);
                    return;
                }
            }
            bytes = rest;
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => self.good += bytes.len(),
            Err(e) => {
                let valid = e.valid_up_to();
                match e.error_len() {
                    Some(_) => self.bad_at = Some(self.good + valid),
                    None => {
                        // A character cut at the end: keep its start for the next piece.
                        let tail = &bytes[valid..];
                        self.tail[..tail.len()].copy_from_slice(tail);
                        self.tail_len = tail.len();
                        self.good += valid;
                    }
                }
            }
        }
    }

    /// `Err(position)` of the first byte that is not UTF-8 (a character cut at the end counts).
    pub(crate) fn result(&self) -> Result<(), usize> {
        match self.bad_at {
            Some(at) => Err(at),
            None if self.tail_len > 0 => Err(self.good),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_in_the_valid_part_come_out_as_text() {
        let input = "ab\ncé\nxyz".as_bytes();
        let mut w = Utf8Window::new(input);
        assert_eq!(w.get(0, 2), Some("ab"));
        assert_eq!(w.get(3, 6), Some("cé"));
        assert_eq!(w.get(7, 10), Some("xyz"));
    }

    #[test]
    fn an_invalid_byte_stops_the_window_and_later_lines_check_again() {
        let input = b"ab\nc\xffd\nef\n\xe9";
        let mut w = Utf8Window::new(input);
        assert_eq!(w.get(0, 2), Some("ab"));
        assert_eq!(w.get(3, 6), None);
        assert_eq!(w.get(7, 9), Some("ef"));
        // A character cut at the end of the input.
        assert_eq!(w.get(10, 11), None);
        assert_eq!(w.get(11, 11), Some(""));
    }

    fn stream(pieces: &[&[u8]]) -> Result<(), usize> {
        let mut s = Utf8Stream::default();
        for piece in pieces {
            s.push(piece);
        }
        s.result()
    }

    #[test]
    fn a_stream_agrees_with_a_whole_check_however_it_is_cut() {
        let samples: [&[u8]; 8] = [
            "plain".as_bytes(),
            "café ☕ 😀 ok".as_bytes(),
            b"ab\xffcd",
            b"ab\xe2\x82",
            b"\xe2\x82\xacx\xf0\x9f\x98",
            b"\xc3\x28",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
        ];
        for sample in samples {
            let whole = std::str::from_utf8(sample)
                .map(|_| ())
                .map_err(|e| e.valid_up_to());
            for a in 0..=sample.len() {
                for b in a..=sample.len() {
                    let cut = stream(&[&sample[..a], &sample[a..b], &sample[b..]]);
                    assert_eq!(cut, whole, "{sample:?} cut at {a}, {b}");
                }
            }
        }
    }
}
