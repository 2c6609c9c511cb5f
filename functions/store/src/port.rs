//! The ports: what the consumer needs from storage ([`OrderStore`]) and what operators and
//! tests read ([`OrderReader`]), with the small types they speak in.

use crate::error::StoreError;
use convoy_core::sequencer::{Change, Known, Need, Step, StoredOrder};
use convoy_core::{Amount, Fingerprint, OrderId, OrderState, Receipt, Seq, Transaction, TxnId};
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
    /// While transactions are parked: when the order began to wait at its `next_seq`
    /// (epoch ms; reset whenever `next_seq` moves). The watchdog's "stalled since".
    pub waiting_since: Option<u64>,
}

impl Head {
    /// The head after `step` was committed as `version`, having waited since
    /// `waiting_since` (what [`OrderStore::commit`] returns).
    pub fn after(step: &Step, version: Version, waiting_since: Option<u64>) -> Self {
        Head {
            state: step.state.clone(),
            version,
            last: step.changes.clone(),
            waiting_since,
        }
    }

    /// The facts of the last step, for the sequencer.
    pub fn known(&self) -> Known {
        let mut known = Known::default();
        known.remember(&self.last);
        known
    }
}

/// An order's entry in the waiting index: it had transactions parked behind a gap at
/// `next_seq` since `since` (epoch ms) as of the step committed as `version`. The head is
/// the truth: an entry may outlive its wait (a commit that closed the gap and crashed
/// before deleting it), never the other way round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub order_id: OrderId,
    pub next_seq: u64,
    pub since: u64,
    pub version: Version,
    /// When the watchdog first found it stalled (epoch ms), and how many were parked then.
    pub stalled_at: Option<u64>,
    pub parked: Option<u64>,
}

/// Why the consumer last failed a message of an order: the last error it failed with,
/// kept in the order's partition (`failure#<message id>`, 14 days, as long as the
/// dead-letter queue keeps the message) so an operator reads it with the dead letter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    pub order_id: OrderId,
    pub message_id: String,
    /// What became of the record: `poison`, `refused`, `failed`, `deadline`, `drain_failed`.
    pub disposition: String,
    /// The error with its causes (at most [`MAX_FAILURE_ERROR_BYTES`]).
    pub error: String,
    /// The receive that failed (SQS's `ApproximateReceiveCount`).
    pub receive_count: Option<u32>,
    /// When (RFC 3339).
    pub at: String,
}

/// The longest error text a [`Failure`] keeps; a longer one is cut at a character boundary.
pub const MAX_FAILURE_ERROR_BYTES: usize = 2048;

/// A paid order as its receipt recorded it when the payment was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidOrder {
    pub order_id: OrderId,
    pub receipt: Receipt,
    /// The order's currency and total as paid (neither changes once an order is paid).
    pub currency: Option<String>,
    pub total: Amount,
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

    /// The next number of the receipt sequence (one atomic counter for every order: from 1,
    /// each number handed out once). A number taken and not committed is a gap.
    fn take_receipt(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Commits `step` on top of `base` (`None`: a new order): first the items of `base`'s
    /// last step (and the order's entry in the waiting index when its wait begins or
    /// moves), then the step's log item, on the condition that no step followed `base`
    /// (else [`StoreError::Conflict`], and the step is not written) — with the step's
    /// receipt when it applies a payment, both or neither. Returns the new head.
    fn commit(
        &self,
        id: &OrderId,
        base: Option<&Head>,
        step: &Step,
    ) -> impl Future<Output = Result<Head, StoreError>> + Send;

    /// Keeps why the consumer failed a message (the last one wins; it expires after 14 days).
    fn record_failure(
        &self,
        failure: &Failure,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
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

    /// Why the consumer last failed message `message_id` of order `id`, if it kept it.
    fn last_failure(
        &self,
        id: &OrderId,
        message_id: &str,
    ) -> impl Future<Output = Result<Option<Failure>, StoreError>> + Send;
}

/// What the batch function reads: the receipts of a window, in receipt order, once it has
/// sealed them.
pub trait ReceiptReader: Sync {
    /// Seals the receipts up to `through` (epoch ms; never lowered): from now on a payment is
    /// committed only with a `paid_at` at or after the seal, so a window read after its
    /// seal gains no receipt. The seal after the call.
    fn seal(&self, through: u64) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Every receipt of a payment applied at `from <= paid_at < to` (epoch ms), in receipt
    /// order: strongly consistent queries of the hourly receipts partitions the span
    /// covers, never a scan.
    fn receipts(
        &self,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<PaidOrder>, StoreError>> + Send;
}

/// What the watchdog needs beside [`OrderStore::load`]: the waiting index, and a place to
/// record what it found.
pub trait WaitingStore: Sync {
    /// Every entry of the waiting index whose wait began at or before `cutoff` (epoch ms):
    /// a query per index shard, never a scan. The index is eventually consistent; check
    /// each against the order's head.
    fn waiting_since(
        &self,
        cutoff: u64,
    ) -> impl Future<Output = Result<Vec<Waiting>, StoreError>> + Send;

    /// Records on `entry` that it is stalled, with `parked` transactions parked, first
    /// found at `now` (epoch ms; an earlier record is kept). `false` when the entry changed
    /// meanwhile (the order moved on).
    fn mark_stalled(
        &self,
        entry: &Waiting,
        parked: u64,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes an entry whose order no longer waits. `false` when it changed meanwhile.
    fn clear_waiting(
        &self,
        entry: &Waiting,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
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

    fn take_receipt(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        S::take_receipt(self)
    }

    fn commit(
        &self,
        id: &OrderId,
        base: Option<&Head>,
        step: &Step,
    ) -> impl Future<Output = Result<Head, StoreError>> + Send {
        S::commit(self, id, base, step)
    }

    fn record_failure(
        &self,
        failure: &Failure,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        S::record_failure(self, failure)
    }
}
