//! The checks of a line's fields, field by field and in table order.

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
        Checks(self).transaction()
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

#[test]
fn at_has_at_most_9_fraction_digits() {
    let with_at = |at: &'static str| {
        let mut f = base();
        f.push((Field::At, text(at)));
        fields(&f).validate()
    };
    let nine = "2026-11-24T09:00:00.123456789+02:00";
    assert_eq!(with_at(nine).unwrap().at.as_deref(), Some(nine));
    let ten = "2026-11-24T09:00:00.1234567890Z";
    let e = with_at(ten).unwrap_err();
    assert_eq!(e.field, Field::At);
    assert!(e.reason.contains("more than 9 fraction digits"), "{e}");
    let long = Box::leak(format!("2026-11-24T09:00:00.{}Z", "1".repeat(10_000)).into_boxed_str());
    let e = with_at(long).unwrap_err();
    assert_eq!(e.field, Field::At);
    assert!(e.reason.contains("more than 9 fraction digits"), "{e}");
    assert!(
        e.reason.len() < 200,
        "the reason does not repeat the value: {e}"
    );
}
