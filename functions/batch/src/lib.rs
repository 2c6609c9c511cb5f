//! Batch function: the cutoff batch convoy (BizTalk's aggregator): at each cutoff, every
//! order paid within the window, in the order the payments were applied, in one file.
//!
//! # Layout
//! - [`window`]: the cutoff (a local time of day in an IANA zone) and the windows it cuts
//!   time into; what a cutoff that a DST change skips or repeats means.
//! - [`file`](mod@file): a batch file (`batches/<window>.jsonl`): header and one line per
//!   order.
//! - [`run`]: one window's batch, read from the store's receipts and written once, behind
//!   the [`BatchBucket`](run::BatchBucket) port; [`s3`] is its adapter.
//! - [`settings`]: the cutoff and the settle delay, checked at start.
//!
//! The binary (`main.rs`) only wires tracing, the AWS config, the store and the bucket.

pub mod file;
pub mod run;
pub mod s3;
pub mod settings;
pub mod window;
