//! DynamoDB layout of ledger convoy's orders, behind a port.
//!
//! # Layout
//! One table, string keys `pk` and `sk`. Every item of an order has `pk = order#<order_id>`
//! (other writers use other prefixes, such as `ledger#`):
//!
//! | `sk` | attributes |
//! |---|---|
//! | `log#<start, 20 digits>#<version, 20 digits>` | `state` (JSON of the bounded `OrderState` after the step), `changes` (JSON of the step's changes), `version`, `status`, `next_seq`, `updated_at`, `waiting_since` (while transactions are parked) |
//! | `item#<txn_id>` | `amount`, `seq` (the seq that set it) |
//! | `parked#<seq, 20 digits>` | `txn` (the transaction's wire JSON) |
//! | `conflict#<seq, 20 digits>#<fingerprint>` | `conflict` (JSON of `ConflictRecord`) |
//! | `failure#<message id>` | `disposition`, `error`, `receive_count`, `at`, `expires_at` (the table's TTL): why the consumer last failed that message |
//! | `waiting` (while transactions are parked) | `waiting_shard`, `waiting_since` (the keys of `WaitingIndex`), `next_seq`, `version`; `stalled_at`, `parked` once the watchdog found it stalled |
//!
//! Receipts (the cutoff batches' sequence) have partitions of their own: the counter
//! `receipts#counter` / `counter` (`last`: the last number taken) and one item per paid
//! order in `receipts#<UTC hour of paid_at>` / `<number, 20 digits>` (`order_id`, `receipt`,
//! `paid_at` in epoch ms, `currency`, `total`); the log item of the step that paid keeps
//! `receipt` and `paid_at` too.
//!
//! A step is committed by one `PutItem` of its log item on the condition that the key is
//! free: the key is made of the `next_seq` and version the step started from, so two
//! writers from the same head collide and one of them gets [`StoreError::Conflict`]. Before
//! it, the same commit copies the previous step's items, parked transactions and conflicts
//! into items of their own ([`plan`]); until then the previous step's log item holds them
//! and [`Head::known`] hands them to the sequencer.
//!
//! Modules:
//! - [`port`]: the traits [`OrderStore`] (what the consumer needs), [`WaitingStore`] (the
//!   watchdog) and [`OrderReader`] (operators, the demo, tests), [`Head`], [`Version`],
//!   [`Fact`], [`Waiting`], [`MAX_CHANGES`].
//! - [`keys`]: `pk` / `sk` encoding; [`item`]: items to and from the domain types;
//!   [`plan`]: a step as conditional puts.
//! - [`capacity`]: item sizes and capacity units as AWS bills them; [`usage`]: [`Usage`],
//!   the requests and units a store made, beside what DynamoDB reported.
//! - [`dynamo`]: [`DynamoOrderStore`], the adapter over the AWS SDK.
//! - [`error`]: [`StoreError`], one enum for every failure, causes kept.
//!
//! Test support, behind the `testing` feature (never in a production build):
//! - `memory`: `MemoryOrderStore`, the same table and conditions in memory.
//! - `faults`: `FailingStore`, a wrapper injecting faults (`StoreError::Injected`).
//! - `hooked`: `Hooked`, a wrapper running a `CommitHook` around every commit.
//! - `emulator`: a client for the test command's DynamoDB emulator and fresh tables on it.

pub mod capacity;
pub mod dynamo;
pub mod error;
pub mod item;
pub mod keys;
pub mod plan;
pub mod port;
pub mod usage;

#[cfg(feature = "testing")]
pub mod emulator;
#[cfg(any(test, feature = "testing"))]
pub mod faults;
#[cfg(any(test, feature = "testing"))]
pub mod hooked;
#[cfg(any(test, feature = "testing"))]
pub mod memory;

#[cfg(test)]
mod receipts_tests;

pub use dynamo::DynamoOrderStore;
pub use error::StoreError;
#[cfg(any(test, feature = "testing"))]
pub use faults::{FailingStore, Fault};
#[cfg(any(test, feature = "testing"))]
pub use hooked::{CommitHook, Hooked};
#[cfg(any(test, feature = "testing"))]
pub use memory::MemoryOrderStore;
pub use port::{
    Fact, Failure, Head, OrderReader, OrderStore, PaidOrder, ReceiptReader, Version, Waiting,
    WaitingStore, MAX_CHANGES, MAX_FAILURE_ERROR_BYTES,
};
pub use usage::Usage;
