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
        if s.is_empty() {
            return Err(FieldError::new(Field::OrderId, "must not be empty"));
        }
        // Checked before the characters, so a long id of other characters says "longer".
        if s.len() > Self::MAX_LEN {
            return Err(FieldError::new(
                Field::OrderId,
                format!("longer than {} characters", Self::MAX_LEN),
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
        Ok(Self(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
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
    fn refusals_name_the_reason() {
        assert_eq!(OrderId::parse("").unwrap_err().reason, "must not be empty");
        assert_eq!(
            OrderId::parse(&"é".repeat(65)).unwrap_err().reason,
            "longer than 128 characters"
        );
        assert_eq!(
            OrderId::parse("A\tB").unwrap_err().reason,
            "character '\\t' is not an ASCII letter, digit or punctuation"
        );
    }

    fn hash_of<T: std::hash::Hash + ?Sized>(t: &T) -> u64 {
        use std::hash::Hasher;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        t.hash(&mut h);
        h.finish()
    }

    #[test]
    fn an_id_behaves_as_its_text() {
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

    proptest! {
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
