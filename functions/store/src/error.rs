//! `StoreError`: everything that can go wrong between the domain and the table.

use convoy_core::BoxError;

/// What can fail when loading or committing an order.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition of the commit did not hold: a concurrent or redelivered batch wrote the
    /// order first. Nothing was written; reload the order and process again.
    #[error("order {order_id}: another writer changed the order first (condition failed)")]
    Conflict { order_id: String },

    /// The backend failed (network, throttling beyond the SDK's retries, missing table, …).
    #[error("{operation} failed for order {order_id}")]
    Backend {
        operation: &'static str,
        order_id: String,
        #[source]
        source: BoxError,
    },

    /// A query of an index failed (the watchdog's reads of `WaitingIndex`).
    #[error("querying index {index}, partition {shard}")]
    Index {
        index: &'static str,
        shard: String,
        #[source]
        source: BoxError,
    },

    /// The backend refused the request as invalid (a DynamoDB `ValidationException`, or a
    /// transaction cancelled with `ValidationError`: an item over 400 KB, say). The same
    /// request is refused every time.
    #[error("{operation} refused for order {order_id}: the request is invalid")]
    Refused {
        operation: &'static str,
        order_id: String,
        #[source]
        source: BoxError,
    },

    /// A stored item could not be read back: an attribute is missing or has the wrong type.
    #[error("stored item {pk} / {sk} is malformed: {reason}")]
    Malformed {
        pk: String,
        sk: String,
        reason: String,
    },

    /// A stored JSON attribute does not decode as the domain type it should hold.
    #[error("stored item {pk} / {sk}: attribute {attribute} does not decode")]
    Decode {
        pk: String,
        sk: String,
        attribute: &'static str,
        #[source]
        source: serde_json::Error,
    },

    /// A value could not be encoded for storage.
    #[error("order {order_id}: attribute {attribute} does not encode")]
    Encode {
        order_id: String,
        attribute: &'static str,
        #[source]
        source: serde_json::Error,
    },

    /// A step and its receipt do not go together (a bug of the caller: never written).
    #[error("order {order_id}: {reason}")]
    Receipt {
        order_id: String,
        reason: &'static str,
    },

    /// The payment's `paid_at` is before the seal: a batch has read the receipts of its
    /// window already. Nothing was written; take another receipt, paid at `through` or later.
    #[error(
        "order {order_id}: a batch has read the receipts up to {through} (epoch ms), after \
         this payment's time; it is paid again after that"
    )]
    Sealed { order_id: String, through: u64 },

    /// The seal of the receipts could not be read or raised.
    #[error("sealing the receipts up to {through} (epoch ms)")]
    Seal {
        through: u64,
        #[source]
        source: BoxError,
    },

    /// The receipt counter could not be read or advanced.
    #[error("taking a receipt number")]
    Counter {
        #[source]
        source: BoxError,
    },

    /// A query of the receipts of a window failed.
    #[error("reading receipts partition {partition}")]
    Receipts {
        partition: String,
        #[source]
        source: BoxError,
    },

    /// A read of receipts over more hours than one read may cover.
    #[error("a read of receipts over {hours} hours: at most {limit}")]
    ReceiptSpan { hours: u64, limit: u64 },

    /// A step's log item would exceed DynamoDB's item size limit.
    #[error(
        "order {order_id}: a step's log item of {bytes} bytes exceeds the {limit}-byte item limit"
    )]
    TooLarge {
        order_id: String,
        bytes: usize,
        limit: usize,
    },

    /// A transient fault injected by a test double (`FailingStore`, feature `testing`).
    #[cfg(any(test, feature = "testing"))]
    #[error("{operation} failed for order {order_id}: injected fault")]
    Injected {
        operation: &'static str,
        order_id: String,
    },
}

impl StoreError {
    /// True for [`StoreError::Conflict`]: reload and retry, do not fail the record yet.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }

    /// True when the write itself is refused and always will be, whatever is retried: it
    /// holds something that cannot be stored ([`Refused`](StoreError::Refused),
    /// [`Encode`](StoreError::Encode), [`TooLarge`](StoreError::TooLarge)).
    /// Nothing was written; a write without the culprit may well succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            StoreError::Refused { .. } | StoreError::Encode { .. } | StoreError::TooLarge { .. }
        )
    }

    /// True when the same request may succeed later: a lost race, throttling, a 5xx, the
    /// network, an injected fault. Neither this nor [`is_permanent`](StoreError::is_permanent)
    /// holds for a stored item that does not read back (`Malformed`, `Decode`): the order is
    /// damaged and nothing of it proceeds until it is repaired.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Conflict { .. }
            | StoreError::Backend { .. }
            | StoreError::Index { .. }
            | StoreError::Counter { .. }
            | StoreError::Sealed { .. }
            | StoreError::Seal { .. }
            | StoreError::Receipts { .. } => true,
            #[cfg(any(test, feature = "testing"))]
            StoreError::Injected { .. } => true,
            _ => false,
        }
    }
}
