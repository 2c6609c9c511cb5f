//! Raw field values of one line into a [`Transaction`], checked in the contract's table order.
//!
//! Both formats give the raw value of each field on request ([`Source`]); [`validate`]
//! then reports the first failing field in the order `order_id, seq, op, txn_id, amount,
//! currency, at, note`, and neither reads nor checks a field the op ignores
//! (`{"op":"ship","txn_id":5}` is a fine `ship`).
//!
//! Most lines are valid, so [`validate`] first tries [`quick`]: the same checks without
//! reasons, which gives up at the first thing that is not as usual (and never accepts what
//! the checks refuse). Only then do the checks run one by one to name the failing field.

use super::datetime::check_rfc3339;
use super::decoder::Parsed;
use super::error::LineError;
use super::MAX_NOTE_BYTES;
use crate::amount::Amount;
use crate::field::{Field, FieldError};
use crate::order_id::OrderId;
use crate::seq::Seq;
use crate::transaction::{Content, Currency, Op, Transaction, TxnId};

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

/// The transaction a line's fields make, or the first failing field in table order.
#[cfg(test)]
fn validate(src: &impl Source) -> Result<Transaction, FieldError> {
    let mut out = Vec::with_capacity(1);
    match quick(src, 0, &mut out).then(|| out.pop()).flatten() {
        Some(Parsed::Txn { txn, .. }) => Ok(txn),
        _ => Checks(src).transaction(),
    }
}

/// Pushes what line `line` (`raw` as written) gives onto `out`: its transaction, or its
/// refusal naming the first failing field in table order.
#[inline]
pub(crate) fn push_parsed(src: &impl Source, line: u64, raw: &[u8], out: &mut Vec<Parsed>) {
    if !quick(src, line, out) {
        out.push(match Checks(src).transaction() {
            Ok(txn) => Parsed::Txn { line, txn },
            Err(e) => Parsed::Refused(LineError::new(line, Some(e.field), e.reason, raw)),
        });
    }
}

/// Pushes the transaction of a line whose fields are all as usual onto `out` (straight
/// from its parts: a transaction is large to move): the checks of [`Checks::transaction`]
/// without reasons, so nothing to build or carry when all is well. `false` (and nothing
/// pushed) for any line they refuse, and for some unusual lines they accept (a `seq` with
/// more than 16 digits, a `txn_id` longer than 128 bytes): then they decide.
#[inline(always)]
fn quick(src: &impl Source, line: u64, out: &mut Vec<Parsed>) -> bool {
    quick_parts(src, line, out).is_some()
}

#[inline(always)]
fn quick_parts(src: &impl Source, line: u64, out: &mut Vec<Parsed>) -> Option<()> {
    let text = |field| match src.value(field) {
        Value::Text(s) => Some(s),
        _ => None,
    };
    // `Some(None)` for an absent optional field, `None` for a wrong one.
    let optional = |field| match src.value(field) {
        Value::Absent | Value::NoColumn => Some(None),
        Value::Text(s) => Some(Some(s)),
        _ => None,
    };
    let order_id = OrderId::parse_quick(text(Field::OrderId)?)?;
    let seq = match src.value(Field::Seq) {
        Value::Number(digits) => seq_quick(digits)?,
        _ => return None,
    };
    let op = Op::from_name(text(Field::Op)?)?;
    let content = match op {
        Op::Create => Content::Create {
            currency: Currency::parse_quick(text(Field::Currency)?)?,
        },
        Op::Add | Op::Modify => {
            let txn_id = TxnId::parse_quick(text(Field::TxnId)?)?;
            let amount = match src.value(Field::Amount) {
                Value::Text(s) | Value::Number(s) => Amount::parse_quick(s)?,
                _ => return None,
            };
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
    };
    let at = match optional(Field::At)? {
        Some(at) => {
            check_rfc3339(at).ok()?;
            Some(at.to_owned())
        }
        None => None,
    };
    let note = match optional(Field::Note)? {
        Some(note) if note.len() > MAX_NOTE_BYTES => return None,
        Some(note) => Some(note.to_owned()),
        None => None,
    };
    out.push(Parsed::Txn {
        line,
        txn: Transaction {
            order_id,
            seq,
            content,
            at,
            note,
        },
    });
    Some(())
}

/// [`seq_from_digits`] of at most 16 digits (enough for [`Seq::MAX`]), without the reason.
#[inline]
fn seq_quick(digits: &str) -> Option<Seq> {
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut n = 0u64;
    for &d in digits.as_bytes() {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    Seq::new_quick(n)
}

struct Checks<'s, S>(&'s S);

impl<S: Source> Checks<'_, S> {
    #[inline]
    fn get(&self, field: Field) -> Value<'_> {
        self.0.value(field)
    }

    #[inline(never)]
    fn transaction(&self) -> Result<Transaction, FieldError> {
        let order_id = OrderId::parse(self.text(Field::OrderId, None)?)?;
        let seq = self.seq()?;
        let op = Op::parse(self.text(Field::Op, None)?)?;
        let content = match op {
            Op::Create => Content::Create {
                currency: Currency::parse(self.text(Field::Currency, Some(op))?)?,
            },
            Op::Add | Op::Modify => {
                let txn_id = TxnId::parse(self.text(Field::TxnId, Some(op))?)?;
                let amount = self.amount(op)?;
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
        };
        let at = match self.optional_text(Field::At)? {
            Some(at) => {
                check_rfc3339(at)
                    .map_err(|why| FieldError::new(Field::At, format!("{at:?} {why}")))?;
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
    #[inline]
    fn text(&self, field: Field, needed_by: Option<Op>) -> Result<&str, FieldError> {
        match self.optional_text(field)? {
            Some(s) => Ok(s),
            None => Err(self.missing(field, needed_by)),
        }
    }

    #[inline]
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

    #[cold]
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

#[cold]
fn unreadable(field: Field) -> FieldError {
    FieldError::new(
        field,
        "is a JSON string with an escape that is no character (a lone surrogate)",
    )
}

#[cold]
fn repeated(field: Field) -> FieldError {
    FieldError::new(field, "is given more than once")
}

/// A sequence number written with ASCII digits only (JSON integer or CSV text).
fn seq_from_digits(text: &str) -> Result<Seq, FieldError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(
            Field::Seq,
            format!(
                "{text:?} is not a whole number from 1 to {} written with digits only",
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
mod tests {
    use super::*;

    /// A line given as field values; a field not listed is absent.
    struct Line(Vec<(Field, Value<'static>)>);

    impl Source for Line {
        fn value(&self, field: Field) -> Value<'_> {
            let found = self.0.iter().find(|(f, _)| *f == field);
            found.map_or(Value::Absent, |(_, v)| *v)
        }
    }

    impl Line {
        fn validate(&self) -> Result<Transaction, FieldError> {
            validate(self)
        }
    }

    fn fields(pairs: &[(Field, Value<'static>)]) -> Line {
        Line(pairs.to_vec())
    }

    fn text(s: &'static str) -> Value<'static> {
        Value::Text(s)
    }

    fn base() -> Vec<(Field, Value<'static>)> {
        vec![
            (Field::OrderId, text("A-1")),
            (Field::Seq, Value::Number("3")),
            (Field::Op, text("add")),
            (Field::TxnId, text("t1")),
            (Field::Amount, text("12.50")),
        ]
    }

    #[test]
    fn a_valid_add() {
        let t = fields(&base()).validate().unwrap();
        assert_eq!(t.order_id.as_str(), "A-1");
        assert_eq!(t.seq.get(), 3);
        assert_eq!(
            t.content,
            Content::Add {
                txn_id: TxnId::parse("t1").unwrap(),
                amount: Amount::parse("12.5").unwrap()
            }
        );
    }

    #[test]
    fn the_first_failing_field_in_table_order_is_reported() {
        let mut all_bad = vec![
            (
                Field::Note,
                text(Box::leak("x".repeat(1025).into_boxed_str())),
            ),
            (Field::At, text("yesterday")),
            (Field::Currency, text("eur")),
            (Field::Amount, text("1e2")),
            (Field::TxnId, text("")),
            (Field::Op, text("buy")),
            (Field::Seq, Value::Number("0")),
            (Field::OrderId, text("")),
        ];
        // Fix the failing fields one by one, in table order, and watch the next one fail.
        let fixes = [
            (Field::OrderId, text("A")),
            (Field::Seq, Value::Number("1")),
            (Field::Op, text("add")),
            (Field::TxnId, text("t")),
            (Field::Amount, Value::Number("-0.5")),
            // currency is ignored by add, so at fails next
            (Field::At, text("2026-11-24T09:00:00Z")),
            (Field::Note, text("ok")),
        ];
        let expected = [
            Field::OrderId,
            Field::Seq,
            Field::Op,
            Field::TxnId,
            Field::Amount,
            Field::At,
            Field::Note,
        ];
        for (fix, want) in fixes.iter().zip(expected) {
            let e = fields(&all_bad).validate().unwrap_err();
            assert_eq!(e.field, want, "{e}");
            all_bad.retain(|(f, _)| *f != fix.0);
            all_bad.push(*fix);
        }
        assert!(fields(&all_bad).validate().is_ok());
    }

    #[test]
    fn fields_the_op_ignores_are_not_checked() {
        let t = fields(&[
            (Field::OrderId, text("E-4")),
            (Field::Seq, Value::Number("1")),
            (Field::Op, text("ship")),
            (Field::TxnId, Value::Number("5")),
            (Field::Amount, Value::Other("an object")),
            (Field::Currency, Value::Repeated),
        ])
        .validate()
        .unwrap();
        assert_eq!(t.content, Content::Ship);
        let t = fields(&[
            (Field::OrderId, text("E-4")),
            (Field::Seq, Value::Number("2")),
            (Field::Op, text("create")),
            (Field::Currency, text("JPY")),
            (Field::Amount, text("nonsense")),
        ])
        .validate()
        .unwrap();
        assert_eq!(t.content.op(), Op::Create);
    }

    #[test]
    fn seq_must_be_digits_only_and_in_range() {
        for bad in [
            "0",
            "1.0",
            "1e0",
            "-1",
            "+1",
            " 1",
            "",
            "9007199254740992",
            "99999999999999999999999",
        ] {
            let mut f = base();
            f[1] = (Field::Seq, Value::Number(bad));
            assert_eq!(
                fields(&f).validate().unwrap_err().field,
                Field::Seq,
                "{bad}"
            );
        }
        let mut f = base();
        f[1] = (Field::Seq, Value::Number("9007199254740991"));
        assert_eq!(fields(&f).validate().unwrap().seq.get(), Seq::MAX);
        f[1] = (Field::Seq, Value::Number("007"));
        assert_eq!(fields(&f).validate().unwrap().seq.get(), 7);
        f[1] = (Field::Seq, text("1"));
        let e = fields(&f).validate().unwrap_err();
        assert_eq!(e.field, Field::Seq);
        assert!(e.reason.contains("not a string"), "{e}");
    }

    #[test]
    fn missing_and_repeated_and_wrong_types_are_named() {
        for (field, raw, needle) in [
            (Field::OrderId, Value::Absent, "required"),
            (Field::Seq, Value::NoColumn, "header has no seq column"),
            (Field::Op, Value::Repeated, "more than once"),
            (Field::TxnId, Value::Absent, "required for add"),
            (
                Field::Amount,
                Value::NoColumn,
                "required for add, and the header has no amount column",
            ),
            (Field::OrderId, Value::Number("5"), "not a number"),
            (Field::Op, Value::Other("a boolean"), "not a boolean"),
            (Field::Amount, Value::Other("an array"), "string or number"),
            (Field::At, Value::Repeated, "more than once"),
            (Field::Note, Value::Other("an object"), "not an object"),
        ] {
            let mut f = base();
            f.retain(|(x, _)| *x != field);
            f.push((field, raw));
            let e = fields(&f).validate().unwrap_err();
            assert_eq!(e.field, field);
            assert!(e.reason.contains(needle), "{e}");
        }
    }

    /// Values for each field, valid and not, of every kind.
    fn pool(field: Field) -> Vec<Value<'static>> {
        let mut values = vec![
            Value::Absent,
            Value::NoColumn,
            Value::Repeated,
            Value::Unreadable,
            Value::Other("a boolean"),
            Value::Number("1"),
            text(""),
            text(" "),
        ];
        let texts: &[&'static str] = match field {
            Field::OrderId => &["A-1", "A 1", "é", "ORD-1", "~!{}`"],
            Field::Seq => &["1", "0"],
            Field::Op => &[
                "create", "add", "modify", "pay", "ship", "complete", "cancel", "delete", "Pay",
                "refund",
            ],
            Field::TxnId => &["t1", "é", "a b"],
            Field::Amount => &["12.50", "-0", "1e2", "12.50000", "+1"],
            Field::Currency => &["EUR", "eur", "EURO"],
            Field::At => &["2026-11-24T09:00:00Z", "2026-02-30T09:00:00Z", "yesterday"],
            Field::Note => &["hi", "café ☕"],
        };
        values.extend(texts.iter().map(|&t| text(t)));
        if field == Field::Seq || field == Field::Amount {
            for n in [
                "0",
                "7",
                "007",
                "-1",
                "1.0",
                "1e0",
                "12.5",
                "9007199254740991",
                "9007199254740992",
                "0000000000000000001",
                "99999999999999999999999",
            ] {
                values.push(Value::Number(n));
            }
        }
        values
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 4096, ..proptest::prelude::ProptestConfig::default()
        })]

        /// `quick` accepts only what the checks one by one accept, with the same result.
        #[test]
        fn quick_agrees_with_the_checks_one_by_one(picks in proptest::collection::vec(0usize..64, 8)) {
            let line = Line(
                Field::ALL
                    .iter()
                    .zip(&picks)
                    .map(|(&field, &pick)| {
                        let values = pool(field);
                        (field, values[pick % values.len()])
                    })
                    .collect(),
            );
            let checked = Checks(&line).transaction();
            let mut out = Vec::new();
            match quick(&line, 7, &mut out).then(|| out.pop()).flatten() {
                Some(Parsed::Txn { line: 7, txn }) => proptest::prop_assert_eq!(Ok(txn), checked),
                Some(other) => proptest::prop_assert!(false, "{:?}", other),
                None => proptest::prop_assert!(
                    checked.is_err()
                        || matches!(line.value(Field::Seq), Value::Number(d) if d.len() > 16),
                    "quick refused {:?}", line.0
                ),
            }
        }
    }

    #[test]
    fn quick_takes_the_usual_lines() {
        let mut f = base();
        assert!(quick(&fields(&f), 1, &mut Vec::new()));
        f.push((Field::At, text("2026-11-24T09:00:00+02:00")));
        f.push((Field::Note, text("say \"hi\"")));
        f.push((Field::Currency, Value::Repeated));
        assert!(quick(&fields(&f), 1, &mut Vec::new()));
        assert!(quick(
            &fields(&[
                (Field::OrderId, text("A")),
                (Field::Seq, Value::Number("9007199254740991")),
                (Field::Op, text("create")),
                (Field::Currency, text("JPY")),
            ]),
            1,
            &mut Vec::new()
        ));
    }

    #[test]
    fn note_is_limited_to_1024_bytes() {
        let mut f = base();
        f.push((
            Field::Note,
            text(Box::leak("é".repeat(512).into_boxed_str())),
        ));
        assert_eq!(fields(&f).validate().unwrap().note.unwrap().len(), 1024);
        f.pop();
        f.push((
            Field::Note,
            text(Box::leak("é".repeat(513).into_boxed_str())),
        ));
        assert_eq!(fields(&f).validate().unwrap_err().field, Field::Note);
        f.pop();
        f.push((Field::Note, text("")));
        assert_eq!(fields(&f).validate().unwrap().note.as_deref(), Some(""));
    }
}
