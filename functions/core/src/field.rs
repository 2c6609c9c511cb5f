//! The fields of a ledger line and the typed error that names the one that failed.

use std::fmt;

/// A field of a ledger line, in the order the contract checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    OrderId,
    Seq,
    Op,
    TxnId,
    Amount,
    Currency,
    At,
    Note,
    /// Who voided a `seq` (never a ledger field: a void is an operator's action).
    By,
}

impl Field {
    /// Every ledger field, in the order the contract's table lists (and checks) them.
    pub const ALL: [Field; 8] = [
        Field::OrderId,
        Field::Seq,
        Field::Op,
        Field::TxnId,
        Field::Amount,
        Field::Currency,
        Field::At,
        Field::Note,
    ];

    /// The field's name as it appears in a ledger (JSON key or CSV column).
    pub const fn as_str(self) -> &'static str {
        match self {
            Field::OrderId => "order_id",
            Field::Seq => "seq",
            Field::Op => "op",
            Field::TxnId => "txn_id",
            Field::Amount => "amount",
            Field::Currency => "currency",
            Field::At => "at",
            Field::Note => "note",
            Field::By => "by",
        }
    }

    /// The field whose ledger name is `name`, if any.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that breaks a rule of the contract: which field, and why (a human sentence).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: Field,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: Field, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// The most characters of a value that a reason quotes ([`quoted`]).
pub const MAX_QUOTED_CHARS: usize = 64;

/// `value` quoted for a reason, as `{:?}` shows it, cut after [`MAX_QUOTED_CHARS`]
/// characters (then `…` follows the closing quote): a reason names the value without
/// repeating a line's worth of it.
pub fn quoted(value: &str) -> String {
    match value.char_indices().nth(MAX_QUOTED_CHARS) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_cut_after_64_characters() {
        assert_eq!(quoted("1e2"), "\"1e2\"");
        let exact = "é".repeat(MAX_QUOTED_CHARS);
        assert_eq!(quoted(&exact), format!("{exact:?}"));
        let long = "x".repeat(10_000);
        assert_eq!(
            quoted(&long),
            format!("{:?}…", "x".repeat(MAX_QUOTED_CHARS))
        );
    }
}
