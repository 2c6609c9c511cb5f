//! DynamoDB layout of ledger convoy's orders, behind a port.
//!
//! # Layout
//! One table, string keys `pk` and `sk`. Every item of an order has `pk = order#<order_id>`
//! (other writers use other prefixes, such as `ledger#`):
//!
//! | `sk` | attributes |
//! |---|---|
//! | `state` | `state` (JSON of `OrderState`), `version` (N, optimistic lock), `order_id`, `status`, `next_seq`, `parked_count`, `updated_at` |
//! | `seq#<seq, 20 digits>` | `processed` (JSON of `sequencer::Processed`), `op`, `outcome`, `fingerprint`, `seq` |
//! | `parked#<seq, 20 digits>` | `txn` (the transaction's wire JSON), `seq` |
//! | `conflict#<seq, 20 digits>#<fingerprint>` | `conflict` (JSON of `ConflictRecord`), `fingerprint`, `seq` |
//!
//! A step of the sequencer is committed as one `TransactWriteItems`: the head put on the
//! condition that the version is the one loaded (absent for a new order), each history,
//! parked and conflict put on the condition that the item is absent, each unpark delete on
//! the condition that the item is present. Any failed condition is [`StoreError::Conflict`].
//!
//! Modules:
//! - [`port`]: the traits [`OrderStore`] (what the consumer needs) and [`OrderReader`]
//!   (operators, the demo, tests), [`Version`], [`Fact`], [`MAX_CHANGES`].
//! - [`keys`]: `pk` / `sk` encoding; [`item`]: items to and from the domain types;
//!   [`plan`]: a step as conditional writes.
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

pub use dynamo::DynamoOrderStore;
pub use error::StoreError;
#[cfg(any(test, feature = "testing"))]
pub use faults::{FailingStore, Fault};
#[cfg(any(test, feature = "testing"))]
pub use hooked::{CommitHook, Hooked};
#[cfg(any(test, feature = "testing"))]
pub use memory::MemoryOrderStore;
pub use port::{Fact, Head, OrderReader, OrderStore, Version, MAX_CHANGES};
pub use usage::Usage;
