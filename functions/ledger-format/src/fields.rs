//! Raw field values of one line into a [`Transaction`], checked in the contract's table order.
//!
//! Both formats give the raw value of each field on request ([`Source`]); [`push_parsed`]
//! checks them with each type's own `parse` and reports the first failing field in the
//! order `order_id, seq, op, txn_id, amount, currency, at, note`; it neither reads nor
//! checks a field the op ignores (`{"op":"ship","txn_id":5}` is a fine `ship`).

use super::datetime::check_rfc3339;
use super::decoder::Parsed;
use super::error::LineError;
use super::MAX_NOTE_BYTES;
use convoy_core::amount::Amount;
use convoy_core::field::{quoted, Field, FieldError};
use convoy_core::order_id::OrderId;
use convoy_core::seq::Seq;
use convoy_core::transaction::{Content, Currency, Op, Transaction, TxnId};

/// One field's value as the line wrote it, before any check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    /// Not in the line (absent key, JSON `null`, empty CSV field).
    Absent,
    /// The CSV header has no column for the field.
    NoColumn,
    /// A JSON string (unescaped) or a CSV value.
    Text(&'a str),
    /// A number exactly as written: a JSON number, or a CSV `seq` (which must be digits).
    Number(&'a str),
    /// A JSON value of another type: "a boolean", "an object", "an array".
    Other(&'static str),
    /// The field is given more than once (JSON key or CSV column).
    Repeated,
    /// A JSON string whose escapes make no text (a lone surrogate such as `"\ud800"`).
    Unreadable,
}

/// A line's fields, read one at a time and only when needed.
pub(crate) trait Source {
    fn value(&self, field: Field) -> Value<'_>;
}

/// Pushes what line `line` (`raw` as written) gives onto `out`: its transaction, or its
/// refusal naming the first failing field in table order.
pub(crate) fn push_parsed(src: &impl Source, line: u64, raw: &[u8], out: &mut Vec<Parsed>) {
    out.push(match Checks(src).transaction() {
        Ok(txn) => Parsed::Txn { line, txn },
        Err(e) => Parsed::Refused(LineError::new(line, Some(e.field), e.reason, raw)),
    });
}

struct Checks<'s, S>(&'s S);

impl<S: Source> Checks<'_, S> {
    fn get(&self, field: Field) -> Value<'_> {
        self.0.value(field)
    }

    fn transaction(&self) -> Result<Transaction, FieldError> {
        let order_id = OrderId::parse(self.text(Field::OrderId, None)?)?;
        let seq = self.seq()?;
        let op = Op::parse(self.text(Field::Op, None)?)?;
        // Only the fields the op uses are read, in table order.
        let txn_id = if op.uses(Field::TxnId) {
            Some(TxnId::parse(self.text(Field::TxnId, Some(op))?)?)
        } else {
            None
        };
        let amount = if op.uses(Field::Amount) {
            Some(self.amount(op)?)
        } else {
            None
        };
        let currency = if op.uses(Field::Currency) {
            Some(Currency::parse(self.text(Field::Currency, Some(op))?)?)
        } else {
            None
        };
        let content = Content::build(op, txn_id, amount, currency)?;
        let at = match self.optional_text(Field::At)? {
            Some(at) => {
                check_rfc3339(at)
                    .map_err(|why| FieldError::new(Field::At, format!("{} {why}", quoted(at))))?;
                Some(at.to_owned())
            }
            None => None,
        };
        let note = match self.optional_text(Field::Note)? {
            Some(note) if note.len() > MAX_NOTE_BYTES => {
                return Err(FieldError::new(
                    Field::Note,
                    format!("longer than {MAX_NOTE_BYTES} bytes ({} bytes)", note.len()),
                ))
            }
            Some(note) => Some(note.to_owned()),
            None => None,
        };
        Ok(Transaction {
            order_id,
            seq,
            content,
            at,
            note,
        })
    }

    /// A required text field; `needed_by` is the op that needs it, if not every line does.
    fn text(&self, field: Field, needed_by: Option<Op>) -> Result<&str, FieldError> {
        match self.optional_text(field)? {
            Some(s) => Ok(s),
            None => Err(self.missing(field, needed_by)),
        }
    }

    fn optional_text(&self, field: Field) -> Result<Option<&str>, FieldError> {
        match self.get(field) {
            Value::Absent | Value::NoColumn => Ok(None),
            Value::Text(s) => Ok(Some(s)),
            Value::Number(_) => Err(FieldError::new(
                field,
                "must be a JSON string, not a number",
            )),
            Value::Other(what) => Err(FieldError::new(
                field,
                format!("must be a JSON string, not {what}"),
            )),
            Value::Repeated => Err(repeated(field)),
            Value::Unreadable => Err(unreadable(field)),
        }
    }

    fn missing(&self, field: Field, needed_by: Option<Op>) -> FieldError {
        let why = match needed_by {
            Some(op) => format!("required for {op}"),
            None => "required".to_owned(),
        };
        match self.get(field) {
            Value::NoColumn => FieldError::new(
                field,
                format!("{why}, and the header has no {field} column"),
            ),
            _ => FieldError::new(field, why),
        }
    }

    fn seq(&self) -> Result<Seq, FieldError> {
        match self.get(Field::Seq) {
            Value::Number(digits) => seq_from_digits(digits),
            Value::Text(_) | Value::Unreadable => Err(FieldError::new(
                Field::Seq,
                "must be a JSON integer, not a string",
            )),
            Value::Other(what) => Err(FieldError::new(
                Field::Seq,
                format!("must be a JSON integer, not {what}"),
            )),
            Value::Repeated => Err(repeated(Field::Seq)),
            Value::Absent | Value::NoColumn => Err(self.missing(Field::Seq, None)),
        }
    }

    fn amount(&self, op: Op) -> Result<Amount, FieldError> {
        match self.get(Field::Amount) {
            Value::Text(s) => Amount::parse(s),
            Value::Number(s) => Amount::parse(s),
            Value::Other(what) => Err(FieldError::new(
                Field::Amount,
                format!("must be a JSON string or number, not {what}"),
            )),
            Value::Repeated => Err(repeated(Field::Amount)),
            Value::Unreadable => Err(unreadable(Field::Amount)),
            Value::Absent | Value::NoColumn => Err(self.missing(Field::Amount, Some(op))),
        }
    }
}

fn unreadable(field: Field) -> FieldError {
    FieldError::new(
        field,
        "is a JSON string with an escape that is no character (a lone surrogate)",
    )
}

fn repeated(field: Field) -> FieldError {
    FieldError::new(field, "is given more than once")
}

/// A sequence number written with ASCII digits only (JSON integer or CSV text).
fn seq_from_digits(text: &str) -> Result<Seq, FieldError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(
            Field::Seq,
            format!(
                "{} is not a whole number from 1 to {} written with digits only",
                quoted(text),
                Seq::MAX
            ),
        ));
    }
    // Saturate: anything past u64 is past the maximum anyway.
    let n = text.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Seq::new(n)
}

#[cfg(test)]
mod tests;
