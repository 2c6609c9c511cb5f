//! `Amount`: an exact decimal as the contract writes it, and its display form.

use crate::field::{quoted, Field, FieldError};
use rust_decimal::Decimal;
use std::fmt;

/// A money amount, parsed from `-?[0-9]{1,18}(\.[0-9]{1,4})?` exactly as written.
/// Equality is by value: `12.5 == 12.50`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Amount(Decimal);

impl Amount {
    pub const ZERO: Amount = Amount(Decimal::ZERO);
    /// The most digits a ledger amount has before the point.
    pub const MAX_INT_DIGITS: usize = 18;
    /// The most digits a ledger amount has after the point.
    pub const MAX_FRACTION_DIGITS: usize = 4;
    /// The longest display form ([`fmt::Display`], the wire's) of a ledger amount:
    /// sign, integer digits, point, fraction digits (`-999999999999999999.9999`).
    pub const MAX_TEXT_BYTES: usize = 1 + Self::MAX_INT_DIGITS + 1 + Self::MAX_FRACTION_DIGITS;

    /// Parses the text of an amount exactly as written in the ledger, naming what is wrong.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let bad = |why: &str| FieldError::new(Field::Amount, format!("{} {why}", quoted(s)));
        let digits = s.strip_prefix('-').unwrap_or(s);
        let (int, frac) = match digits.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (digits, None),
        };
        let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) {
            return Err(bad(
                "is not a decimal number written as -?[0-9]{1,18}(.[0-9]{1,4})?",
            ));
        }
        if int.len() > Self::MAX_INT_DIGITS {
            return Err(bad("has more than 18 integer digits"));
        }
        if let Some(f) = frac {
            if !all_digits(f) {
                return Err(bad(
                    "is not a decimal number written as -?[0-9]{1,18}(.[0-9]{1,4})?",
                ));
            }
            if f.len() > Self::MAX_FRACTION_DIGITS {
                return Err(bad("has more than 4 fraction digits"));
            }
        }
        let value = Decimal::from_str_exact(s).map_err(|e| bad(&format!("is not exact: {e}")))?;
        Ok(Self(value))
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    pub fn from_decimal(d: Decimal) -> Self {
        Self(d)
    }

    /// The canonical text used for fingerprints: normalized, so equal values read the same.
    pub fn canonical(self) -> String {
        let n = self.0.normalize();
        if n.is_zero() {
            "0".to_owned()
        } else {
            n.to_string()
        }
    }
}

impl std::ops::Add for Amount {
    type Output = Amount;
    fn add(self, rhs: Amount) -> Amount {
        Amount(self.0 + rhs.0)
    }
}

impl std::ops::Sub for Amount {
    type Output = Amount;
    fn sub(self, rhs: Amount) -> Amount {
        Amount(self.0 - rhs.0)
    }
}

/// The contract's display form: the fewest fraction digits that show the value exactly,
/// never fewer than 2; zero is `0.00`, never `-0.00`.
impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut n = self.0.normalize();
        if n.is_zero() {
            return f.write_str("0.00");
        }
        if n.scale() < 2 {
            n.rescale(2);
        }
        write!(f, "{n}")
    }
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // Display form may carry a sum with more digits than a ledger line allows,
        // so the wire accepts any exact decimal; ledger lines go through `parse`.
        Decimal::from_str_exact(&s)
            .map(Amount)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_what_the_contract_refuses() {
        for s in [
            "12.50000",
            "+1",
            "1e2",
            " 5",
            "5 ",
            "",
            "-",
            ".5",
            "5.",
            "1,5",
            "0x10",
            "1234567890123456789",
            "1.",
            "-.5",
            "1.2.3",
            "١",
            "12.5\n",
            "--1",
            "1-",
        ] {
            let e = Amount::parse(s).unwrap_err();
            assert_eq!(e.field, Field::Amount, "{s}");
        }
    }

    #[test]
    fn accepts_and_compares_by_value() {
        assert_eq!(
            Amount::parse("12.5").unwrap(),
            Amount::parse("12.50").unwrap()
        );
        assert_eq!(Amount::parse("-0").unwrap(), Amount::ZERO);
        assert!(Amount::parse("123456789012345678.1234").is_ok());
        assert!(Amount::parse("-0.0001").is_ok());
        for s in [
            "-0.0",
            "0.0000",
            "-0.0000",
            "007",
            "-007.0100",
            "-999999999999999999.9999",
        ] {
            assert!(Amount::parse(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn displays_as_the_contract_says() {
        for (input, shown) in [
            ("27.5", "27.50"),
            ("3", "3.00"),
            ("0.125", "0.125"),
            ("-0.0001", "-0.0001"),
            ("0", "0.00"),
            ("-0.00", "0.00"),
            ("1136.7770", "1136.777"),
            ("100", "100.00"),
        ] {
            assert_eq!(Amount::parse(input).unwrap().to_string(), shown, "{input}");
        }
    }

    proptest! {
        #[test]
        fn display_round_trips_by_value(int in 0u64..=999_999_999_999_999_999u64, frac in proptest::option::of("[0-9]{1,4}"), neg: bool) {
            let s = format!("{}{}{}", if neg { "-" } else { "" }, int, frac.map(|f| format!(".{f}")).unwrap_or_default());
            let a = Amount::parse(&s).unwrap();
            let shown = a.to_string();
            let back: Amount = serde_json::from_value(serde_json::Value::String(shown.clone())).unwrap();
            prop_assert_eq!(back, a);
            prop_assert!(!shown.starts_with("-0.00") || a != Amount::ZERO);
            let frac_digits = shown.split_once('.').map(|(_, f)| f.len()).unwrap_or(0);
            prop_assert!(frac_digits >= 2);
        }
    }
}
