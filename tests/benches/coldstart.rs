//! Cold start of the functions' release binaries: from the process's start to the response
//! of its first invocation (an empty SQS batch: no AWS call), served by a minimal Lambda
//! Runtime API on 127.0.0.1, each binary started 20 times; the median and the slowest.
//!
//! Needs `cargo build --release --bin ledger --bin consumer` first (`infra/bench.sh` does).
//! On AWS the init phase adds the download of the package and the sandbox's start: this is
//! what the binary itself adds (its size, its SDK clients' set-up).

// A benchmark, not production code: a failure ends it with its error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const RUNS: usize = 20;
const EVENT: &str = r#"{"Records":[]}"#;

/// Reads one HTTP/1.1 request: its request line (method and path), body skipped.
async fn request(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).await.ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    Some(line.trim_end().to_owned())
}

/// Serves one invocation on `listener`; returns when its response arrives.
async fn serve_one(listener: &TcpListener) {
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let mut reader = BufReader::new(stream);
        while let Some(line) = request(&mut reader).await {
            let stream = reader.get_mut();
            if line.starts_with("GET /2018-06-01/runtime/invocation/next") {
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis()
                    + 60_000;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: cold-1\r\nlambda-runtime-deadline-ms: {deadline}\r\nlambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:bench\r\ncontent-length: {}\r\n\r\n{EVENT}",
                    EVENT.len()
                );
                stream.write_all(head.as_bytes()).await.unwrap();
            } else {
                let done = line.contains("/response");
                let reply = "HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}";
                stream.write_all(reply.as_bytes()).await.unwrap();
                assert!(done, "the function reported an error: {line}");
                return;
            }
        }
    }
}

async fn cold_start(binary: &Path) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap();
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("TABLE_NAME", "bench")
        .env("TRANSACTIONS_QUEUE_URL", "http://127.0.0.1:9/0/bench.fifo")
        .env("LEDGER_QUEUE_URL", "http://127.0.0.1:9/0/bench")
        .env("METRICS_NAMESPACE", "LedgerConvoy/bench")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), serve_one(&listener))
        .await
        .unwrap_or_else(|_| panic!("{} served no invocation in 30 s", binary.display()));
    let took = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    took
}

fn release(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/release")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: cargo build --release --bin {name}",
        path.display()
    );
    path
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!("# cold start: process start to the first invocation's response (release binaries, {RUNS} runs)");
    println!(
        "{:<10} {:>10} {:>10} {:>10}",
        "binary", "MB", "median ms", "max ms"
    );
    for name in ["ledger", "consumer"] {
        let binary = release(name);
        let mut runs: Vec<Duration> = (0..RUNS)
            .map(|_| runtime.block_on(cold_start(&binary)))
            .collect();
        runs.sort();
        let size = std::fs::metadata(&binary).unwrap().len() as f64 / 1e6;
        println!(
            "{name:<10} {size:>10.1} {:>10.1} {:>10.1}",
            runs[RUNS / 2].as_secs_f64() * 1e3,
            runs[RUNS - 1].as_secs_f64() * 1e3
        );
    }
}
