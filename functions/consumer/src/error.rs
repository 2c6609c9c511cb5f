//! Why a record fails: a poison message, or a failure applying its order's transactions.
//! Both kinds are per record; [`fifo_batch::BatchError`] is why a whole batch fails.

use convoy_core::sequencer::SeqError;
use convoy_store::StoreError;

/// A message that can never be processed as it is: it goes to the dead-letter queue after
/// `maxReceiveCount` receives, where an operator can see it.
#[derive(Debug, thiserror::Error)]
pub enum Poison {
    #[error("the message has no body")]
    NoBody,
    #[error("the message has no MessageGroupId attribute (not from a FIFO queue?)")]
    NoGroup,
    #[error("the body is not a valid transaction (nor a resume message)")]
    Body(#[source] serde_json::Error),
    #[error("the message is for order {body_order} but came in message group {group}")]
    WrongGroup { group: String, body_order: String },
}

/// Why applying an order's transactions stopped before the end.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("storage failed for order {order_id}")]
    Store {
        order_id: String,
        #[source]
        source: StoreError,
    },
    #[error("order {order_id} changed under every one of {attempts} attempts")]
    Contended {
        order_id: String,
        attempts: usize,
        #[source]
        source: StoreError,
    },
    #[error("the sequencer refused a transaction of order {order_id}")]
    Sequencer {
        order_id: String,
        #[source]
        source: SeqError,
    },
    #[error("order {order_id}: the stored {need} its state refers to is missing")]
    MissingFact { order_id: String, need: String },
    #[error("order {order_id}: the sequencer made no progress")]
    Stalled { order_id: String },
    #[error("order {order_id}: stopped, the invocation's deadline is near")]
    Deadline { order_id: String },
}
