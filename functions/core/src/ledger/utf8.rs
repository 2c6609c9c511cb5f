//! UTF-8 checked once per chunk rather than once per line.
//!
//! Checking a 64 KiB chunk in one pass is much faster than checking its thousand lines one
//! by one; a line inside the checked part is then cut out of it as `&str` for free. Where
//! the check stops (a byte that is not UTF-8, or a character cut by the chunk's end), the
//! lines around it fall back to their own check, and the next line checks again from its
//! own start, so every byte is checked about once.

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
    pub(crate) fn get(&mut self, start: usize, end: usize) -> Option<&'a str> {
        if start >= self.from + self.text.len() {
            let rest = self.input.get(start..)?;
            self.from = start;
            self.text = match std::str::from_utf8(rest) {
                Ok(text) => text,
                Err(e) => std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or(""),
            };
        }
        self.text
            .get(start.checked_sub(self.from)?..end.checked_sub(self.from)?)
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
}
