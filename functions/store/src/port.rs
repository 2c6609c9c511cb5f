//! The ports: what the consumer needs from storage ([`OrderStore`]) and what operators and
//! tests read ([`OrderReader`]), with the small types they speak in.

use crate::error::StoreError;
use convoy_core::sequencer::{Known, Need, Step, StoredOrder};
use convoy_core::{Fingerprint, OrderId, OrderState, Seq, Transaction};
use std::fmt;
use std::future::Future;

/// The most changes one step may carry: 100 items per transaction, one is the head.
pub const MAX_CHANGES: usize = 99;

/// The optimistic-lock version of an order's head; incremented on every commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(u64);

impl Version {
    /// The version of an order's first commit.
    pub const FIRST: Version = Version(1);

    pub fn new(n: u64) -> Self {
        Version(n)
    }
    pub fn get(self) -> u64 {
        self.0
    }
    pub fn next(self) -> Self {
        Version(self.0.saturating_add(1))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A stored fact, answering one [`Need`] of the sequencer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// The fingerprint of what was processed at `seq`.
    Processed(Seq, Fingerprint),
    /// A parked transaction.
    Parked(Transaction),
    /// Whether the conflict (`seq`, fingerprint) is already recorded.
    Conflict {
        seq: Seq,
        fingerprint: Fingerprint,
        recorded: bool,
    },
}

impl Fact {
    /// Hands the fact to the sequencer.
    pub fn add_to(self, known: &mut Known) {
        match self {
            Fact::Processed(seq, fingerprint) => known.add_processed(seq, fingerprint),
            Fact::Parked(txn) => known.add_parked(txn),
            Fact::Conflict {
                seq,
                fingerprint,
                recorded,
            } => known.add_conflict(seq, fingerprint, recorded),
        }
    }
}

/// What the consumer needs: load an order, fetch the facts the sequencer asks for, and
/// commit a step atomically and conditionally. All reads are strongly consistent.
pub trait OrderStore: Sync {
    /// The order's state and version; `None` when nothing was ever committed for it.
    fn load(
        &self,
        id: &OrderId,
    ) -> impl Future<Output = Result<Option<(OrderState, Version)>, StoreError>> + Send;

    /// The fact `need` asks for; `None` when storage lacks a processed or parked item the
    /// state refers to (a [`Need::Conflict`] is always answered).
    fn fetch(
        &self,
        id: &OrderId,
        need: &Need,
    ) -> impl Future<Output = Result<Option<Fact>, StoreError>> + Send;

    /// The parked transactions with `seq` in `from..=to` (all there are, in `seq` order):
    /// one query for a whole drain instead of one read per transaction.
    fn fetch_parked(
        &self,
        id: &OrderId,
        from: Seq,
        to: Seq,
    ) -> impl Future<Output = Result<Vec<Transaction>, StoreError>> + Send;

    /// Writes `step` in one transaction: the head (new when `expected` is `None`, else only
    /// if still at `expected`) and every change, each written at most once. Any failed
    /// condition gives [`StoreError::Conflict`] and writes nothing. Returns the new version.
    fn commit(
        &self,
        id: &OrderId,
        expected: Option<Version>,
        step: &Step,
    ) -> impl Future<Output = Result<Version, StoreError>> + Send;
}

/// What operators, the demo and tests read: every order, or everything of one order.
pub trait OrderReader: Sync {
    /// The state of every order in the table.
    fn list_orders(&self) -> impl Future<Output = Result<Vec<OrderState>, StoreError>> + Send;

    /// Everything stored for one order: head, history, parked transactions and conflicts.
    fn load_stored_order(
        &self,
        id: &OrderId,
    ) -> impl Future<Output = Result<Option<StoredOrder>, StoreError>> + Send;
}

/// A store shared behind an `Arc` is a store: the consumer can own one handle while a test
/// or an operator tool keeps another.
impl<S: OrderStore + Send> OrderStore for std::sync::Arc<S> {
    fn load(
        &self,
        id: &OrderId,
    ) -> impl Future<Output = Result<Option<(OrderState, Version)>, StoreError>> + Send {
        S::load(self, id)
    }

    fn fetch(
        &self,
        id: &OrderId,
        need: &Need,
    ) -> impl Future<Output = Result<Option<Fact>, StoreError>> + Send {
        S::fetch(self, id, need)
    }

    fn fetch_parked(
        &self,
        id: &OrderId,
        from: Seq,
        to: Seq,
    ) -> impl Future<Output = Result<Vec<Transaction>, StoreError>> + Send {
        S::fetch_parked(self, id, from, to)
    }

    fn commit(
        &self,
        id: &OrderId,
        expected: Option<Version>,
        step: &Step,
    ) -> impl Future<Output = Result<Version, StoreError>> + Send {
        S::commit(self, id, expected, step)
    }
}
