//! Peak memory of the ledger function against ledger size: generated valid ledgers of
//! 1 MB, 100 MB and 1 GB, plain and gzip, through the real handler and pipeline with a
//! publisher that discards, each in a process of its own whose peak resident set
//! (`VmHWM`) is printed. The ledger is generated (and gzip'd) as it is read, so the input
//! itself takes no memory. Prints each figure and the ratio of the largest to the
//! smallest: the target is < 2 (memory flat in the file's size) and every peak < 128 MB.
//!
//! `cargo bench -p ledger --bench memory` (release; about a minute per GB). Linux only.

// A benchmark throughout: a failed unwrap fails the measurement.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/peak.rs"]
mod support;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use ledger::notification::ObjectRef;
use ledger::ports::{ChunkStream, ObjectSource, SourceError};
use ledger::{Handler, HandlerOptions, State};
use std::io::Write;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};
use support::{put_event, vm_hwm_kb, Discard, Measure, NoContinuation, Status};

const CHILD_ENV: &str = "LEDGER_MEMORY_BENCH_CASE";
const LIMIT_MB: f64 = 128.0;
const CASES: [(&str, u64); 3] = [("1MB", 1 << 20), ("100MB", 100 << 20), ("1GB", 1 << 30)];

fn main() -> ExitCode {
    if let Ok(case) = std::env::var(CHILD_ENV) {
        child(&case);
        return ExitCode::SUCCESS;
    }
    if !std::path::Path::new("/proc/self/status").exists() {
        println!("memory: no /proc/self/status here; nothing measured");
        return ExitCode::SUCCESS;
    }
    let exe = std::env::current_exe().unwrap();
    println!("| ledger | plain: VmHWM | gzip: VmHWM |\n|---|---|---|");
    let mut peaks = Vec::new();
    for (name, _) in CASES {
        let mut row = format!("| {name} |");
        for gzip in [false, true] {
            let case = format!("{name}:{gzip}");
            let out = Command::new(&exe).env(CHILD_ENV, &case).output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let Some(line) = stdout.lines().find(|l| l.starts_with("VmHWM=")) else {
                println!(
                    "FAILED: {case}: {}\n{stdout}\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
                return ExitCode::FAILURE;
            };
            let figures = &line["VmHWM=".len()..];
            let mb: f64 = figures.split_whitespace().next().unwrap().parse().unwrap();
            peaks.push(mb);
            row.push_str(&format!(" {figures} |"));
        }
        println!("{row}");
    }
    let (min, max) = peaks
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    println!(
        "largest / smallest peak: {:.2} (target < 2); largest {max:.1} MB (target < {LIMIT_MB} MB)",
        max / min
    );
    if max / min < 2.0 && max < LIMIT_MB {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One case, `<size>:<gzip>`: the generated ledger through the handler.
fn child(case: &str) {
    let (name, gzip) = case.split_once(':').unwrap();
    let size = CASES.iter().find(|(n, _)| *n == name).unwrap().1;
    let gzip = gzip == "true";
    let key = if gzip {
        "ledgers/generated.jsonl.gz"
    } else {
        "ledgers/generated.jsonl"
    };
    let status = Status::default();
    let handler = Handler::new(
        Generated { size, gzip },
        Discard::default(),
        Measure::default(),
        status.clone(),
        NoContinuation,
        // One segment: the figure is the stream's.
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
    let status = status.0.lock().unwrap().clone().unwrap();
    assert_eq!(status.state, State::Done);
    assert_eq!((status.refused, status.sent), (0, status.lines_read));
    println!(
        "VmHWM={:.1} MB ({} lines in {:.1} s)",
        vm_hwm_kb() as f64 / 1024.0,
        status.sent,
        started.elapsed().as_secs_f64()
    );
}

/// A ledger of `size` bytes of valid lines (1,000 orders, `add`s), made as it is read.
struct Generated {
    size: u64,
    gzip: bool,
}

struct Lines {
    size: u64,
    made: u64,
    line: u64,
    gzip: Option<GzEncoder<Vec<u8>>>,
    done: bool,
}

impl ObjectSource for Generated {
    type Chunks = Lines;

    async fn open(&self, _object: &ObjectRef, from: u64) -> Result<Lines, SourceError> {
        assert_eq!(from, 0, "read once, from its start");
        Ok(Lines {
            size: self.size,
            made: 0,
            line: 0,
            gzip: self
                .gzip
                .then(|| GzEncoder::new(Vec::new(), Compression::fast())),
            done: false,
        })
    }
}

impl ChunkStream for Lines {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, SourceError> {
        while !self.done {
            let mut text = Vec::with_capacity(256 * 1024);
            while text.len() < 256 * 1024 && self.made < self.size {
                let i = self.line;
                let (order, seq) = (i % 1000, i / 1000 + 1);
                let line = format!(
                    "{{\"order_id\":\"O-{order}\",\"seq\":{seq},\"op\":\"add\",\"txn_id\":\"t-{i}\",\"amount\":\"1.25\"}}\n"
                );
                self.made += line.len() as u64;
                self.line += 1;
                text.extend_from_slice(line.as_bytes());
            }
            self.done = self.made >= self.size;
            let Some(encoder) = &mut self.gzip else {
                return Ok(Some(Bytes::from(text)));
            };
            encoder.write_all(&text).unwrap();
            let mut out = std::mem::take(encoder.get_mut());
            if self.done {
                let encoder = self.gzip.take().unwrap();
                out.extend(encoder.finish().unwrap());
            }
            if !out.is_empty() {
                return Ok(Some(Bytes::from(out)));
            }
        }
        Ok(None)
    }
}
