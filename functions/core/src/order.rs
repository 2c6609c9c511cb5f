//! The order state machine (contract section 2): one transaction's content applied to an order.

use crate::amount::Amount;
use crate::order_id::OrderId;
use crate::transaction::{Content, Currency, Op, TxnId};
use std::fmt;

/// The most items an order holds: an `add` beyond them is rejected. Bounds the order's
/// total: a million amounts of at most 18 integer digits and 4 fraction digits sum to less
/// than 10^24, well inside the 28 digits of exact decimal arithmetic. Items are stored one
/// per item of the table, never in the order's head.
pub const MAX_ITEMS: usize = 1_000_000;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    Open,
    Paid,
    Shipped,
    Completed,
    Canceled,
    Deleted,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 7] = [
        Status::New,
        Status::Open,
        Status::Paid,
        Status::Shipped,
        Status::Completed,
        Status::Canceled,
        Status::Deleted,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Open => "open",
            Status::Paid => "paid",
            Status::Shipped => "shipped",
            Status::Completed => "completed",
            Status::Canceled => "canceled",
            Status::Deleted => "deleted",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the state machine refused an op. The sequence still advances (contract section 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rejection {
    #[error("{op} is not allowed when the order is {status}")]
    NotAllowed { op: Op, status: Status },
    #[error("item {txn_id} already exists")]
    ItemExists { txn_id: TxnId },
    #[error("no item {txn_id} to modify")]
    NoSuchItem { txn_id: TxnId },
    #[error("pay needs at least one item")]
    NoItems,
    #[error("the order already holds {limit} items, the most it may hold")]
    TooManyItems { limit: usize },
}

impl Rejection {
    /// The rule broken, as the order's history names it (`"rule"`): what logs may show,
    /// since the reason itself names items.
    pub fn rule(&self) -> &'static str {
        match self {
            Rejection::NotAllowed { .. } => "not_allowed",
            Rejection::ItemExists { .. } => "item_exists",
            Rejection::NoSuchItem { .. } => "no_such_item",
            Rejection::NoItems => "no_items",
            Rejection::TooManyItems { .. } => "too_many_items",
        }
    }
}

/// The head of one order: what the state machine changes and the sequencing counters, of a
/// size bounded whatever the order's size. The items and the parked transactions are not
/// in it (the store keeps them in items of their own): only their counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderState {
    pub order_id: OrderId,
    pub status: Status,
    pub currency: Option<Currency>,
    pub total: Amount,
    /// How many items the order holds.
    pub item_count: u64,
    /// The sequence number this order expects next.
    pub next_seq: u64,
    /// How many transactions are parked (received ahead of `next_seq`).
    pub parked_count: u64,
    pub applied: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub conflicts: u64,
    /// The `seq`s voided by an operator, ascending: processed ones (below `next_seq`) and
    /// ones voided ahead, parked until the sequence reaches them. At most
    /// [`MAX_VOIDED`](crate::sequencer::MAX_VOIDED), so the head stays bounded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub voided: Vec<u64>,
}

impl OrderState {
    /// A fresh order: `new`, total 0, no items, no currency, expecting `seq` 1.
    pub fn new(order_id: OrderId) -> Self {
        Self {
            order_id,
            status: Status::New,
            currency: None,
            total: Amount::ZERO,
            item_count: 0,
            next_seq: 1,
            parked_count: 0,
            applied: 0,
            rejected: 0,
            duplicates: 0,
            conflicts: 0,
            voided: Vec::new(),
        }
    }

    /// The voided `seq`s the sequence has passed (those below `next_seq`).
    pub fn voided_processed(&self) -> impl Iterator<Item = u64> + '_ {
        self.voided.iter().copied().filter(|s| *s < self.next_seq)
    }

    /// Applies one op to the business state, or says why it is not allowed. `item` is the
    /// current amount of the item the op names (`add`, `modify`), `None` when the order has
    /// no such item; on success an `add` or `modify` leaves that item at the op's amount.
    /// Counters and sequencing are the sequencer's business, not this function's.
    pub fn apply(&mut self, content: &Content, item: Option<Amount>) -> Result<(), Rejection> {
        let not_allowed = |s: &Self| Rejection::NotAllowed {
            op: content.op(),
            status: s.status,
        };
        match content {
            Content::Create { currency } => {
                self.require(self.status == Status::New, not_allowed)?;
                self.status = Status::Open;
                self.currency = Some(*currency);
            }
            Content::Add { txn_id, amount } => {
                self.require(self.status == Status::Open, not_allowed)?;
                if item.is_some() {
                    return Err(Rejection::ItemExists {
                        txn_id: txn_id.clone(),
                    });
                }
                if self.item_count >= MAX_ITEMS as u64 {
                    return Err(Rejection::TooManyItems { limit: MAX_ITEMS });
                }
                self.item_count += 1;
                self.total = self.total + *amount;
            }
            Content::Modify { txn_id, amount } => {
                self.require(self.status == Status::Open, not_allowed)?;
                let Some(before) = item else {
                    return Err(Rejection::NoSuchItem {
                        txn_id: txn_id.clone(),
                    });
                };
                self.total = self.total - before + *amount;
            }
            Content::Pay => {
                self.require(self.status == Status::Open, not_allowed)?;
                if self.item_count == 0 {
                    return Err(Rejection::NoItems);
                }
                self.status = Status::Paid;
            }
            Content::Ship => {
                self.require(self.status == Status::Paid, not_allowed)?;
                self.status = Status::Shipped;
            }
            Content::Complete => {
                self.require(self.status == Status::Shipped, not_allowed)?;
                self.status = Status::Completed;
            }
            Content::Cancel => {
                self.require(
                    matches!(self.status, Status::Open | Status::Paid),
                    not_allowed,
                )?;
                self.status = Status::Canceled;
            }
            Content::Delete => {
                self.require(self.status != Status::Deleted, not_allowed)?;
                self.status = Status::Deleted;
            }
            // A void changes nothing of the order: the sequencer records it and moves on.
            Content::Void { .. } => {}
        }
        Ok(())
    }

    fn require(&self, ok: bool, err: impl Fn(&Self) -> Rejection) -> Result<(), Rejection> {
        if ok {
            Ok(())
        } else {
            Err(err(self))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::Transaction;

    fn content(json: &str) -> Content {
        let t: Transaction = serde_json::from_str(json).unwrap();
        t.content
    }

    fn order() -> OrderState {
        OrderState::new(OrderId::parse("A-1").unwrap())
    }

    #[test]
    fn a_rejections_rule_is_its_tag_in_the_history() {
        let t = TxnId::parse("t").unwrap();
        for r in [
            Rejection::NotAllowed {
                op: Op::Pay,
                status: Status::New,
            },
            Rejection::ItemExists { txn_id: t.clone() },
            Rejection::NoSuchItem { txn_id: t },
            Rejection::NoItems,
            Rejection::TooManyItems { limit: 1 },
        ] {
            assert_eq!(serde_json::to_value(&r).unwrap()["rule"], r.rule());
        }
    }

    /// An order and its items, as the sequencer keeps them: applies `json` with the item it
    /// names looked up, and sets that item on success.
    #[derive(Clone, Debug, PartialEq)]
    struct WithItems(OrderState, std::collections::BTreeMap<TxnId, Amount>);

    impl WithItems {
        fn new() -> Self {
            WithItems(order(), Default::default())
        }
        fn apply(&mut self, json: &str) -> Result<(), Rejection> {
            let c = content(json);
            let item = c.txn_id().and_then(|t| self.1.get(t).copied());
            self.0.apply(&c, item)?;
            if let (Some(t), Some(a)) = (c.txn_id(), c.amount()) {
                self.1.insert(t.clone(), a);
            }
            Ok(())
        }
    }

    const CREATE: &str = r#"{"order_id":"A-1","seq":1,"op":"create","currency":"EUR"}"#;
    const ADD: &str = r#"{"order_id":"A-1","seq":2,"op":"add","txn_id":"t1","amount":"12.50"}"#;

    #[test]
    fn happy_path_to_completed() {
        let mut o = WithItems::new();
        for op in [
            CREATE,
            ADD,
            r#"{"order_id":"A-1","seq":3,"op":"modify","txn_id":"t1","amount":"10"}"#,
            r#"{"order_id":"A-1","seq":4,"op":"pay"}"#,
            r#"{"order_id":"A-1","seq":5,"op":"ship"}"#,
            r#"{"order_id":"A-1","seq":6,"op":"complete"}"#,
        ] {
            o.apply(op).unwrap();
        }
        assert_eq!(o.0.status, Status::Completed);
        assert_eq!(o.0.total.to_string(), "10.00");
        assert_eq!(o.0.currency.unwrap().as_str(), "EUR");
        assert_eq!(o.0.item_count, 1);
    }

    #[test]
    fn every_op_outside_its_states_is_rejected_without_change() {
        let ops = [
            CREATE,
            ADD,
            r#"{"order_id":"A-1","seq":1,"op":"modify","txn_id":"t1","amount":"1"}"#,
            r#"{"order_id":"A-1","seq":1,"op":"pay"}"#,
            r#"{"order_id":"A-1","seq":1,"op":"ship"}"#,
            r#"{"order_id":"A-1","seq":1,"op":"complete"}"#,
            r#"{"order_id":"A-1","seq":1,"op":"cancel"}"#,
            r#"{"order_id":"A-1","seq":1,"op":"delete"}"#,
        ];
        let allowed = |op: Op, s: Status| match op {
            Op::Create => s == Status::New,
            Op::Add | Op::Modify | Op::Pay => s == Status::Open,
            Op::Ship => s == Status::Paid,
            Op::Complete => s == Status::Shipped,
            Op::Cancel => matches!(s, Status::Open | Status::Paid),
            Op::Delete => s != Status::Deleted,
            Op::Void => true,
        };
        for status in [
            Status::New,
            Status::Open,
            Status::Paid,
            Status::Shipped,
            Status::Completed,
            Status::Canceled,
            Status::Deleted,
        ] {
            for op in ops {
                let c = content(op);
                let mut o = order();
                o.status = status;
                o.item_count = 1;
                o.total = Amount::parse("1").unwrap();
                let before = o.clone();
                let item = c.txn_id().map(|_| Amount::parse("1").unwrap());
                let r = o.apply(&c, item);
                if allowed(c.op(), status) && c.op() != Op::Add {
                    assert!(r.is_ok(), "{op} in {status}: {r:?}");
                } else {
                    assert!(r.is_err(), "{op} in {status} should be rejected");
                    assert_eq!(o, before);
                }
            }
        }
    }

    #[test]
    fn item_rules() {
        let mut o = WithItems::new();
        o.apply(CREATE).unwrap();
        assert_eq!(
            o.apply(r#"{"order_id":"A-1","seq":2,"op":"pay"}"#),
            Err(Rejection::NoItems)
        );
        assert!(matches!(
            o.apply(r#"{"order_id":"A-1","seq":2,"op":"modify","txn_id":"t1","amount":"1"}"#),
            Err(Rejection::NoSuchItem { .. })
        ));
        o.apply(ADD).unwrap();
        assert!(matches!(o.apply(ADD), Err(Rejection::ItemExists { .. })));
        assert_eq!(o.0.total.to_string(), "12.50");
        assert_eq!(o.0.item_count, 1);
    }

    #[test]
    fn an_add_beyond_the_most_items_is_rejected_a_modify_is_not() {
        let mut o = order();
        o.apply(&content(CREATE), None).unwrap();
        o.item_count = MAX_ITEMS as u64;
        o.total = Amount::parse(&MAX_ITEMS.to_string()).unwrap();
        let before = o.clone();
        let one_more = r#"{"order_id":"A-1","seq":2,"op":"add","txn_id":"more","amount":"1"}"#;
        assert_eq!(
            o.apply(&content(one_more), None),
            Err(Rejection::TooManyItems { limit: MAX_ITEMS })
        );
        assert_eq!(o, before);
        let modify = r#"{"order_id":"A-1","seq":2,"op":"modify","txn_id":"t0","amount":"2"}"#;
        o.apply(&content(modify), Amount::parse("1").ok()).unwrap();
        assert_eq!(o.total.to_string(), format!("{}.00", MAX_ITEMS + 1));
        assert_eq!(o.item_count, MAX_ITEMS as u64);
    }

    #[test]
    fn delete_keeps_items_and_total() {
        let mut o = WithItems::new();
        o.apply(CREATE).unwrap();
        o.apply(ADD).unwrap();
        o.apply(r#"{"order_id":"A-1","seq":3,"op":"delete"}"#)
            .unwrap();
        assert_eq!(o.0.status, Status::Deleted);
        assert_eq!(o.0.total.to_string(), "12.50");
        assert_eq!(o.0.item_count, 1);
        assert_eq!(o.1.len(), 1);
    }

    #[test]
    fn rejection_reasons_read_well() {
        let r = Rejection::NotAllowed {
            op: Op::Ship,
            status: Status::Open,
        };
        assert_eq!(r.to_string(), "ship is not allowed when the order is open");
    }
}
