//! Ledger function: streams an uploaded ledger from S3 and fans its transactions out to the
//! SQS FIFO transactions queue, one message group per order, in each order's line order.
//!
//! # Layout
//! - [`handler`]: the ledger-queue handler, generic over the ports; takes an `SqsEvent` and
//!   a deadline, so it runs in Lambda (see `main.rs`) or in-process in a local driver.
//! - [`notification`]: ledger-queue message body → S3 objects (test events, key decoding).
//! - [`pipeline`]: one ledger in constant memory: chunks → decoder → bounded channel → sender.
//! - [`scheduler`]: the pure send scheduler (per-group order, one batch in flight per group,
//!   retries with backoff); [`sender`] drives it against a publisher.
//! - [`message`]: a transaction as an SQS FIFO message (group, deduplication id, attributes).
//! - [`rejects`]: the rejects report, spooled to a temporary file, capped at
//!   [`rejects::MAX_REPORTED_REJECTS`] lines of at most [`rejects::MAX_REPORT_LINE_BYTES`].
//! - [`status`]: the ledger's status record; one per key, owned by the newest version (by
//!   the S3 event sequencer), see [`handler`].
//! - [`ports`]: one trait per capability: [`ObjectSource`], [`TransactionPublisher`],
//!   [`RejectsSink`], [`StatusStore`].
//! - [`aws`]: their S3 / SQS / DynamoDB adapters, [`aws::build_handler`] and
//!   [`aws::get_status`] for the Lambda and the local driver.
//! - [`config`]: the environment the function reads once; [`deadline_from`]: the invocation's
//!   deadline.
//! - `memory` (tests only): in-memory adapters.
//! - `store_bounds` (tests only): what the ledger admits, in the consumer's DynamoDB items
//!   at their largest, against DynamoDB's limits.

pub mod aws;
pub mod config;
pub mod emf;
pub mod handler;
pub mod message;
pub mod notification;
pub mod pipeline;
pub mod ports;
pub mod rejects;
pub mod scheduler;
pub mod sender;
pub mod status;

#[cfg(test)]
mod memory;
#[cfg(test)]
mod store_bounds;

pub use aws::{build_handler, get_status, AwsHandler};
pub use config::Config;
/// A Lambda context's deadline as a tokio `Instant` (shared with the consumer's batches).
pub use fifo_batch::deadline_from;
pub use handler::{Handler, HandlerError, HandlerOptions, LedgerError};
pub use ports::{ObjectSource, PutOutcome, RejectsSink, StatusStore, TransactionPublisher};
pub use status::{LedgerStatus, State};
