//! Consumer function: applies each order's transactions in order to DynamoDB, exactly once
//! in effect.
//!
//! # Layout
//! - [`handler`]: [`handle`] — an SQS FIFO batch in, `batchItemFailures` out, on top of
//!   [`fifo_batch`] (groups side by side, each in order); independent of the Lambda runtime
//!   so a local driver can call it in-process.
//! - [`batch`]: one record parsed into its transaction, a resume message, or a
//!   [`Poison`](error::Poison).
//! - [`resume`]: drains that outlast an invocation go on in a resume message to the
//!   order's message group, through a [`DrainQueue`](resume::DrainQueue); [`sqs`] is its
//!   adapter.
//! - [`apply`]: one order's records through the sequencer into an
//!   [`OrderStore`](convoy_store::OrderStore): load, process, fetch, commit, retry; a
//!   transaction the store refuses fails alone; nothing starts near the deadline.
//! - [`settings`]: [`Settings`], the knobs, production values by default.
//! - [`error`]: [`Poison`](error::Poison) and [`ApplyError`](error::ApplyError), why records fail.
//!
//! The binary (`main.rs`) only wires tracing, the AWS config, the DynamoDB store and the
//! SQS drain queue.

pub mod apply;
pub mod batch;
pub mod emf;
pub mod error;
pub mod handler;
pub mod resume;
pub mod settings;
pub mod sqs;
pub mod void;

pub use fifo_batch::BatchError;
pub use handler::{handle, handle_with, invocation_deadline};
pub use settings::Settings;

#[cfg(test)]
mod tests;
// The test files shared with `tests/` name the crate `consumer`, as they do there.
#[cfg(test)]
extern crate self as consumer;
