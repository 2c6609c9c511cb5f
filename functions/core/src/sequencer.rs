//! Per-order sequencing (contract section 3): applied, rejected, parked, duplicate, conflict.
//!
//! The sequencer is pure. It works on an [`OrderState`] (the order's bounded head) plus the
//! few stored facts it may need ([`Known`]): what was processed at an earlier `seq`, whether
//! a `seq` is parked and with what, whether a conflict was already counted, the amount of an
//! item. When it needs a fact that was not loaded it stops with
//! [`SeqError::Need`]; the caller loads it and calls again (the call is cheap and has no
//! side effects). Its result is the new state plus the [`Change`]s to store — each one an
//! item written at most once — so a store can apply a step in one conditional write.

use crate::amount::Amount;
use crate::order::{OrderState, Rejection};
use crate::seq::Seq;
use crate::transaction::{Content, Fingerprint, Transaction, TxnId};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The most parked transactions one order may hold.
pub const MAX_PARKED: usize = 10_000;

/// The most `seq`s of one order an operator may void (its head lists them).
pub const MAX_VOIDED: usize = 100;

/// What became of a transaction at its `seq`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    Rejected {
        reason: Rejection,
    },
    /// Voided by an operator (the transaction is the void: who, when, why).
    Voided,
}

/// The history entry of one processed `seq` (stored as an item of its own).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Processed {
    pub txn: Transaction,
    pub fingerprint: Fingerprint,
    pub outcome: Outcome,
}

/// A conflicting transaction: same `seq` as one already processed or parked, other content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConflictRecord {
    pub txn: Transaction,
    pub fingerprint: Fingerprint,
    /// The fingerprint of the transaction that holds the `seq`.
    pub holder: Fingerprint,
}

/// Everything stored for one order: its state and every item written by its steps.
#[derive(Debug, Clone)]
pub struct StoredOrder {
    pub state: OrderState,
    pub items: BTreeMap<TxnId, Amount>,
    pub processed: BTreeMap<u64, Processed>,
    pub parked: BTreeMap<u64, Transaction>,
    pub conflicts: HashMap<(u64, Fingerprint), ConflictRecord>,
    /// The receipt of the order's payment, once paid (the paying step's log keeps it).
    pub paid: Option<crate::receipt::Receipt>,
}

/// A stored fact the sequencer needs and was not given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Need {
    /// The history entry at this `seq` (below `next_seq`).
    Processed(Seq),
    /// Whether this `seq` (at or after `next_seq`) is parked, and the transaction if so.
    Parked(Seq),
    /// Whether this conflict (`seq`, content) was already recorded.
    Conflict(Seq, Fingerprint),
    /// The amount of this item, or that the order has no such item.
    Item(TxnId),
}

pub use known::Known;

/// One item to write (or delete) for a step; each is written at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The history entry of a `seq` that was just processed.
    Record(Seq, Processed),
    /// A transaction parked until the gap before it closes.
    Park(Transaction),
    /// A parked transaction that has now been processed (its history entry is a `Record`).
    Unpark(Seq),
    /// A conflict seen for the first time.
    Conflict(Seq, ConflictRecord),
}

/// What happened to one input transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    Applied,
    Rejected(Rejection),
    Parked,
    Duplicate,
    /// `counted` is false when this (`seq`, content) conflict had been counted before.
    Conflict {
        counted: bool,
    },
    /// A void processed at `next_seq` (a void ahead of it is [`Disposition::Parked`]).
    Voided,
    /// A void refused, changing nothing: the `seq` is not missing, or too many are voided.
    VoidRefused(VoidRefusal),
}

/// Why a void was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoidRefusal {
    /// A transaction was processed at that `seq` (applied or rejected).
    Processed,
    /// A transaction is parked at that `seq`: it is not missing, only early.
    Parked,
    /// The order already lists [`MAX_VOIDED`] voided `seq`s.
    TooMany,
}

/// The result of one call: the new state, what to store, and what became of each input.
#[derive(Debug, Clone)]
pub struct Step {
    pub state: OrderState,
    pub changes: Vec<Change>,
    /// One per consumed input, in order.
    pub dispositions: Vec<Disposition>,
    /// Parked transactions processed in this step (in `seq` order), for logging.
    pub drained: Vec<Seq>,
    /// The change limit stopped a drain: a parked transaction is at `next_seq`.
    pub more_to_drain: bool,
    /// The receipt of the payment this step applies, committed with it. The sequencer
    /// leaves it `None`; whoever commits a step that [`pays`](Step::pays) sets it.
    pub receipt: Option<crate::receipt::Receipt>,
}

impl Step {
    /// How many of the inputs this step consumed.
    pub fn consumed(&self) -> usize {
        self.dispositions.len()
    }
    /// True when the state has a parked transaction at `next_seq` still to drain.
    pub fn drain_pending(&self) -> bool {
        self.more_to_drain
    }
    /// True when this step applies a `pay` (an order is paid at most once: `pay` is allowed
    /// only while `open`, and nothing leads back there).
    pub fn pays(&self) -> bool {
        self.changes.iter().any(|c| {
            matches!(c, Change::Record(_, p)
                if p.outcome == Outcome::Applied && p.txn.content == crate::Content::Pay)
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeqError {
    #[error("a stored fact is needed first: {0:?}")]
    Need(Need),
    #[error("transaction of order {got} given to order {expected}")]
    WrongOrder { expected: String, got: String },
    #[error("order {order_id} already holds {MAX_PARKED} parked transactions")]
    TooManyParked { order_id: String },
}

/// Processes `inputs` (all of one order, in delivery order) against `state`: first the
/// inputs, then the drain of what they (or an earlier step) leave next among the parked.
///
/// Taking the inputs first means no input waits behind a drain: a drain longer than an
/// invocation stops at the deadline with every input of the batch already committed (an
/// input past the gap is parked and drained with the rest). Only an order at its parked
/// limit drains first, to make room.
///
/// Stops early, with fewer inputs consumed, once `max_changes` changes are collected, so a
/// step fits in one write; a step may also only drain parked transactions. Call again with
/// the new state and the remaining inputs until all are consumed and
/// [`Step::drain_pending`] is false.
pub fn process(
    state: &OrderState,
    known: &Known,
    inputs: &[Transaction],
    max_changes: usize,
) -> Result<Step, SeqError> {
    let mut run = Run {
        state: state.clone(),
        known,
        done_here: HashMap::new(),
        conflicts_here: HashSet::new(),
        items_here: HashMap::new(),
        stored_parked: state.parked_count,
        stored_items: state.item_count,
        step_changes: Vec::new(),
        drained: Vec::new(),
        more_to_drain: false,
    };
    let max_changes = max_changes.max(2);
    let mut dispositions = Vec::new();
    for txn in inputs {
        // Two changes per input: its own (record, park or conflict) and room for a drained
        // one, so a step of two changes holds exactly one input (how a refused input is
        // isolated).
        if run.step_changes.len() + 2 > max_changes {
            break;
        }
        if txn.order_id != run.state.order_id {
            return Err(SeqError::WrongOrder {
                expected: run.state.order_id.to_string(),
                got: txn.order_id.to_string(),
            });
        }
        if run.state.parked_count >= MAX_PARKED as u64 {
            run.drain(max_changes)?;
            if run.more_to_drain {
                break; // the drain took the step
            }
        }
        let d = run.receive(txn)?;
        dispositions.push(d);
    }
    run.drain(max_changes)?;
    Ok(Step {
        state: run.state,
        changes: run.step_changes,
        dispositions,
        drained: run.drained,
        more_to_drain: run.more_to_drain,
        receipt: None,
    })
}

struct Run<'a> {
    state: OrderState,
    known: &'a Known,
    /// Fingerprints of seqs processed or parked within this step.
    done_here: HashMap<u64, Fingerprint>,
    conflicts_here: HashSet<(u64, Fingerprint)>,
    /// Items set within this step.
    items_here: HashMap<TxnId, Amount>,
    /// Transactions parked before this step and not drained in it.
    stored_parked: u64,
    /// Items the order held before this step.
    stored_items: u64,
    step_changes: Vec<Change>,
    drained: Vec<Seq>,
    more_to_drain: bool,
}

impl Run<'_> {
    fn receive(&mut self, txn: &Transaction) -> Result<Disposition, SeqError> {
        if matches!(txn.content, Content::Void { .. }) {
            return self.receive_void(txn);
        }
        let s = txn.seq.get();
        let next = self.state.next_seq;
        // At next_seq with nothing parked there (a drain not yet run may have it): process.
        if s == next && self.parked(txn.seq)?.is_none() {
            return self.process_next(txn.clone());
        }
        let holder = if s < next {
            self.fingerprint_processed(txn.seq)?
        } else if let Some(parked) = self.parked(txn.seq)? {
            parked.fingerprint()
        } else {
            if self.state.parked_count >= MAX_PARKED as u64 {
                return Err(SeqError::TooManyParked {
                    order_id: self.state.order_id.to_string(),
                });
            }
            self.state.parked_count += 1;
            self.done_here.insert(s, txn.fingerprint());
            self.step_changes.push(Change::Park(txn.clone()));
            return Ok(Disposition::Parked);
        };
        let fingerprint = txn.fingerprint();
        if fingerprint == holder {
            self.state.duplicates += 1;
            return Ok(Disposition::Duplicate);
        }
        let key = (s, fingerprint.clone());
        let seen = self.conflicts_here.contains(&key)
            || match self.known.conflicts.get(&key) {
                Some(recorded) => *recorded,
                None => return Err(SeqError::Need(Need::Conflict(txn.seq, fingerprint))),
            };
        if seen {
            return Ok(Disposition::Conflict { counted: false });
        }
        self.conflicts_here.insert(key);
        self.state.conflicts += 1;
        self.step_changes.push(Change::Conflict(
            txn.seq,
            ConflictRecord {
                txn: txn.clone(),
                fingerprint,
                holder,
            },
        ));
        Ok(Disposition::Conflict { counted: true })
    }

    /// A void of a missing `seq`: processed at `next_seq`, parked ahead of it, a duplicate
    /// of an earlier void of it; refused when a transaction holds that `seq`.
    fn receive_void(&mut self, txn: &Transaction) -> Result<Disposition, SeqError> {
        let s = txn.seq.get();
        let holder = if s < self.state.next_seq {
            Some((self.fingerprint_processed(txn.seq)?, VoidRefusal::Processed))
        } else {
            self.parked(txn.seq)?
                .map(|p| (p.fingerprint(), VoidRefusal::Parked))
        };
        if let Some((holder, refusal)) = holder {
            if holder == txn.fingerprint() {
                self.state.duplicates += 1;
                return Ok(Disposition::Duplicate);
            }
            return Ok(Disposition::VoidRefused(refusal));
        }
        if self.state.voided.len() >= MAX_VOIDED {
            return Ok(Disposition::VoidRefused(VoidRefusal::TooMany));
        }
        if s > self.state.next_seq && self.state.parked_count >= MAX_PARKED as u64 {
            return Err(SeqError::TooManyParked {
                order_id: self.state.order_id.to_string(),
            });
        }
        if let Err(at) = self.state.voided.binary_search(&s) {
            self.state.voided.insert(at, s);
        }
        if s == self.state.next_seq {
            return self.process_next(txn.clone());
        }
        self.state.parked_count += 1;
        self.done_here.insert(s, txn.fingerprint());
        self.step_changes.push(Change::Park(txn.clone()));
        Ok(Disposition::Parked)
    }

    /// Applies or rejects the transaction at `next_seq` (records a void) and advances the
    /// sequence.
    fn process_next(&mut self, txn: Transaction) -> Result<Disposition, SeqError> {
        let fingerprint = txn.fingerprint();
        let item = match txn.content.txn_id() {
            Some(txn_id) => self.item(txn_id)?,
            None => None,
        };
        let (outcome, disposition) = if matches!(txn.content, Content::Void { .. }) {
            (Outcome::Voided, Disposition::Voided)
        } else {
            match self.state.apply(&txn.content, item) {
                Ok(()) => {
                    self.state.applied += 1;
                    if let Some((txn_id, amount)) = txn.content.item() {
                        self.items_here.insert(txn_id.clone(), amount);
                    }
                    (Outcome::Applied, Disposition::Applied)
                }
                Err(reason) => {
                    self.state.rejected += 1;
                    (
                        Outcome::Rejected {
                            reason: reason.clone(),
                        },
                        Disposition::Rejected(reason),
                    )
                }
            }
        };
        let seq = txn.seq;
        self.done_here.insert(seq.get(), fingerprint.clone());
        self.state.next_seq += 1;
        self.step_changes.push(Change::Record(
            seq,
            Processed {
                txn,
                fingerprint,
                outcome,
            },
        ));
        Ok(disposition)
    }

    /// Processes parked transactions that are now next, while the change limit allows.
    fn drain(&mut self, max_changes: usize) -> Result<(), SeqError> {
        loop {
            // Past the largest seq nothing can be parked.
            let Ok(seq) = Seq::new(self.state.next_seq) else {
                return Ok(());
            };
            let Some(txn) = self.parked(seq)? else {
                return Ok(());
            };
            if self.step_changes.len() + 2 > max_changes {
                self.more_to_drain = true;
                return Ok(());
            }
            self.state.parked_count = self.state.parked_count.saturating_sub(1);
            let parked_here = self
                .step_changes
                .iter()
                .position(|c| matches!(c, Change::Park(t) if t.seq == seq));
            match parked_here {
                // Parked and drained within one step: never stored, so nothing to delete.
                Some(i) => {
                    self.step_changes.remove(i);
                }
                None => {
                    self.stored_parked = self.stored_parked.saturating_sub(1);
                    self.step_changes.push(Change::Unpark(seq));
                }
            }
            self.process_next(txn)?;
            self.drained.push(seq);
        }
    }

    /// The transaction parked at `seq` (at or after `next_seq`), if any: parked within this
    /// step, or stored (asked for only while the order holds stored parked transactions).
    fn parked(&self, seq: Seq) -> Result<Option<Transaction>, SeqError> {
        let here = self.step_changes.iter().find_map(|c| match c {
            Change::Park(t) if t.seq == seq => Some(t.clone()),
            _ => None,
        });
        if here.is_some() || self.stored_parked == 0 {
            return Ok(here);
        }
        match self.known.parked.get(&seq.get()) {
            Some(known) => Ok(known.clone()),
            None => Err(SeqError::Need(Need::Parked(seq))),
        }
    }

    /// The current amount of item `txn_id`, `None` when the order has no such item.
    fn item(&self, txn_id: &TxnId) -> Result<Option<Amount>, SeqError> {
        if let Some(amount) = self.items_here.get(txn_id) {
            return Ok(Some(*amount));
        }
        if self.stored_items == 0 {
            return Ok(None);
        }
        match self.known.items.get(txn_id) {
            Some(known) => Ok(*known),
            None => Err(SeqError::Need(Need::Item(txn_id.clone()))),
        }
    }

    fn fingerprint_processed(&self, seq: Seq) -> Result<Fingerprint, SeqError> {
        self.done_here
            .get(&seq.get())
            .or_else(|| self.known.processed.get(&seq.get()))
            .cloned()
            .ok_or(SeqError::Need(Need::Processed(seq)))
    }
}

mod known;

#[cfg(test)]
mod tests;
