//! Local driver for ledger convoy: plays Lambda's part against an emulator (LocalStack).
//!
//! # Layout
//! - [`stack`]: where the provisioned resources are (`.local/stack.env`).
//! - [`event`]: SQS messages shaped into the event Lambda delivers.
//! - [`function`]: functions to invoke — over Lambda's Invoke API (`cargo lambda watch`)
//!   or in-process.
//! - [`mapping`]: an event source mapping with Lambda's semantics: batches, partial batch
//!   responses, delete only successes, failures return after the visibility timeout.

pub mod event;
pub mod function;
pub mod mapping;
pub mod stack;
