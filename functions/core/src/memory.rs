//! An in-memory order book: the sequencer over complete storage, for tests and references
//! (feature `testing`).

use crate::order::OrderState;
use crate::order_id::OrderId;
use crate::sequencer::{process, Change, Disposition, Known, Need, Outcome, SeqError, StoredOrder};
use crate::transaction::Transaction;
use std::collections::{BTreeMap, HashMap};

/// Orders by id, each changed only through [`process`] steps, like the real store.
#[derive(Debug, Clone, Default)]
pub struct OrderBook {
    orders: BTreeMap<OrderId, StoredOrder>,
}

impl OrderBook {
    /// Receives the transactions of one order (in delivery order).
    /// `max_changes` bounds each step, as a transactional write would.
    pub fn receive(
        &mut self,
        txns: &[Transaction],
        max_changes: usize,
    ) -> Result<Vec<Disposition>, SeqError> {
        let Some(first) = txns.first() else {
            return Ok(Vec::new());
        };
        let id = first.order_id.clone();
        let stored = self
            .orders
            .entry(id.clone())
            .or_insert_with(|| StoredOrder {
                state: OrderState::new(id),
                items: BTreeMap::new(),
                processed: BTreeMap::new(),
                parked: BTreeMap::new(),
                conflicts: HashMap::new(),
                paid: None,
            });
        let mut known = Known::default();
        let mut rest = txns;
        let mut out = Vec::new();
        loop {
            let step = match process(&stored.state, &known, rest, max_changes) {
                Ok(step) => step,
                Err(SeqError::Need(need)) => {
                    if !resolve(stored, &mut known, &need) {
                        // A fact the state refers to is missing from storage.
                        return Err(SeqError::Need(need));
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            // Store each change, and keep `known` in step with storage for the next step.
            for change in step.changes.iter().cloned() {
                match change {
                    Change::Record(seq, p) => {
                        if p.outcome == Outcome::Applied {
                            if let Some((txn_id, amount)) = p.txn.content.item() {
                                stored.items.insert(txn_id.clone(), amount);
                            }
                        }
                        stored.processed.insert(seq.get(), p);
                    }
                    Change::Park(t) => {
                        stored.parked.insert(t.seq.get(), t);
                    }
                    Change::Unpark(seq) => {
                        stored.parked.remove(&seq.get());
                    }
                    Change::Conflict(seq, c) => {
                        stored
                            .conflicts
                            .insert((seq.get(), c.fingerprint.clone()), c);
                    }
                }
            }
            known.remember(&step.changes);
            stored.state = step.state.clone();
            rest = &rest[step.consumed()..];
            out.extend(step.dispositions.iter().cloned());
            if rest.is_empty() && !step.drain_pending() {
                return Ok(out);
            }
        }
    }

    pub fn get(&self, id: &OrderId) -> Option<&StoredOrder> {
        self.orders.get(id)
    }

    pub fn orders(&self) -> impl Iterator<Item = &StoredOrder> {
        self.orders.values()
    }
}

/// Loads one needed fact from storage; false when storage does not have it.
fn resolve(stored: &StoredOrder, known: &mut Known, need: &Need) -> bool {
    match need {
        Need::Processed(seq) => match stored.processed.get(&seq.get()) {
            Some(p) => known.add_processed(*seq, p.fingerprint.clone()),
            None => return false,
        },
        Need::Parked(seq) => match stored.parked.get(&seq.get()) {
            Some(t) => known.add_parked(t.clone()),
            None => known.add_not_parked(*seq),
        },
        Need::Item(txn_id) => known.add_item(txn_id.clone(), stored.items.get(txn_id).copied()),
        Need::Conflict(seq, fp) => {
            let recorded = stored.conflicts.contains_key(&(seq.get(), fp.clone()));
            known.add_conflict(*seq, fp.clone(), recorded);
        }
    }
    true
}
