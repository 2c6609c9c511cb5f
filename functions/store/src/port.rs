//! The ports: what the consumer needs from storage ([`OrderStore`]) and what operators and
//! tests read ([`OrderReader`]), with the small types they speak in.

use crate::error::StoreError;
use convoy_core::sequencer::{Change, Known, Need, Step, StoredOrder};
use convoy_core::{Amount, Fingerprint, OrderId, OrderState, Seq, Transaction, TxnId};
use std::fmt;
use std::future::Future;

/// The most changes one step may carry: its log item stays under DynamoDB's 400 KB.
pub const MAX_CHANGES: usize = convoy_core::bounds::MAX_STEP_CHANGES;

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

/// An order as loaded: its head, the version of its last step, and that step's changes
/// (their items of their own are written with the next commit, so until then they are
/// facts only the log holds: [`Head::known`] hands them to the sequencer).
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub state: OrderState,
    pub version: Version,
    pub last: Vec<Change>,
}

impl Head {
    /// The head after `step` was committed as `version`.
    pub fn after(step: &Step, version: Version) -> Self {
        Head {
            state: step.state.clone(),
            version,
            last: step.changes.clone(),
        }
    }

    /// The facts of the last step, for the sequencer.
    pub fn known(&self) -> Known {
        let mut known = Known::default();
        known.remember(&self.last);
        known
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
    /// The amount of an item, `None` when the order has no such item.
    Item(TxnId, Option<Amount>),
    /// Nothing is parked at this `seq`.
    NotParked(Seq),
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
            Fact::Item(txn_id, amount) => known.add_item(txn_id, amount),
            Fact::NotParked(seq) => known.add_not_parked(seq),
        }
    }
}

/// What the consumer needs: load an order, fetch the facts the sequencer asks for, and
/// commit a step atomically and conditionally. All reads are strongly consistent.
pub trait OrderStore: Sync {
    /// The order's head; `None` when nothing was ever committed for it.
    fn load(&self, id: &OrderId) -> impl Future<Output = Result<Option<Head>, StoreError>> + Send;

    /// The fact `need` asks for; `None` when storage lacks the history entry of a `seq` the
    /// state says was processed (every other need is always answered). Facts of the last
    /// step are in [`Head::known`], not here.
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

    /// Commits `step` on top of `base` (`None`: a new order): first the items of `base`'s
    /// last step, then the step's log item, on the condition that no step followed `base`
    /// (else [`StoreError::Conflict`], and the step is not written). Returns the new version.
    fn commit(
        &self,
        id: &OrderId,
        base: Option<&Head>,
        step: &Step,
    ) -> impl Future<Output = Result<Version, StoreError>> + Send;
}

/// What operators, the demo and tests read: every order, or everything of one order.
pub trait OrderReader: Sync {
    /// The state of every order in the table.
    fn list_orders(&self) -> impl Future<Output = Result<Vec<OrderState>, StoreError>> + Send;

    /// Everything stored for one order: head, items, history, parked transactions and
    /// conflicts (read by queries, page by page).
    fn load_stored_order(
        &self,
        id: &OrderId,
    ) -> impl Future<Output = Result<Option<StoredOrder>, StoreError>> + Send;
}

/// A store shared behind an `Arc` is a store: the consumer can own one handle while a test
/// or an operator tool keeps another.
impl<S: OrderStore + Send> OrderStore for std::sync::Arc<S> {
    fn load(&self, id: &OrderId) -> impl Future<Output = Result<Option<Head>, StoreError>> + Send {
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
        base: Option<&Head>,
        step: &Step,
    ) -> impl Future<Output = Result<Version, StoreError>> + Send {
        S::commit(self, id, base, step)
    }
}
