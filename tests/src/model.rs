//! The expected orders, computed without the sequencer: each order's transactions sorted by
//! `seq` and put through the state machine ([`OrderState::apply`]) while they are
//! contiguous from 1; the rest is parked. Meant for scenarios without duplicate or
//! conflicting `seq`s (a repeated `seq` is ignored here), so `duplicates` and `conflicts`
//! stay 0.

use convoy_core::sequencer::StoredOrder;
use convoy_core::{OrderId, OrderState, OrderView, Transaction};
use serde_json::Value;
use std::collections::BTreeMap;

/// The final state of every order that `txns` reach.
pub fn states<'a>(
    txns: impl IntoIterator<Item = &'a Transaction>,
) -> BTreeMap<String, StoredOrder> {
    let mut by_order: BTreeMap<OrderId, BTreeMap<u64, &Transaction>> = BTreeMap::new();
    for t in txns {
        by_order
            .entry(t.order_id.clone())
            .or_default()
            .entry(t.seq.get())
            .or_insert(t);
    }
    by_order
        .into_iter()
        .map(|(id, txns)| {
            let mut o = StoredOrder {
                state: OrderState::new(id.clone()),
                items: BTreeMap::new(),
                processed: BTreeMap::new(),
                parked: BTreeMap::new(),
                conflicts: Default::default(),
                paid: None,
            };
            for (seq, t) in txns {
                if seq == o.state.next_seq {
                    let item = t.content.txn_id().and_then(|i| o.items.get(i).copied());
                    match o.state.apply(&t.content, item) {
                        Ok(()) => {
                            o.state.applied += 1;
                            if let Some((i, a)) = t.content.item() {
                                o.items.insert(i.clone(), a);
                            }
                        }
                        Err(_) => o.state.rejected += 1,
                    }
                    o.state.next_seq += 1;
                } else {
                    o.state.parked_count += 1;
                    o.parked.insert(seq, t.clone());
                }
            }
            (id.to_string(), o)
        })
        .collect()
}

/// The views (section 4 JSON) of [`states`], by `order_id`.
pub fn views<'a>(txns: impl IntoIterator<Item = &'a Transaction>) -> BTreeMap<String, Value> {
    states(txns)
        .into_iter()
        .filter_map(|(id, o)| {
            serde_json::to_value(OrderView::from(&o))
                .ok()
                .map(|v| (id, v))
        })
        .collect()
}
