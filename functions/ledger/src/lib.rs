//! Ledger function: streams an uploaded ledger from S3 and fans its transactions out to the
//! SQS FIFO transactions queue, one message group per order, in each order's line order.
//!
//! # Layout
//! - [`notification`]: ledger-queue message body → S3 objects (test events, key decoding).
//! - [`scheduler`]: the pure send scheduler (per-group order, one batch in flight per group,
//!   retries with backoff).
//! - [`message`]: a transaction as an SQS FIFO message (group, deduplication id, attributes).

pub mod message;
pub mod notification;
pub mod scheduler;
