//! `OrderId`: the order a transaction belongs to, valid as an SQS `MessageGroupId`.

use crate::field::{Field, FieldError};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// An order id: 1–128 characters, each an ASCII letter, digit or ASCII punctuation.
///
/// Compared, ordered and hashed as its text. An id of up to 22 bytes (most are)
/// is held in place rather than on the heap: no allocation to make or free one, and a cheap
/// clone.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderId(Repr);

/// The longest id held in place: 22 bytes, so that an `OrderId` takes 24 bytes like a
/// `String`.
const INLINE: usize = 22;

#[derive(Clone)]
enum Repr {
    /// `bytes[..len]` is the id.
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Heap(Box<str>),
}

impl OrderId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        Self::parse_quick(s).ok_or_else(|| Self::refusal(s))
    }

    /// [`parse`](Self::parse) without the reason: every byte in 0x21..=0x7E is exactly an
    /// ASCII letter, digit or punctuation (and a byte length of 1..=128 is then the
    /// character count).
    #[inline(always)]
    pub(crate) fn parse_quick(s: &str) -> Option<Self> {
        let bytes = s.as_bytes();
        let valid = !bytes.is_empty() && bytes.len() <= Self::MAX_LEN && all_graphic(bytes);
        valid.then(|| Self::from_valid(s))
    }

    /// The id of text already checked.
    #[inline]
    fn from_valid(s: &str) -> Self {
        let len = s.len();
        match u8::try_from(len) {
            Ok(short) if len <= INLINE => Self(Repr::Inline {
                len: short,
                bytes: copy_short(s.as_bytes()),
            }),
            _ => Self(Repr::Heap(s.into())),
        }
    }

    /// The id's bytes (graphic ASCII).
    #[inline]
    fn bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(s) => s.as_bytes(),
        }
    }

    /// Why `s` is not an order id (the checks of the fast path one by one, with reasons).
    #[cold]
    #[inline(never)]
    fn refusal(s: &str) -> FieldError {
        if s.is_empty() {
            return FieldError::new(Field::OrderId, "must not be empty");
        }
        if s.len() > Self::MAX_LEN {
            return FieldError::new(
                Field::OrderId,
                format!("longer than {} characters", Self::MAX_LEN),
            );
        }
        match s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || c.is_ascii_punctuation()))
        {
            Some(c) => FieldError::new(
                Field::OrderId,
                format!("character {c:?} is not an ASCII letter, digit or punctuation"),
            ),
            // Unreachable: the fast path accepts every other string.
            None => FieldError::new(Field::OrderId, "is not a valid order id"),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Only graphic ASCII gets in, so the check (of at most 22 bytes) cannot fail.
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Repr::Heap(s) => s,
        }
    }
}

impl PartialEq for OrderId {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for OrderId {}

impl PartialOrd for OrderId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The order of the text (a `str` orders by its bytes).
impl Ord for OrderId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.bytes().cmp(other.bytes())
    }
}

/// Hashed as its text is (a `str` hashes as its bytes then `0xFF`).
impl Hash for OrderId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.bytes());
        state.write_u8(0xff);
    }
}

impl fmt::Debug for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OrderId").field(&self.as_str()).finish()
    }
}

/// An ASCII letter, digit or punctuation: the graphic ASCII bytes `!` to `~`.
#[inline]
fn is_graphic(b: u8) -> bool {
    (0x21..=0x7E).contains(&b)
}

/// `src` (at most [`INLINE`] bytes) at the start of an array of zeros, copied as two
/// overlapping pieces of a fixed size rather than by a call for any length.
#[inline(always)]
fn copy_short(src: &[u8]) -> [u8; INLINE] {
    fn two<const N: usize>(dst: &mut [u8; INLINE], src: &[u8]) {
        let n = src.len();
        dst[..N].copy_from_slice(&src[..N]);
        dst[n - N..n].copy_from_slice(&src[n - N..]);
    }
    let mut dst = [0; INLINE];
    match src.len() {
        16.. => two::<16>(&mut dst, src),
        8..=15 => two::<8>(&mut dst, src),
        4..=7 => two::<4>(&mut dst, src),
        n => dst[..n].copy_from_slice(src),
    }
    dst
}

/// Whether every byte of `bytes` is graphic ASCII, looked at 8 (or 4) bytes at a time, the
/// last word overlapping the one before: no loop whose end depends on the length's last
/// digit, for the usual ids of 4 to 16 bytes.
#[inline]
fn all_graphic(bytes: &[u8]) -> bool {
    // For bytes below 0x80 (checked first), adding 1 sets bit 7 exactly for 0x7F, and
    // adding 0x5F sets it exactly for 0x21 and above, with no carry out of the byte.
    macro_rules! graphic {
        ($word:expr, $ones:expr) => {{
            let (x, ones) = ($word, $ones);
            let high = ones * 0x80;
            (x | x.wrapping_add(ones)) & high == 0 && x.wrapping_add(ones * 0x5F) & high == high
        }};
    }
    let n = bytes.len();
    match bytes {
        [] => true,
        [..] if n < 4 => bytes.iter().fold(true, |ok, &b| ok & is_graphic(b)),
        [..] if n < 8 => {
            let word = |at: usize| {
                let mut w = [0u8; 4];
                w.copy_from_slice(&bytes[at..at + 4]);
                u32::from_le_bytes(w)
            };
            graphic!(word(0), u32::from_le_bytes([1; 4]))
                && graphic!(word(n - 4), u32::from_le_bytes([1; 4]))
        }
        [..] => {
            let ones = u64::from_le_bytes([1; 8]);
            let word = |eight: &[u8]| {
                let mut w = [0u8; 8];
                w.copy_from_slice(eight);
                u64::from_le_bytes(w)
            };
            let mut ok = bytes
                .chunks_exact(8)
                .fold(true, |ok, eight| ok & graphic!(word(eight), ones));
            if n & 7 != 0 {
                ok &= graphic!(word(&bytes[n - 8..]), ones);
            }
            ok
        }
    }
}

impl TryFrom<String> for OrderId {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<OrderId> for String {
    fn from(id: OrderId) -> String {
        match id.0 {
            Repr::Heap(s) => s.into_string(),
            Repr::Inline { .. } => id.as_str().to_owned(),
        }
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_punctuation_and_rejects_space_and_unicode() {
        assert!(OrderId::parse("A-1/{x}~`").is_ok());
        assert_eq!(OrderId::parse("").unwrap_err().field, Field::OrderId);
        assert!(OrderId::parse("A 1").is_err());
        assert!(OrderId::parse("café").is_err());
        assert!(OrderId::parse(&"x".repeat(128)).is_ok());
        assert!(OrderId::parse(&"x".repeat(129)).is_err());
    }

    #[test]
    fn graphic_bytes_are_exactly_ascii_letters_digits_and_punctuation() {
        for b in 0..=u8::MAX {
            let c = char::from(b);
            let slow = c.is_ascii_alphanumeric() || c.is_ascii_punctuation();
            assert_eq!(is_graphic(b), slow, "{b:#x}");
        }
    }

    /// The checks as first written, one by one: the fast path must agree with them.
    fn slow_parse(s: &str) -> Result<(), FieldError> {
        if s.is_empty() {
            return Err(FieldError::new(Field::OrderId, "must not be empty"));
        }
        if s.len() > OrderId::MAX_LEN {
            return Err(FieldError::new(
                Field::OrderId,
                format!("longer than {} characters", OrderId::MAX_LEN),
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || c.is_ascii_punctuation()))
        {
            return Err(FieldError::new(
                Field::OrderId,
                format!("character {c:?} is not an ASCII letter, digit or punctuation"),
            ));
        }
        Ok(())
    }

    fn hash_of<T: Hash + ?Sized>(t: &T) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        t.hash(&mut h);
        h.finish()
    }

    #[test]
    fn an_id_behaves_as_its_text_whether_held_in_place_or_not() {
        let texts = [
            "A",
            "A-1",
            "ORD-1234567",
            &"x".repeat(22),
            &"x".repeat(23),
            &"y".repeat(128),
        ];
        for a in texts {
            let id = OrderId::parse(a).unwrap();
            assert_eq!(
                matches!(id.0, Repr::Inline { .. }),
                a.len() <= INLINE,
                "{a}"
            );
            assert_eq!(id.as_str(), a);
            assert_eq!(id.to_string(), a);
            assert_eq!(format!("{id:?}"), format!("OrderId({a:?})"));
            assert_eq!(String::from(id.clone()), a);
            assert_eq!(hash_of(&id), hash_of(a));
            assert_eq!(
                serde_json::to_string(&id).unwrap(),
                serde_json::to_string(a).unwrap()
            );
            let back: OrderId = serde_json::from_str(&serde_json::to_string(a).unwrap()).unwrap();
            assert_eq!(back, id);
            for b in texts {
                let other = OrderId::parse(b).unwrap();
                assert_eq!(id == other, a == b);
                assert_eq!(id.cmp(&other), a.cmp(b), "{a} {b}");
            }
        }
    }

    #[test]
    fn all_graphic_looks_at_every_byte_whatever_the_length() {
        for len in 1..=40 {
            let good = "~".repeat(len);
            assert!(all_graphic(good.as_bytes()), "{len}");
            for at in 0..len {
                for bad in [0x00, 0x20, 0x7F, 0x80, 0xA1, 0xFF] {
                    let mut bytes = good.clone().into_bytes();
                    bytes[at] = bad;
                    assert!(!all_graphic(&bytes), "{len} {at} {bad:#x}");
                }
                for fine in [0x21, 0x41, 0x7E] {
                    let mut bytes = good.clone().into_bytes();
                    bytes[at] = fine;
                    assert!(all_graphic(&bytes), "{len} {at} {fine:#x}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn the_fast_path_agrees_with_the_checks_one_by_one(
            s in "([!-~]{0,70}|[ -~\t\u{80}-\u{10ffff}]{0,70}|[!-~]{120,140}|é{60,70})"
        ) {
            let fast = OrderId::parse(&s).map(|id| id.as_str().to_owned());
            prop_assert_eq!(fast, slow_parse(&s).map(|()| s.clone()));
        }

        #[test]
        fn valid_ids_round_trip(s in "[!-~]{1,128}") {
            let id = OrderId::parse(&s).unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
        }

        #[test]
        fn anything_with_a_non_graphic_char_is_refused(a in "[!-~]{0,10}", c in "[ \t\u{80}-\u{10ffff}]", b in "[!-~]{0,10}") {
            let s = format!("{a}{c}{b}");
            prop_assert!(OrderId::parse(&s).is_err());
        }
    }
}
