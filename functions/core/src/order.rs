//! The order state machine (contract section 2): one transaction's content applied to an order.

use crate::amount::Amount;
use crate::order_id::OrderId;
use crate::transaction::{Content, Currency, Op, TxnId};
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;

/// The most items an order holds: an `add` beyond them is rejected. Bounds the order's
/// stored state (see [`crate::bounds::MAX_STATE_JSON_BYTES`]) and its total.
pub const MAX_ITEMS: usize = 256;

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

/// The state of one order: what the state machine changes and the sequencing counters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderState {
    pub order_id: OrderId,
    pub status: Status,
    pub currency: Option<Currency>,
    pub items: BTreeMap<TxnId, Amount>,
    pub total: Amount,
    /// The sequence number this order expects next.
    pub next_seq: u64,
    /// Sequence numbers received ahead of `next_seq`, waiting for the gap to close.
    pub parked: BTreeSet<u64>,
    pub applied: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub conflicts: u64,
}

impl OrderState {
    /// A fresh order: `new`, total 0, no items, no currency, expecting `seq` 1.
    pub fn new(order_id: OrderId) -> Self {
        Self {
            order_id,
            status: Status::New,
            currency: None,
            items: BTreeMap::new(),
            total: Amount::ZERO,
            next_seq: 1,
            parked: BTreeSet::new(),
            applied: 0,
            rejected: 0,
            duplicates: 0,
            conflicts: 0,
        }
    }

    /// Applies one op to the business state, or says why it is not allowed.
    /// Counters and sequencing are the sequencer's business, not this function's.
    pub fn apply(&mut self, content: &Content) -> Result<(), Rejection> {
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
                if self.items.contains_key(txn_id) {
                    return Err(Rejection::ItemExists {
                        txn_id: txn_id.clone(),
                    });
                }
                if self.items.len() >= MAX_ITEMS {
                    return Err(Rejection::TooManyItems { limit: MAX_ITEMS });
                }
                self.items.insert(txn_id.clone(), *amount);
                self.total = self.total + *amount;
            }
            Content::Modify { txn_id, amount } => {
                self.require(self.status == Status::Open, not_allowed)?;
                let Some(old) = self.items.get_mut(txn_id) else {
                    return Err(Rejection::NoSuchItem {
                        txn_id: txn_id.clone(),
                    });
                };
                let before = *old;
                *old = *amount;
                self.total = self.total - before + *amount;
            }
            Content::Pay => {
                self.require(self.status == Status::Open, not_allowed)?;
                if self.items.is_empty() {
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

    const CREATE: &str = r#"{"order_id":"A-1","seq":1,"op":"create","currency":"EUR"}"#;
    const ADD: &str = r#"{"order_id":"A-1","seq":2,"op":"add","txn_id":"t1","amount":"12.50"}"#;

    #[test]
    fn happy_path_to_completed() {
        let mut o = order();
        for op in [
            CREATE,
            ADD,
            r#"{"order_id":"A-1","seq":3,"op":"modify","txn_id":"t1","amount":"10"}"#,
            r#"{"order_id":"A-1","seq":4,"op":"pay"}"#,
            r#"{"order_id":"A-1","seq":5,"op":"ship"}"#,
            r#"{"order_id":"A-1","seq":6,"op":"complete"}"#,
        ] {
            o.apply(&content(op)).unwrap();
        }
        assert_eq!(o.status, Status::Completed);
        assert_eq!(o.total.to_string(), "10.00");
        assert_eq!(o.currency.unwrap().as_str(), "EUR");
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
                o.items
                    .insert(TxnId::parse("t1").unwrap(), Amount::parse("1").unwrap());
                o.total = Amount::parse("1").unwrap();
                let before = o.clone();
                let r = o.apply(&c);
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
        let mut o = order();
        o.apply(&content(CREATE)).unwrap();
        assert_eq!(
            o.apply(&content(r#"{"order_id":"A-1","seq":2,"op":"pay"}"#)),
            Err(Rejection::NoItems)
        );
        assert!(matches!(
            o.apply(&content(
                r#"{"order_id":"A-1","seq":2,"op":"modify","txn_id":"t1","amount":"1"}"#
            )),
            Err(Rejection::NoSuchItem { .. })
        ));
        o.apply(&content(ADD)).unwrap();
        assert!(matches!(
            o.apply(&content(ADD)),
            Err(Rejection::ItemExists { .. })
        ));
        assert_eq!(o.total.to_string(), "12.50");
    }

    #[test]
    fn an_add_beyond_the_most_items_is_rejected_a_modify_is_not() {
        let mut o = order();
        o.apply(&content(CREATE)).unwrap();
        for i in 0..MAX_ITEMS {
            let add =
                format!(r#"{{"order_id":"A-1","seq":2,"op":"add","txn_id":"t{i}","amount":"1"}}"#);
            o.apply(&content(&add)).unwrap();
        }
        let before = o.clone();
        let one_more = r#"{"order_id":"A-1","seq":2,"op":"add","txn_id":"more","amount":"1"}"#;
        assert_eq!(
            o.apply(&content(one_more)),
            Err(Rejection::TooManyItems { limit: MAX_ITEMS })
        );
        assert_eq!(o, before);
        let modify = r#"{"order_id":"A-1","seq":2,"op":"modify","txn_id":"t0","amount":"2"}"#;
        o.apply(&content(modify)).unwrap();
        assert_eq!(o.total.to_string(), format!("{}.00", MAX_ITEMS + 1));
    }

    #[test]
    fn delete_keeps_items_and_total() {
        let mut o = order();
        o.apply(&content(CREATE)).unwrap();
        o.apply(&content(ADD)).unwrap();
        o.apply(&content(r#"{"order_id":"A-1","seq":3,"op":"delete"}"#))
            .unwrap();
        assert_eq!(o.status, Status::Deleted);
        assert_eq!(o.total.to_string(), "12.50");
        assert_eq!(o.items.len(), 1);
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
