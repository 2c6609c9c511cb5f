//! Consumer function: applies each order's transactions in order to DynamoDB, exactly once
//! in effect.
//!
//! # Layout
//! - [`handler`]: [`handle`] — an SQS FIFO batch in, `batchItemFailures` out; independent of
//!   the Lambda runtime so a local driver can call it in-process.
//! - [`batch`]: the batch split into message groups (orders), each record parsed.
//! - [`apply`]: one order's records through the sequencer into an
//!   [`OrderStore`](convoy_store::OrderStore): load, process, fetch, commit, retry.
//! - [`settings`]: [`Settings`], the knobs, production values by default.
//! - [`error`]: [`Poison`](error::Poison) and [`ApplyError`](error::ApplyError), why records fail.
//!
//! The binary (`main.rs`) only wires tracing, the AWS config and the DynamoDB store.

pub mod apply;
pub mod batch;
pub mod error;
pub mod handler;
pub mod settings;

pub use handler::{handle, handle_with};
pub use settings::Settings;

#[cfg(test)]
mod tests;
