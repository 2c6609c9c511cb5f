//! The JSON a user sees for an order (contract section 4).

use crate::amount::Amount;
use crate::order::OrderState;
use crate::sequencer::StoredOrder;
use crate::transaction::TxnId;
use std::collections::BTreeMap;

/// One order as users and their tools see it; serializes to the contract's JSON object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderView {
    pub order_id: String,
    pub status: String,
    pub currency: Option<String>,
    pub total: Amount,
    pub items: BTreeMap<String, Amount>,
    pub next_seq: u64,
    pub parked: Vec<u64>,
    pub applied: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub conflicts: u64,
    /// The `seq`s an operator voided that the sequence has passed, ascending (one voided
    /// ahead is in `parked` until then): `applied + rejected + voided.len() = next_seq - 1`.
    #[serde(default)]
    pub voided: Vec<u64>,
}

impl From<&StoredOrder> for OrderView {
    fn from(o: &StoredOrder) -> Self {
        OrderView::new(&o.state, &o.items, o.parked.keys().copied())
    }
}

impl OrderView {
    /// The view of an order's head with its items and the `seq`s of its parked
    /// transactions (any order; listed ascending).
    pub fn new<'a>(
        s: &OrderState,
        items: impl IntoIterator<Item = (&'a TxnId, &'a Amount)>,
        parked: impl IntoIterator<Item = u64>,
    ) -> Self {
        let mut parked: Vec<u64> = parked.into_iter().collect();
        parked.sort_unstable();
        OrderView {
            order_id: s.order_id.to_string(),
            status: s.status.to_string(),
            currency: s.currency.map(|c| c.to_string()),
            total: s.total,
            items: items
                .into_iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            next_seq: s.next_seq,
            parked,
            applied: s.applied,
            rejected: s.rejected,
            duplicates: s.duplicates,
            conflicts: s.conflicts,
            voided: s.voided_processed().collect(),
        }
    }

    /// The view as one line of JSON.
    pub fn to_json_line(&self) -> String {
        // Serializing plain strings, numbers and maps cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::OrderState;
    use crate::transaction::Transaction;
    use crate::OrderId;

    #[test]
    fn matches_the_contract_example_field_for_field() {
        let lines = [
            r#"{"order_id":"A-1","seq":1,"op":"create","currency":"EUR"}"#,
            r#"{"order_id":"A-1","seq":2,"op":"add","txn_id":"t1","amount":"12.5"}"#,
            r#"{"order_id":"A-1","seq":3,"op":"ship"}"#,
            r#"{"order_id":"A-1","seq":4,"op":"add","txn_id":"t2","amount":"15"}"#,
            r#"{"order_id":"A-1","seq":5,"op":"pay"}"#,
            r#"{"order_id":"A-1","seq":7,"op":"ship"}"#,
        ];
        let txns: Vec<Transaction> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let mut book = crate::memory::OrderBook::default();
        book.receive(&txns, 100).unwrap();
        let order = book.get(&OrderId::parse("A-1").unwrap()).unwrap();
        let got: serde_json::Value =
            serde_json::from_str(&OrderView::from(order).to_json_line()).unwrap();
        let want: serde_json::Value = serde_json::from_str(
            r#"{"order_id":"A-1","status":"paid","currency":"EUR","total":"27.50",
            "items":{"t1":"12.50","t2":"15.00"},"next_seq":6,"parked":[7],
            "applied":4,"rejected":1,"duplicates":0,"conflicts":0,"voided":[]}"#,
        )
        .unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn new_order_shows_null_currency_and_zero_total() {
        let state = OrderState::new(OrderId::parse("B").unwrap());
        let v = OrderView::new(&state, [], []);
        let j: serde_json::Value = serde_json::from_str(&v.to_json_line()).unwrap();
        assert_eq!(j["currency"], serde_json::Value::Null);
        assert_eq!(j["total"], "0.00");
        assert_eq!(j["status"], "new");
    }
}
