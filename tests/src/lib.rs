//! End-to-end tests of ledger convoy against the local emulator: the harness they share.
//!
//! The tests themselves are in `tests/tests/*.rs`; they need LocalStack with the stack of
//! `template.yaml` provisioned (`bash infra/test.sh` does everything). A missing emulator
//! fails every test with a message saying so — nothing is skipped silently.
//!
//! # Layout
//! - [`inprocess`]: the ledger and consumer handlers called in-process, with the events and
//!   responses of the Invoke API (so a test can inject faults into their ports).
//! - [`harness`]: [`Harness`] — one test's exclusive use of the emulator (a global lock),
//!   its run id and namespaced keys and order ids, the mappings started with in-process
//!   functions over the real adapters, stopped even when the test fails.
//! - [`stores`]: order-store wrappers for the consumer: shared with the test (to inject
//!   faults and look at them later) and recording every commit with its time.
//! - [`rewrite`]: a ledger's order ids prefixed with the run id, everything else (line
//!   numbers included) kept — JSON Lines, CSV, gzip.
//! - [`s3_events`]: S3 event sequencers as S3 writes them (LocalStack's are constant).
//! - [`vectors`]: the conformance vectors of `fixtures/vectors/`, rewritten for one run.
//! - [`generate`]: deterministic order life cycles as ledger lines.
//! - [`model`]: the expected views, from the order state machine applied in `seq` order.
//! - [`chaos`]: the fault-injection suite's faults, as wrappers around a function or a port.
//! - [`tally`]: the suite's counts (lost, applied twice, out of order) against the model.
//! - [`check`]: comparing views (contract section 4), rejects reports and status records.

pub mod chaos;
pub mod check;
pub mod generate;
pub mod harness;
pub mod inprocess;
pub mod model;
pub mod rewrite;
pub mod s3_events;
pub mod stores;
pub mod tally;
pub mod vectors;

pub use harness::{Harness, HarnessError};

/// Errors of the harness's own helpers, with their causes; and how they are shown.
pub use convoy_core::{chain, BoxError};
