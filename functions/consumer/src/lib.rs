//! Consumer function: applies each order's transactions in order to DynamoDB, exactly once
//! in effect.
//!
//! # Layout
//! - [`handler`]: [`handle`] — an SQS FIFO batch in, `batchItemFailures` out, on top of
//!   [`fifo_batch`] (groups side by side, each in order); independent of the Lambda runtime
//!   so a local driver can call it in-process.
//! - [`batch`]: one record parsed into its transaction, or a [`Poison`](error::Poison).
//! - [`apply`]: one order's records through the sequencer into an
//!   [`OrderStore`](convoy_store::OrderStore): load, process, fetch, commit, retry; a
//!   transaction the store refuses fails alone; nothing starts near the deadline.
//! - [`settings`]: [`Settings`], the knobs, production values by default.
//! - [`error`]: [`Poison`](error::Poison) and [`ApplyError`](error::ApplyError), why records fail.
//!
//! The binary (`main.rs`) only wires tracing, the AWS config and the DynamoDB store.

pub mod apply;
pub mod batch;
pub mod error;
pub mod handler;
pub mod settings;

pub use fifo_batch::BatchError;
pub use handler::{handle, handle_with, invocation_deadline};
pub use settings::Settings;

#[cfg(test)]
mod tests;
