//! Per-order sequencing (contract section 3): applied, rejected, parked, duplicate, conflict.
//!
//! The sequencer is pure. It works on an [`OrderState`] plus the few stored facts it may need
//! ([`Known`]): what was processed at an earlier `seq`, a parked transaction, whether a
//! conflict was already counted. When it needs a fact that was not loaded it stops with
//! [`SeqError::Need`]; the caller loads it and calls again (the call is cheap and has no
//! side effects). Its result is the new state plus the [`Change`]s to store — each one an
//! item written at most once — so a store can apply a step in one conditional write.

use crate::order::{OrderState, Rejection};
use crate::seq::Seq;
use crate::transaction::{Fingerprint, Transaction};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The most parked transactions one order may hold (the state keeps their `seq`s).
pub const MAX_PARKED: usize = 10_000;

/// What became of a transaction at its `seq`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    Rejected { reason: Rejection },
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
    pub processed: BTreeMap<u64, Processed>,
    pub parked: BTreeMap<u64, Transaction>,
    pub conflicts: HashMap<(u64, Fingerprint), ConflictRecord>,
}

/// A stored fact the sequencer needs and was not given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Need {
    /// The history entry at this `seq` (below `next_seq`).
    Processed(Seq),
    /// The parked transaction at this `seq`.
    Parked(Seq),
    /// Whether this conflict (`seq`, content) was already recorded.
    Conflict(Seq, Fingerprint),
}

/// Stored facts loaded for the sequencer.
#[derive(Debug, Clone, Default)]
pub struct Known {
    processed: HashMap<u64, Fingerprint>,
    parked: HashMap<u64, Transaction>,
    conflicts: HashMap<(u64, Fingerprint), bool>,
}

impl Known {
    pub fn add_processed(&mut self, seq: Seq, fingerprint: Fingerprint) {
        self.processed.insert(seq.get(), fingerprint);
    }
    pub fn add_parked(&mut self, txn: Transaction) {
        self.parked.insert(txn.seq.get(), txn);
    }
    pub fn add_conflict(&mut self, seq: Seq, fingerprint: Fingerprint, recorded: bool) {
        self.conflicts.insert((seq.get(), fingerprint), recorded);
    }
}

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
}

impl Step {
    /// How many of the inputs this step consumed.
    pub fn consumed(&self) -> usize {
        self.dispositions.len()
    }
    /// True when the state has a parked transaction at `next_seq` still to drain.
    pub fn drain_pending(&self) -> bool {
        self.state.parked.contains(&self.state.next_seq)
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

/// Processes `inputs` (all of one order, in delivery order) against `state`.
///
/// Stops early, with fewer inputs consumed, once `max_changes` changes are collected, so a
/// step fits in one transactional write; a step may also only drain parked transactions.
/// Call again with the new state and the remaining inputs until all are consumed and
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
        step_changes: Vec::new(),
        drained: Vec::new(),
    };
    let max_changes = max_changes.max(2);
    let mut dispositions = Vec::new();
    run.drain(max_changes)?;
    for txn in inputs {
        if run.state.parked.contains(&run.state.next_seq) {
            break; // drain was cut short by the change limit
        }
        // Worst case for one input: its record plus one unpark-and-record per drained seq;
        // the drain itself checks the limit, so one input needs room for two changes.
        if run.step_changes.len() + 2 > max_changes {
            break;
        }
        if txn.order_id != run.state.order_id {
            return Err(SeqError::WrongOrder {
                expected: run.state.order_id.to_string(),
                got: txn.order_id.to_string(),
            });
        }
        let d = run.receive(txn)?;
        dispositions.push(d);
        run.drain(max_changes)?;
    }
    Ok(Step {
        state: run.state,
        changes: run.step_changes,
        dispositions,
        drained: run.drained,
    })
}

struct Run<'a> {
    state: OrderState,
    known: &'a Known,
    /// Fingerprints of seqs processed or parked within this step.
    done_here: HashMap<u64, Fingerprint>,
    conflicts_here: HashSet<(u64, Fingerprint)>,
    step_changes: Vec<Change>,
    drained: Vec<Seq>,
}

impl Run<'_> {
    fn receive(&mut self, txn: &Transaction) -> Result<Disposition, SeqError> {
        let s = txn.seq.get();
        let next = self.state.next_seq;
        if s == next {
            return Ok(self.process_next(txn.clone()));
        }
        let holder = if s < next {
            self.fingerprint_processed(txn.seq)?
        } else if self.state.parked.contains(&s) {
            self.fingerprint_parked(txn.seq)?
        } else {
            if self.state.parked.len() >= MAX_PARKED {
                return Err(SeqError::TooManyParked {
                    order_id: self.state.order_id.to_string(),
                });
            }
            self.state.parked.insert(s);
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

    /// Applies or rejects the transaction at `next_seq` and advances the sequence.
    fn process_next(&mut self, txn: Transaction) -> Disposition {
        let fingerprint = txn.fingerprint();
        let (outcome, disposition) = match self.state.apply(&txn.content) {
            Ok(()) => {
                self.state.applied += 1;
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
        disposition
    }

    /// Processes parked transactions that are now next, while the change limit allows.
    fn drain(&mut self, max_changes: usize) -> Result<(), SeqError> {
        while self.state.parked.contains(&self.state.next_seq) {
            if self.step_changes.len() + 2 > max_changes {
                return Ok(());
            }
            let seq = Seq::new(self.state.next_seq)
                .map_err(|_| SeqError::Need(Need::Parked(Seq::FIRST)))?;
            let txn = self.parked_txn(seq)?;
            self.state.parked.remove(&seq.get());
            let parked_here = self
                .step_changes
                .iter()
                .position(|c| matches!(c, Change::Park(t) if t.seq == seq));
            match parked_here {
                // Parked and drained within one step: never stored, so nothing to delete.
                Some(i) => {
                    self.step_changes.remove(i);
                }
                None => self.step_changes.push(Change::Unpark(seq)),
            }
            self.process_next(txn);
            self.drained.push(seq);
        }
        Ok(())
    }

    fn parked_txn(&self, seq: Seq) -> Result<Transaction, SeqError> {
        let here = self.step_changes.iter().find_map(|c| match c {
            Change::Park(t) if t.seq == seq => Some(t.clone()),
            _ => None,
        });
        here.or_else(|| self.known.parked.get(&seq.get()).cloned())
            .ok_or(SeqError::Need(Need::Parked(seq)))
    }

    fn fingerprint_processed(&self, seq: Seq) -> Result<Fingerprint, SeqError> {
        self.done_here
            .get(&seq.get())
            .or_else(|| self.known.processed.get(&seq.get()))
            .cloned()
            .ok_or(SeqError::Need(Need::Processed(seq)))
    }

    fn fingerprint_parked(&self, seq: Seq) -> Result<Fingerprint, SeqError> {
        if let Some(f) = self.done_here.get(&seq.get()) {
            return Ok(f.clone());
        }
        self.parked_txn(seq).map(|t| t.fingerprint())
    }
}

#[cfg(test)]
mod tests;
