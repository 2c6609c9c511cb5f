//! The expected orders, computed without the sequencer: each order's transactions sorted by
//! `seq` and put through the state machine ([`OrderState::apply`]) while they are
//! contiguous from 1; the rest is parked. Meant for scenarios without duplicate or
//! conflicting `seq`s (a repeated `seq` is ignored here), so `duplicates` and `conflicts`
//! stay 0.

use convoy_core::{OrderId, OrderState, OrderView, Transaction};
use serde_json::Value;
use std::collections::BTreeMap;

/// The final state of every order that `txns` reach.
pub fn states<'a>(txns: impl IntoIterator<Item = &'a Transaction>) -> BTreeMap<String, OrderState> {
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
            let mut state = OrderState::new(id.clone());
            for (seq, t) in txns {
                if seq == state.next_seq {
                    match state.apply(&t.content) {
                        Ok(()) => state.applied += 1,
                        Err(_) => state.rejected += 1,
                    }
                    state.next_seq += 1;
                } else {
                    state.parked.insert(seq);
                }
            }
            (id.to_string(), state)
        })
        .collect()
}

/// The views (section 4 JSON) of [`states`], by `order_id`.
pub fn views<'a>(txns: impl IntoIterator<Item = &'a Transaction>) -> BTreeMap<String, Value> {
    states(txns)
        .into_iter()
        .filter_map(|(id, state)| {
            serde_json::to_value(OrderView::from(&state))
                .ok()
                .map(|v| (id, v))
        })
        .collect()
}
