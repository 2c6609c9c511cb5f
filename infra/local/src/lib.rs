//! Local driver for ledger convoy: plays Lambda's part against an emulator (LocalStack).
//!
//! # Layout
//! - [`stack`]: where the provisioned resources are (`.local/stack.env`).
//! - [`event`]: SQS messages shaped into the event Lambda delivers.
//! - [`function`]: functions to invoke — over Lambda's Invoke API (`cargo lambda watch`)
//!   or in-process.
//! - [`mapping`]: an event source mapping with Lambda's semantics: batches, partial batch
//!   responses, delete only successes, failures return after the visibility timeout.
//! - [`demo`]: the main job — one ledger through the pipeline, its orders printed.
//! - [`pipeline`]: start the mappings, upload ledgers, wait until settled, read orders.

pub mod demo;
pub mod event;
pub mod function;
pub mod mapping;
pub mod pipeline;
pub mod stack;
