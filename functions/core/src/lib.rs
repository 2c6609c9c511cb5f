//! The pure domain of ledger convoy: no AWS, no I/O, no async. Ledger files are read by the
//! `ledger-format` crate, which builds on these types.
//!
//! # Layout
//! - [`field`]: the fields of a ledger line and [`FieldError`], the error naming the one that failed.
//! - [`order_id`], [`seq`], [`amount`], [`transaction`]: types that parse — a value that
//!   exists is valid per the contract (section 1); each has one checked `parse` (or `new`),
//!   and [`Content::build`] is the one place a content is made from an op and its fields.
//! - [`order`]: the order state machine (section 2).
//! - [`sequencer`]: per-order sequencing — applied, parked, duplicate, conflict (section 3).
//! - [`view`]: the JSON a user sees for an order (section 4).
//! - [`error_chain`]: [`BoxError`] and [`chain`], the one way errors and causes are shown.
//! - [`bounds`]: worst-case JSON sizes of transactions, history entries and order states,
//!   derived from the bounds of the fields (for the SQS and DynamoDB limits).
//!
//! Test support, behind the `testing` feature (never in a production build):
//! - `memory`: an in-memory order book over the sequencer, for tests and references.
//! - `vectors`: the conformance vectors of the contract, the one list of them.

pub mod amount;
pub mod bounds;
pub mod error_chain;
pub mod field;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod order;
pub mod order_id;
pub mod receipt;
pub mod seq;
pub mod sequencer;
pub mod transaction;
#[cfg(any(test, feature = "testing"))]
pub mod vectors;
pub mod view;

pub use amount::Amount;
pub use error_chain::{chain, BoxError};
pub use field::{Field, FieldError};
pub use order::{OrderState, Rejection, Status};
pub use order_id::OrderId;
pub use receipt::Receipt;
pub use seq::Seq;
pub use transaction::{Content, Currency, Fingerprint, Op, Principal, Transaction, TxnId};
pub use view::OrderView;
