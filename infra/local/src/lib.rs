//! The `convoy` CLI: operates a stack on AWS or on the emulator ([`ops`]), and runs the
//! pipeline on this machine without Docker — plays Lambda's part against LocalStack, and the
//! logic of the local scripts (provisioning, readiness, the stack's settings).
//!
//! # Layout
//! - [`cli`]: the `convoy` commands and their arguments.
//! - [`ops`]: the operator's commands against a deployed stack; [`output`]: tables or JSON.
//! - [`local`]: `convoy local up | down | status | mappings`.
//! - [`stack`]: the emulator and the provisioned stack (its CloudFormation outputs).
//! - [`provision`]: `sam deploy` of the template's resources, skipped when unchanged.
//! - [`notify`]: the S3 → ledger queue notification (test events drained, `--check`).
//! - [`localstack`]: LocalStack's health and a DynamoDB round trip.
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

pub mod cli;
pub mod deadletter;
pub mod local;
pub mod localstack;
pub mod notify;
pub mod ops;
pub mod output;
pub mod provision;
