//! [`Known`]: the stored facts the sequencer was given, and what a committed step taught it.

use super::{Change, Outcome};
use crate::amount::Amount;
use crate::seq::Seq;
use crate::transaction::{Fingerprint, Transaction, TxnId};
use std::collections::HashMap;

/// Stored facts loaded for the sequencer.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub(super) processed: HashMap<u64, Fingerprint>,
    /// `None`: known not to be parked.
    pub(super) parked: HashMap<u64, Option<Transaction>>,
    pub(super) conflicts: HashMap<(u64, Fingerprint), bool>,
    /// `None`: known not to exist.
    pub(super) items: HashMap<TxnId, Option<Amount>>,
}

impl Known {
    pub fn add_processed(&mut self, seq: Seq, fingerprint: Fingerprint) {
        self.processed.insert(seq.get(), fingerprint);
    }
    pub fn add_parked(&mut self, txn: Transaction) {
        self.parked.insert(txn.seq.get(), Some(txn));
    }
    /// `seq` is not parked, unless a fact already known says it is.
    pub fn add_not_parked(&mut self, seq: Seq) {
        self.parked.entry(seq.get()).or_insert(None);
    }
    pub fn add_conflict(&mut self, seq: Seq, fingerprint: Fingerprint, recorded: bool) {
        self.conflicts.insert((seq.get(), fingerprint), recorded);
    }
    /// The amount of item `txn_id` (`None`: the order has no such item).
    pub fn add_item(&mut self, txn_id: TxnId, amount: Option<Amount>) {
        self.items.insert(txn_id, amount);
    }

    /// The items the sequencer may ask for next, so they can be read side by side: those of
    /// `inputs` and of the known parked transactions (in `seq` order) not known yet, in that
    /// order, each once.
    pub fn unknown_items(&self, inputs: &[Transaction]) -> Vec<TxnId> {
        let mut parked: Vec<&Transaction> = self.parked.values().flatten().collect();
        parked.sort_by_key(|t| t.seq);
        let mut out: Vec<TxnId> = Vec::new();
        for t in inputs.iter().chain(parked) {
            if let Some(id) = t.content.txn_id() {
                if !self.items.contains_key(id) && !out.contains(id) {
                    out.push(id.clone());
                }
            }
        }
        out
    }

    /// Learns what a committed step wrote: later steps must see it (a conflict recorded in
    /// one step is not to be counted again in the next, an item added is there).
    pub fn remember(&mut self, changes: &[Change]) {
        for change in changes {
            match change {
                Change::Record(seq, p) => {
                    self.add_processed(*seq, p.fingerprint.clone());
                    if p.outcome == Outcome::Applied {
                        if let Some((txn_id, amount)) = p.txn.content.item() {
                            self.add_item(txn_id.clone(), Some(amount));
                        }
                    }
                }
                Change::Park(t) => self.add_parked(t.clone()),
                Change::Unpark(seq) => {
                    self.parked.insert(seq.get(), None);
                }
                Change::Conflict(seq, c) => self.add_conflict(*seq, c.fingerprint.clone(), true),
            }
        }
    }
}
