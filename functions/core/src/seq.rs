//! `Seq`: an order's own sequence number, 1 to 2^53 − 1.

use crate::field::{Field, FieldError};
use std::fmt;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "u64", into = "u64")]
pub struct Seq(u64);

impl Seq {
    pub const FIRST: Seq = Seq(1);
    /// 2^53 − 1: the largest integer every JSON reader holds exactly.
    pub const MAX: u64 = 9_007_199_254_740_991;

    pub fn new(n: u64) -> Result<Self, FieldError> {
        if n == 0 {
            return Err(FieldError::new(Field::Seq, "must be at least 1"));
        }
        if n > Self::MAX {
            return Err(FieldError::new(
                Field::Seq,
                format!("must be at most {} (2^53 - 1)", Self::MAX),
            ));
        }
        Ok(Self(n))
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// The sequence number after this one (saturating at the maximum).
    pub fn next(self) -> Seq {
        Seq((self.0 + 1).min(Self::MAX + 1))
    }
}

impl TryFrom<u64> for Seq {
    type Error = FieldError;
    fn try_from(n: u64) -> Result<Self, Self::Error> {
        Self::new(n)
    }
}

impl From<Seq> for u64 {
    fn from(s: Seq) -> u64 {
        s.0
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bounds() {
        assert!(Seq::new(0).is_err());
        assert!(Seq::new(1).is_ok());
        assert!(Seq::new(Seq::MAX).is_ok());
        assert!(Seq::new(Seq::MAX + 1).is_err());
    }

    proptest! {
        #[test]
        fn in_range_is_accepted(n in 1u64..=Seq::MAX) {
            prop_assert_eq!(Seq::new(n).unwrap().get(), n);
        }
    }
}
