//! SQS FIFO batches for AWS Lambda: records grouped by `MessageGroupId`, the groups side by
//! side, each group's records in order, and a partial batch response
//! ([`SqsBatchResponse`](aws_lambda_events::sqs::SqsBatchResponse), `batchItemFailures`)
//! naming exactly the records to receive again.
//!
//! Two ways to process a batch:
//! - [`for_each_record`]: an async handler per record. The first failure in a group fails
//!   that record and every later record of the group, which are not even handed to the
//!   handler (like Powertools' `SqsFifoPartialProcessor` with `skip_group_on_error`).
//! - [`for_each_group`]: an async processor per group, given the group's records in order
//!   and the deadline; it returns a [`GroupReport`] of the records that are *not* durably
//!   done, and exactly those are reported.
//!
//! Both honour an invocation deadline (a [`tokio::time::Instant`], see [`deadline_from`]): a
//! group still running at the deadline is cancelled and its unfinished records count as
//! failed. A record without a `messageId` fails the whole call ([`BatchError`]) before
//! anything runs, so Lambda retries the whole batch instead of silently deleting it.
//!
//! ```
//! use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
//! use std::time::Duration;
//! use tokio::time::Instant;
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("no body")]
//! struct NoBody;
//!
//! async fn handle(record: &SqsMessage) -> Result<(), NoBody> {
//!     let _body = record.body.as_deref().ok_or(NoBody)?;
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), fifo_batch::BatchError> {
//! let event: SqsEvent = serde_json::from_str(
//!     r#"{"Records": [
//!         {"messageId": "m-1", "body": "{}", "attributes": {"MessageGroupId": "a"}},
//!         {"messageId": "m-2", "attributes": {"MessageGroupId": "a"}},
//!         {"messageId": "m-3", "body": "{}", "attributes": {"MessageGroupId": "a"}},
//!         {"messageId": "m-4", "body": "{}", "attributes": {"MessageGroupId": "b"}}
//!     ]}"#,
//! ).unwrap();
//! // In a Lambda: `fifo_batch::deadline_from(event.context.deadline())`, less a margin.
//! let deadline = Instant::now() + Duration::from_secs(10);
//! let response = fifo_batch::for_each_record(&event.records, deadline, handle).await?;
//! let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
//! // m-2 failed, so m-3 (same group, after it) was not handled; group b went on.
//! assert_eq!(failed, ["m-2", "m-3"]);
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//! - [`group`](mod@group): [`Group`], the batch split into message groups, ids checked.
//! - [`run`]: [`for_each_record`] and [`for_each_group`], all groups at once, and the response.
//! - [`report`]: [`GroupReport`], which records of a group are not done.
//! - [`deadline`]: [`deadline_from`], a Lambda context's deadline as an `Instant`.
//! - [`error`](mod@error): [`BatchError`], why a batch cannot be processed at all.

pub mod deadline;
pub mod error;
pub mod group;
pub mod report;
pub mod run;

pub use deadline::deadline_from;
pub use error::BatchError;
pub use group::{Group, GROUP_ATTRIBUTE};
pub use report::GroupReport;
pub use run::{for_each_group, for_each_record};

#[cfg(test)]
mod tests;
