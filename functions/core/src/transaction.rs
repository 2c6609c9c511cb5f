//! `Transaction`: one validated ledger line, its content and its content fingerprint.

use crate::amount::Amount;
use crate::field::{quoted, Field, FieldError};
use crate::order_id::OrderId;
use crate::seq::Seq;
use sha2::{Digest, Sha256};
use std::fmt;

mod wire;

/// The operations of the order state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Create,
    Add,
    Modify,
    Pay,
    Ship,
    Complete,
    Cancel,
    Delete,
    /// An operator's compensating void of a `seq` that will never arrive: recorded in the
    /// order's history, it moves the sequence on without changing the order. Never a
    /// ledger line ([`Op::parse`] refuses it); it comes from `convoy order void`.
    Void,
}

impl Op {
    /// Every op a ledger line may carry.
    pub const ALL: [Op; 8] = [
        Op::Create,
        Op::Add,
        Op::Modify,
        Op::Pay,
        Op::Ship,
        Op::Complete,
        Op::Cancel,
        Op::Delete,
    ];

    /// The longest op name (`complete`).
    pub const MAX_NAME_BYTES: usize = {
        let (mut i, mut max) = (0, 0);
        while i < Op::ALL.len() {
            let n = Op::ALL[i].as_str().len();
            if n > max {
                max = n;
            }
            i += 1;
        }
        max
    };

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        Ok(match s {
            "create" => Op::Create,
            "add" => Op::Add,
            "modify" => Op::Modify,
            "pay" => Op::Pay,
            "ship" => Op::Ship,
            "complete" => Op::Complete,
            "cancel" => Op::Cancel,
            "delete" => Op::Delete,
            "void" => {
                return Err(FieldError::new(
                    Field::Op,
                    "\"void\" is an operator's action (convoy order void), not a ledger op",
                ))
            }
            other => {
                return Err(FieldError::new(
                    Field::Op,
                    format!(
                        "{} is not one of create, add, modify, pay, ship, complete, cancel, delete",
                        quoted(other)
                    ),
                ))
            }
        })
    }

    /// Whether this op's content holds `field` (`txn_id` and `amount` for add and modify,
    /// `currency` for create); every other field but `order_id`, `seq`, `op`, `at` and
    /// `note` is ignored.
    pub fn uses(self, field: Field) -> bool {
        match field {
            Field::TxnId | Field::Amount => matches!(self, Op::Add | Op::Modify),
            Field::Currency => self == Op::Create,
            Field::OrderId | Field::Seq | Field::Op | Field::At | Field::Note => true,
            Field::By => self == Op::Void,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Add => "add",
            Op::Modify => "modify",
            Op::Pay => "pay",
            Op::Ship => "ship",
            Op::Complete => "complete",
            Op::Cancel => "cancel",
            Op::Delete => "delete",
            Op::Void => "void",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An item's id within an order: 1–128 characters.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct TxnId(Box<str>);

impl TxnId {
    /// The most characters of a `txn_id` (any characters, so up to 4 bytes each).
    pub const MAX_LEN: usize = 128;
    /// The most UTF-8 bytes of a `txn_id`.
    pub const MAX_BYTES: usize = Self::MAX_LEN * 4;

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        match s.chars().count() {
            0 => Err(FieldError::new(Field::TxnId, "must not be empty")),
            n if n > Self::MAX_LEN => {
                Err(FieldError::new(Field::TxnId, "longer than 128 characters"))
            }
            _ => Ok(Self(s.into())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TxnId {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}
impl From<TxnId> for String {
    fn from(t: TxnId) -> String {
        t.0.into_string()
    }
}
impl fmt::Display for TxnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A currency code: three ASCII upper-case letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        match s.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Self([a, b, c])),
            _ => Err(FieldError::new(
                Field::Currency,
                format!("{} is not three ASCII upper-case letters", quoted(s)),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters get in, so this is always valid UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl TryFrom<String> for Currency {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}
impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}
impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who voided a `seq`: the caller's AWS identity (an ARN: ASCII, no `"` or `\\`), 1 to
/// [`Principal::MAX_BYTES`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Principal(Box<str>);

impl Principal {
    /// Room for any IAM user, role or assumed-role ARN (paths included).
    pub const MAX_BYTES: usize = 1024;

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let arn_char = |b: &u8| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\');
        match s.len() {
            0 => Err(FieldError::new(Field::By, "must not be empty")),
            n if n > Self::MAX_BYTES => Err(FieldError::new(
                Field::By,
                format!("longer than {} bytes ({n} bytes)", Self::MAX_BYTES),
            )),
            _ if !s.as_bytes().iter().all(arn_char) => Err(FieldError::new(
                Field::By,
                format!("{} is not an ARN (printable ASCII)", quoted(s)),
            )),
            _ => Ok(Self(s.into())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Principal {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}
impl From<Principal> for String {
    fn from(p: Principal) -> String {
        p.0.into_string()
    }
}
impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a transaction does: its op and exactly the fields that op uses.
/// Two transactions with equal `Content` are the same transaction (contract section 3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Content {
    Create {
        currency: Currency,
    },
    Add {
        txn_id: TxnId,
        amount: Amount,
    },
    Modify {
        txn_id: TxnId,
        amount: Amount,
    },
    Pay,
    Ship,
    Complete,
    Cancel,
    Delete,
    /// A void (its reason is the transaction's `note`, its time `at`), by `by`.
    Void {
        by: Principal,
    },
}

impl Content {
    /// The content of `op` from the fields that op needs ([`Op::uses`]); fields it ignores
    /// are dropped. The error names the first missing field in the contract's order. The one
    /// place a content is made from an op and its fields: ledger lines and the wire shape
    /// both come here.
    pub fn build(
        op: Op,
        txn_id: Option<TxnId>,
        amount: Option<Amount>,
        currency: Option<Currency>,
    ) -> Result<Content, FieldError> {
        let need = |field: Field| FieldError::new(field, format!("required for {op}"));
        Ok(match op {
            Op::Create => Content::Create {
                currency: currency.ok_or_else(|| need(Field::Currency))?,
            },
            Op::Add | Op::Modify => {
                let txn_id = txn_id.ok_or_else(|| need(Field::TxnId))?;
                let amount = amount.ok_or_else(|| need(Field::Amount))?;
                if op == Op::Add {
                    Content::Add { txn_id, amount }
                } else {
                    Content::Modify { txn_id, amount }
                }
            }
            Op::Pay => Content::Pay,
            Op::Ship => Content::Ship,
            Op::Complete => Content::Complete,
            Op::Cancel => Content::Cancel,
            Op::Delete => Content::Delete,
            Op::Void => {
                return Err(FieldError::new(
                    Field::Op,
                    "a void is made by Transaction::void, not from ledger fields",
                ))
            }
        })
    }

    /// The item an `add` or `modify` names, and the amount it gives it.
    pub fn item(&self) -> Option<(&TxnId, Amount)> {
        match self {
            Content::Add { txn_id, amount } | Content::Modify { txn_id, amount } => {
                Some((txn_id, *amount))
            }
            _ => None,
        }
    }

    /// The `txn_id` of an `add` or `modify`.
    pub fn txn_id(&self) -> Option<&TxnId> {
        self.item().map(|(t, _)| t)
    }

    /// The amount of an `add` or `modify`.
    pub fn amount(&self) -> Option<Amount> {
        self.item().map(|(_, a)| a)
    }

    pub fn op(&self) -> Op {
        match self {
            Content::Create { .. } => Op::Create,
            Content::Add { .. } => Op::Add,
            Content::Modify { .. } => Op::Modify,
            Content::Pay => Op::Pay,
            Content::Ship => Op::Ship,
            Content::Complete => Op::Complete,
            Content::Cancel => Op::Cancel,
            Content::Delete => Op::Delete,
            Content::Void { .. } => Op::Void,
        }
    }

    /// A stable fingerprint of the content: SHA-256 over an unambiguous canonical form,
    /// with amounts compared by value (`12.5` and `12.50` give the same fingerprint). A
    /// void's is its op alone: voiding a `seq` again, by anyone, is a duplicate.
    pub fn fingerprint(&self) -> Fingerprint {
        // Canonical form: the op, then each used field length-prefixed, so no two contents
        // share a byte string (a `txn_id` may hold any character).
        let mut h = Sha256::new();
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        };
        field(self.op().as_str().as_bytes());
        match self {
            Content::Create { currency } => field(currency.as_str().as_bytes()),
            Content::Add { txn_id, amount } | Content::Modify { txn_id, amount } => {
                field(txn_id.as_str().as_bytes());
                field(amount.canonical().as_bytes());
            }
            _ => {}
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = h.finalize();
        let mut hex = String::with_capacity(64);
        for b in digest {
            hex.push(char::from(HEX[usize::from(b >> 4)]));
            hex.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        Fingerprint(hex)
    }
}

/// The hex SHA-256 of a transaction's content (64 characters).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Rebuilds a fingerprint read back from storage.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The most fraction digits of the seconds in `at` (nanoseconds).
pub const MAX_AT_FRACTION_DIGITS: usize = 9;

/// The longest `at`: `2026-11-24T09:00:00.123456789+02:00` (ASCII, 35 bytes).
pub const MAX_AT_BYTES: usize =
    "YYYY-MM-DDTHH:MM:SS.".len() + MAX_AT_FRACTION_DIGITS + "+hh:mm".len();

/// The longest `note`, in bytes.
pub const MAX_NOTE_BYTES: usize = 1024;

/// The longest reason of a void (its `note`), in bytes: with its [`Principal`], a void
/// stays within the size of the longest ledger transaction
/// ([`MAX_VOID_JSON_BYTES`](crate::bounds::MAX_VOID_JSON_BYTES)).
pub const MAX_VOID_REASON_BYTES: usize = 512;

/// One valid transaction. `at` and `note` travel with it but are not part of its content;
/// they are at most [`MAX_AT_BYTES`] and [`MAX_NOTE_BYTES`] long (the ledger checks `at`
/// fully; the wire shape checks both lengths, so every size in [`crate::bounds`] holds).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "wire::Wire", into = "wire::Wire")]
pub struct Transaction {
    pub order_id: OrderId,
    pub seq: Seq,
    pub content: Content,
    /// RFC 3339 date-time at the source, as written.
    pub at: Option<String>,
    pub note: Option<String>,
}

impl Transaction {
    /// The void of `seq` of `order_id` by `by` at `at` (RFC 3339), for `reason` (its note:
    /// 1 to [`MAX_VOID_REASON_BYTES`] bytes).
    pub fn void(
        order_id: OrderId,
        seq: Seq,
        reason: &str,
        by: Principal,
        at: String,
    ) -> Result<Self, FieldError> {
        if reason.trim().is_empty() {
            return Err(FieldError::new(Field::Note, "a void needs a reason"));
        }
        if reason.len() > MAX_VOID_REASON_BYTES {
            return Err(FieldError::new(
                Field::Note,
                format!(
                    "a void's reason is longer than {MAX_VOID_REASON_BYTES} bytes ({} bytes)",
                    reason.len()
                ),
            ));
        }
        if at.len() > MAX_AT_BYTES {
            return Err(FieldError::new(
                Field::At,
                format!("longer than {MAX_AT_BYTES} bytes"),
            ));
        }
        Ok(Self {
            order_id,
            seq,
            content: Content::Void { by },
            at: Some(at),
            note: Some(reason.to_owned()),
        })
    }

    pub fn op(&self) -> Op {
        self.content.op()
    }
    pub fn fingerprint(&self) -> Fingerprint {
        self.content.fingerprint()
    }
}

#[cfg(test)]
mod tests;
