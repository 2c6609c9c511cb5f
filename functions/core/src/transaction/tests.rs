use super::*;

fn txn(json: &str) -> Transaction {
    serde_json::from_str(json).unwrap()
}

#[test]
fn wire_round_trip_keeps_everything() {
    let t = txn(
        r#"{"order_id":"A-1","seq":3,"op":"add","txn_id":"t1","amount":"12.50","at":"2026-11-24T09:00:00Z","note":"hi"}"#,
    );
    let back: Transaction = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    assert_eq!(back, t);
}

#[test]
fn content_ignores_note_at_and_unused_fields_and_compares_amounts_by_value() {
    let a =
        txn(r#"{"order_id":"A","seq":2,"op":"add","txn_id":"a","amount":"12.5","note":"first"}"#);
    let b =
        txn(r#"{"order_id":"A","seq":2,"op":"add","txn_id":"a","amount":"12.50","note":"other"}"#);
    let c = txn(r#"{"order_id":"A","seq":2,"op":"add","txn_id":"a","amount":"12.51"}"#);
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_ne!(a.fingerprint(), c.fingerprint());
    let p1 = txn(r#"{"order_id":"A","seq":5,"op":"pay"}"#);
    let p2 = txn(r#"{"order_id":"A","seq":5,"op":"pay","currency":"EUR","txn_id":"x"}"#);
    assert_eq!(p1.fingerprint(), p2.fingerprint());
    assert_eq!(p1.fingerprint().as_str().len(), 64);
}

#[test]
fn fingerprints_do_not_collide_across_ops_or_field_boundaries() {
    let add = txn(r#"{"order_id":"A","seq":1,"op":"add","txn_id":"a","amount":"1"}"#);
    let modify = txn(r#"{"order_id":"A","seq":1,"op":"modify","txn_id":"a","amount":"1"}"#);
    assert_ne!(add.fingerprint(), modify.fingerprint());
    let x = txn(r#"{"order_id":"A","seq":1,"op":"add","txn_id":"a\",\"1","amount":"2"}"#);
    let y = txn(r#"{"order_id":"A","seq":1,"op":"add","txn_id":"a","amount":"12"}"#);
    assert_ne!(x.fingerprint(), y.fingerprint());
}

#[test]
fn void_is_no_ledger_op_but_travels_on_the_wire_with_who_and_why() {
    let err = Op::parse("void").unwrap_err();
    assert_eq!(
        (err.field, err.reason.as_str()),
        (
            Field::Op,
            "\"void\" is an operator's action (convoy order void), not a ledger op"
        )
    );
    let by = Principal::parse("arn:aws:iam::123456789012:user/ops").unwrap();
    let v = Transaction::void(
        OrderId::parse("A").unwrap(),
        Seq::new(3).unwrap(),
        "lost",
        by,
        "2026-12-03T10:00:00Z".to_owned(),
    )
    .unwrap();
    let json = serde_json::to_string(&v).unwrap();
    assert_eq!(
        json,
        r#"{"order_id":"A","seq":3,"op":"void","at":"2026-12-03T10:00:00Z","note":"lost","by":"arn:aws:iam::123456789012:user/ops"}"#
    );
    assert_eq!(txn(&json), v);
    // Who voided is not part of the content: a second void of the seq is a duplicate.
    let other = Principal::parse("arn:aws:iam::123456789012:user/other").unwrap();
    let again = Transaction::void(v.order_id.clone(), v.seq, "again", other, "x".into());
    assert_eq!(again.unwrap().fingerprint(), v.fingerprint());
    assert!(
        serde_json::from_str::<Transaction>(r#"{"order_id":"A","seq":3,"op":"void"}"#).is_err()
    );
    assert!(Principal::parse("arn:with \"quote").is_err());
}

#[test]
fn op_names_parse_and_nothing_else_does() {
    for op in [
        Op::Create,
        Op::Add,
        Op::Modify,
        Op::Pay,
        Op::Ship,
        Op::Complete,
        Op::Cancel,
        Op::Delete,
    ] {
        assert_eq!(Op::parse(op.as_str()), Ok(op));
        let upper = op.as_str().to_uppercase();
        assert_eq!(Op::parse(&upper).unwrap_err().field, Field::Op);
        let longer = format!("{op} ");
        assert_eq!(Op::parse(&longer).unwrap_err().field, Field::Op);
    }
    for bad in [
        "",
        "ad",
        "adx",
        "payy",
        "shop",
        "refund",
        "completed",
        "créate",
    ] {
        let e = Op::parse(bad).unwrap_err();
        assert_eq!(e.field, Field::Op);
        assert!(
            e.reason.starts_with(&format!("{bad:?} is not one of")),
            "{e}"
        );
    }
}

#[test]
fn txn_id_is_1_to_128_characters_not_bytes() {
    assert_eq!(TxnId::parse("").unwrap_err().reason, "must not be empty");
    for ok in [
        "t",
        " ",
        &"x".repeat(128),
        &"é".repeat(128),
        &"😀".repeat(128),
    ] {
        assert_eq!(
            TxnId::parse(ok).map(String::from),
            Ok(ok.to_owned()),
            "{ok}"
        );
    }
    for long in [
        &"x".repeat(129),
        &"é".repeat(129),
        &format!("{}x", "😀".repeat(128)),
    ] {
        let e = TxnId::parse(long).unwrap_err();
        assert_eq!(e.reason, "longer than 128 characters");
    }
}

#[test]
fn missing_op_fields_are_named() {
    let e = serde_json::from_str::<Transaction>(r#"{"order_id":"A","seq":1,"op":"create"}"#)
        .unwrap_err();
    assert!(e.to_string().contains("currency"), "{e}");
}
