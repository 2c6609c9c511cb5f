//! `OrderId`: the order a transaction belongs to, valid as an SQS `MessageGroupId`.

use crate::field::{Field, FieldError};
use std::fmt;

/// An order id: 1–128 characters, each an ASCII letter, digit or ASCII punctuation.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct OrderId(Box<str>);

impl OrderId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        Self::parse_quick(s).ok_or_else(|| Self::refusal(s))
    }

    /// [`parse`](Self::parse) without the reason: every byte in 0x21..=0x7E is exactly an
    /// ASCII letter, digit or punctuation (and a byte length of 1..=128 is then the
    /// character count).
    #[inline]
    pub(crate) fn parse_quick(s: &str) -> Option<Self> {
        let bytes = s.as_bytes();
        let valid = !bytes.is_empty()
            && bytes.len() <= Self::MAX_LEN
            && bytes.iter().fold(true, |ok, &b| ok & is_graphic(b));
        valid.then(|| Self(s.into()))
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
        &self.0
    }
}

/// An ASCII letter, digit or punctuation: the graphic ASCII bytes `!` to `~`.
#[inline]
fn is_graphic(b: u8) -> bool {
    (0x21..=0x7E).contains(&b)
}

impl TryFrom<String> for OrderId {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<OrderId> for String {
    fn from(id: OrderId) -> String {
        id.0.into_string()
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
