//! Peak memory of the ledger function on gzip bombs: the real handler and pipeline, with
//! in-memory ports of its own (an object source, a publisher that discards, a rejects sink
//! that only measures the report, a status store), run in a child process per bomb whose
//! peak resident set (`VmHWM` in `/proc/self/status`) must stay under [`LIMIT_MB`].
//!
//! `harness = false`: `main` is the parent; it runs this same binary again once per bomb,
//! with [`CHILD_ENV`] naming the bomb, and prints `VmHWM=… MB for …` for each. The bombs
//! are built compressed, in memory; nothing is written to disk but the rejects spool.
//!
//! - `4kb`: 2,000,000 lines of `x` (4 MB), gzip'd to about 4 KB: one chunk.
//! - `1gb`: 1 GiB of refused lines (4,096 lines of `x`, three of 200 KiB and one of
//!   400 KiB per MiB), as 1,024 gzip members of one MiB each, served in 256 KiB chunks.
//!   Long lines keep its four million refusals affordable in a debug build.
//!
//! Linux only (`/proc`); elsewhere it says so and passes.

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use ledger::notification::ObjectRef;
use ledger::ports::{ChunkStream, ObjectSource, SourceError};
use ledger::rejects::{MAX_REPORTED_REJECTS, MAX_REPORT_LINE_BYTES};
use ledger::{Handler, HandlerOptions, State};
use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// The peak resident set allowed, in MB (the Lambda has 512).
const LIMIT_MB: f64 = 128.0;
/// Set in the child: the bomb it runs.
const CHILD_ENV: &str = "LEDGER_PEAK_MEMORY_BOMB";
const BOMBS: [&str; 2] = ["4kb", "1gb"];

fn main() -> ExitCode {
    if let Ok(bomb) = std::env::var(CHILD_ENV) {
        child(&bomb);
        return ExitCode::SUCCESS;
    }
    if !Path::new("/proc/self/status").exists() {
        println!("peak_memory: no /proc/self/status here; skipped");
        return ExitCode::SUCCESS;
    }
    let exe = std::env::current_exe().unwrap();
    let mut ok = true;
    for bomb in BOMBS {
        let out = Command::new(&exe).env(CHILD_ENV, bomb).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let figures = stdout.lines().find(|l| l.starts_with("VmHWM="));
        match (out.status.success(), figures) {
            (true, Some(line)) => {
                println!("{line}");
                let mb: f64 = line["VmHWM=".len()..]
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                if mb >= LIMIT_MB {
                    println!("FAILED: {bomb}: peak {mb} MB is not under {LIMIT_MB} MB");
                    ok = false;
                }
            }
            _ => {
                println!(
                    "FAILED: {bomb}: child {}\n{stdout}\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs one bomb through the handler, then prints the peak and what the handler made of it.
fn child(bomb: &str) {
    let (key, compressed, inflated, chunk) = match bomb {
        "4kb" => {
            let text = b"x\n".repeat(2_000_000);
            let gz = gzip(&text);
            ("ledgers/bomb-4kb.jsonl.gz", gz, text.len(), usize::MAX)
        }
        "1gb" => {
            let block = one_mib_block();
            let member = gzip(&block);
            let members = 1024;
            let gz = member.repeat(members);
            let inflated = block.len() * members;
            ("ledgers/bomb-1gb.jsonl.gz", gz, inflated, 256 * 1024)
        }
        other => panic!("no bomb {other:?}"),
    };
    let compressed_len = compressed.len();
    let (report, status) = (Measure::default(), Status::default());
    let handler = Handler::new(
        Source {
            bytes: Bytes::from(compressed),
            chunk,
        },
        Discard::default(),
        report.clone(),
        status.clone(),
        NoContinuation,
        // One segment: the figure is the stream's, not the parts'.
        HandlerOptions {
            checkpoint_every: Duration::from_secs(3600),
            ..HandlerOptions::default()
        },
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
    let response = runtime
        .block_on(handler.handle(put_event(key), deadline))
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let elapsed = started.elapsed();
    let hwm_kb = vm_hwm_kb();

    let status = status.0.lock().unwrap().clone().unwrap();
    let report = *report.0.lock().unwrap();
    // Every line refused and counted; the report cut at its cap, each line bounded.
    assert_eq!(status.state, State::Done);
    assert_eq!((status.refused, status.sent), (status.lines_read, 0));
    assert!(status.rejects_truncated);
    assert_eq!(report.0, MAX_REPORTED_REJECTS);
    assert!(report.2 <= MAX_REPORT_LINE_BYTES, "{}", report.2);
    println!(
        "VmHWM={:.1} MB for the {bomb} bomb ({compressed_len} bytes gzip'd, {inflated} inflated) \
         in {:.1} s: state {}, {} lines read, {} refused, report {} lines / {} bytes (longest {}), \
         rejects_truncated {}",
        hwm_kb as f64 / 1024.0,
        elapsed.as_secs_f64(),
        status.state,
        status.lines_read,
        status.refused,
        report.0,
        report.1,
        report.2,
        status.rejects_truncated,
    );
}

/// One MiB of refused lines: 4,096 lines of `x`, three of 200 KiB and one of 400 KiB (over
/// the 256 KiB line limit), and `x` up to the MiB.
fn one_mib_block() -> Vec<u8> {
    let mut block = b"x\n".repeat(4096);
    for _ in 0..3 {
        block.extend(std::iter::repeat_n(b'x', 200 * 1024));
        block.push(b'\n');
    }
    let rest = (1 << 20) - block.len() - 1;
    block.extend(std::iter::repeat_n(b'x', rest));
    block.push(b'\n');
    block
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The bomb, served `chunk` bytes at a time.
struct Source {
    bytes: Bytes,
    chunk: usize,
}

struct Chunks {
    bytes: Bytes,
    chunk: usize,
}

impl ObjectSource for Source {
    type Chunks = Chunks;

    async fn open(&self, _object: &ObjectRef, from: u64) -> Result<Chunks, SourceError> {
        assert_eq!(from, 0, "a bomb is read once, from its start");
        Ok(Chunks {
            bytes: self.bytes.clone(),
            chunk: self.chunk,
        })
    }
}

impl ChunkStream for Chunks {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, SourceError> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let n = self.chunk.min(self.bytes.len());
        Ok(Some(self.bytes.split_to(n)))
    }
}

#[path = "support/peak.rs"]
mod support;
use support::{put_event, vm_hwm_kb, Discard, Measure, NoContinuation, Status};
