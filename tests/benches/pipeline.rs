//! The whole pipeline on the emulator, side by side with what bounds it and with the design
//! it replaces (issue 10, docs/BENCHMARKS.md):
//!
//! - **Throughput**: transactions per second from upload to every transaction applied, for
//!   a ledger of many orders (1,000 × 100) and of one order (20,000), next to the
//!   emulator's **raw ceiling**: a minimal loop of the same calls with no project code —
//!   SendMessageBatch of up to 10 messages of one group, one batch in flight per group, 8
//!   at once (as the ledger function's scheduler); 4 pollers receiving 10; per batch the
//!   DynamoDB calls the pipeline's consumer made per transaction in the same run (by
//!   operation, on small items; each order's in turn, the orders of a batch side by side);
//!   DeleteMessageBatch.
//! - **Requests and units per transaction**, counted: SQS calls (sends, receives that
//!   returned messages, deletes), DynamoDB requests and write/read units by AWS's rules,
//!   Lambda invocations.
//! - **USD per million transactions** at us-east-1 prices from those counts and the CPU time
//!   of each run, next to the **per-record design** (Powertools' batch + idempotency): one
//!   SendMessage per transaction and, per transaction, an idempotency record put, its update
//!   to completed and one order UpdateItem — measured in the same run on a sample.
//!
//! Needs the emulator with the stack (`bash infra/convoy local up`, or `infra/bench.sh`).
//! `CONVOY_BENCH_SCALE` (default 1) scales every workload (0.1 for a quick look).

// A benchmark, not production code: a failed call ends it with its error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use convoy_store::capacity;
use convoy_tests::{generate, Harness};
use ledger::message::OutgoingMessage;
use ledger::ports::{EntryFailure, PublishError};
use ledger::TransactionPublisher;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Prices, us-east-1, public (checked late 2026).
const SQS_FIFO_PER_REQUEST: f64 = 0.50 / 1e6; // per 64 KB chunk; every request here is < 64 KB
const LAMBDA_PER_REQUEST: f64 = 0.20 / 1e6;
const LAMBDA_ARM_PER_GB_S: f64 = 0.000_013_333_4;
const DDB_PER_WRU: f64 = 0.625 / 1e6;
const DDB_PER_RRU: f64 = 0.125 / 1e6;
/// The memory both designs' functions are given (the template's ledger function's).
const LAMBDA_GB: f64 = 0.5;
/// Assumed wall time a function waits per AWS request it makes (AWS bills duration, not
/// CPU): on top of the measured CPU time.
const WAIT_PER_REQUEST: f64 = 0.005;

/// What one run cost and how long it took.
#[derive(Debug, Default, Clone)]
struct Measured {
    transactions: u64,
    seconds: f64,
    cpu_seconds: f64,
    sqs_sends: u64,
    sqs_receives: u64,
    sqs_deletes: u64,
    ddb_requests: u64,
    wru: f64,
    rru: f64,
    invocations: u64,
}

impl Measured {
    fn per_txn(&self, n: f64) -> f64 {
        n / self.transactions as f64
    }

    fn tps(&self) -> f64 {
        self.transactions as f64 / self.seconds
    }

    fn sqs(&self) -> u64 {
        self.sqs_sends + self.sqs_receives + self.sqs_deletes
    }

    /// USD per million transactions: (SQS, DynamoDB, Lambda requests, Lambda duration).
    fn usd_per_million(&self) -> [f64; 4] {
        let m = 1e6 / self.transactions as f64;
        let requests = (self.sqs() + self.ddb_requests) as f64;
        let duration = self.cpu_seconds + requests * WAIT_PER_REQUEST;
        [
            self.sqs() as f64 * SQS_FIFO_PER_REQUEST * m,
            (self.wru * DDB_PER_WRU + self.rru * DDB_PER_RRU) * m,
            self.invocations as f64 * LAMBDA_PER_REQUEST * m,
            duration * LAMBDA_GB * LAMBDA_ARM_PER_GB_S * m,
        ]
    }

    fn usd(&self) -> f64 {
        self.usd_per_million().iter().sum()
    }
}

/// CPU time of this process so far (user + system, every thread), in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The ledger function's publisher, counting its SendMessageBatch calls.
struct Counting<P> {
    inner: P,
    calls: Arc<AtomicU64>,
}

impl<P: TransactionPublisher> TransactionPublisher for Counting<P> {
    async fn send_batch(
        &self,
        batch: &[OutgoingMessage],
    ) -> Result<Vec<EntryFailure>, PublishError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.send_batch(batch).await
    }
}

/// The project's pipeline: the ledger uploaded, every transaction applied; with its
/// consumer's DynamoDB calls per transaction, by operation.
async fn pipeline(
    h: &Harness,
    name: &str,
    lines: &[Value],
) -> (Measured, Vec<(&'static str, f64)>) {
    let sends = Arc::new(AtomicU64::new(0));
    let calls = sends.clone();
    let ledger = h.ledger_function_with(move |inner| Counting { inner, calls });
    let store = h.order_store().with_own_usage();
    let usage = store.usage().clone();
    let running = h.start_with(ledger, h.consumer(store)).await.unwrap();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let upload = h.upload(name, generate::jsonl(lines)).await.unwrap();
    h.settle_within(&running, &[upload], Duration::from_secs(7200))
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_seconds() - cpu;
    let (ls, cs) = (running.ledger_stats.clone(), running.consumer_stats.clone());
    running.stop().await;
    let total = usage.total();
    let n = lines.len() as f64;
    let mix = usage
        .snapshot()
        .into_iter()
        .map(|(op, t)| (op, t.requests as f64 / n))
        .collect();
    let load = |a: &AtomicU64| a.load(Ordering::SeqCst);
    let measured = Measured {
        transactions: lines.len() as u64,
        seconds,
        cpu_seconds,
        sqs_sends: load(&sends),
        sqs_receives: load(&cs.receives) + load(&ls.receives),
        sqs_deletes: load(&cs.delete_calls) + load(&ls.delete_calls),
        ddb_requests: total.requests,
        wru: total.units.write,
        rru: total.units.read,
        invocations: load(&cs.invocations) + load(&ls.invocations),
    };
    (measured, mix)
}

/// A message to send: its deduplication id and body.
type Message = (String, String);
/// Up to 10 consecutive messages of one group.
type Chunk = Vec<Message>;

/// Messages per group, in order, chunked as the ledger's scheduler batches them.
fn chunks(run: &str, lines: &[Value]) -> VecDeque<(String, Chunk)> {
    let mut groups: BTreeMap<String, Chunk> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        let group = line["order_id"].as_str().unwrap().to_owned();
        groups
            .entry(group)
            .or_default()
            .push((format!("{run}-{i}"), line.to_string()));
    }
    groups
        .into_iter()
        .flat_map(|(g, msgs)| {
            msgs.chunks(10)
                .map(|c| (g.clone(), c.to_vec()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Sends every chunk: `workers` batches at once, never two of one group (a worker takes a
/// group's chunks in order). With `per_message`, one SendMessage per message instead.
async fn send_all(
    h: &Harness,
    chunks: VecDeque<(String, Chunk)>,
    workers: usize,
    per_message: bool,
) -> u64 {
    let mut by_group: Vec<(String, Vec<Chunk>)> = Vec::new();
    for (g, c) in chunks {
        match by_group.last_mut() {
            Some((last, cs)) if *last == g => cs.push(c),
            _ => by_group.push((g, vec![c])),
        }
    }
    let queue = Arc::new(Mutex::new(VecDeque::from(by_group)));
    let calls = Arc::new(AtomicU64::new(0));
    let p = &h.pipeline;
    let tasks = (0..workers).map(|_| {
        let (queue, calls) = (queue.clone(), calls.clone());
        let (sqs, url) = (p.sqs.clone(), p.stack.transactions_queue_url.clone());
        async move {
            loop {
                let next = queue.lock().unwrap().pop_front();
                let Some((group, chunks)) = next else { break };
                for chunk in chunks {
                    if per_message {
                        for (id, body) in chunk {
                            sqs.send_message()
                                .queue_url(&url)
                                .message_group_id(&group)
                                .message_deduplication_id(id)
                                .message_body(body)
                                .send()
                                .await
                                .unwrap();
                            calls.fetch_add(1, Ordering::SeqCst);
                        }
                        continue;
                    }
                    let entries = chunk
                        .iter()
                        .enumerate()
                        .map(|(i, (id, body))| {
                            SendMessageBatchRequestEntry::builder()
                                .id(i.to_string())
                                .message_group_id(&group)
                                .message_deduplication_id(id)
                                .message_body(body)
                                .build()
                                .unwrap()
                        })
                        .collect();
                    let out = sqs
                        .send_message_batch()
                        .queue_url(&url)
                        .set_entries(Some(entries))
                        .send()
                        .await
                        .unwrap();
                    assert!(out.failed().is_empty(), "{:?}", out.failed());
                    calls.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    });
    futures::future::join_all(tasks).await;
    calls.load(Ordering::SeqCst)
}

/// What a consumer loop does with one received batch: its DynamoDB calls, counted.
#[derive(Clone, Copy, PartialEq)]
enum Design<'a> {
    /// The pipeline's own DynamoDB calls (operation, calls per transaction), made with
    /// small items, each order of a batch its calls in turn, the orders side by side (the
    /// raw ceiling).
    Replay(&'a [(&'static str, f64)]),
    /// Per transaction: an idempotency record put, its update to completed, one order
    /// UpdateItem (the per-record design).
    PerRecord,
}

#[derive(Default)]
struct Counts {
    receives: AtomicU64,
    deletes: AtomicU64,
    received: AtomicU64,
    ddb_requests: AtomicU64,
    /// Units × 1,000 (atomics hold integers).
    milli_wru: AtomicU64,
    milli_rru: AtomicU64,
}

impl Counts {
    fn write(&self, item: &capacity::Item) {
        self.ddb_requests.fetch_add(1, Ordering::SeqCst);
        let units = capacity::write(capacity::item_size(item), false);
        self.milli_wru
            .fetch_add((units.write * 1000.0) as u64, Ordering::SeqCst);
    }

    fn read(&self, size: usize) {
        self.ddb_requests.fetch_add(1, Ordering::SeqCst);
        let units = capacity::read(size, capacity::Read::Strong);
        self.milli_rru
            .fetch_add((units.read * 1000.0) as u64, Ordering::SeqCst);
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// The calls of `mix` for `n` transactions of one order (a fraction of a call is made with
/// that probability), in turn, on small items under `pk`.
async fn replay(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: String,
    mix: &[(&'static str, f64)],
    n: usize,
    counts: &Counts,
) {
    for (operation, per_txn) in mix {
        let want = per_txn * n as f64;
        let calls = want.floor() as usize + usize::from(fastrand::f64() < want.fract());
        for _ in 0..calls {
            let sk = s(format!("x{}", fastrand::u32(..8)));
            match *operation {
                "GetItem" => {
                    ddb.get_item()
                        .table_name(table)
                        .key("pk", s(&pk))
                        .key("sk", sk)
                        .consistent_read(true)
                        .send()
                        .await
                        .unwrap();
                    counts.read(0);
                }
                "Query" => {
                    ddb.query()
                        .table_name(table)
                        .key_condition_expression("pk = :pk")
                        .expression_attribute_values(":pk", s(&pk))
                        .scan_index_forward(false)
                        .limit(1)
                        .consistent_read(true)
                        .send()
                        .await
                        .unwrap();
                    counts.read(0);
                }
                "DeleteItem" => {
                    ddb.delete_item()
                        .table_name(table)
                        .key("pk", s(&pk))
                        .key("sk", sk)
                        .send()
                        .await
                        .unwrap();
                    counts.write(&capacity::Item::new());
                }
                _ => {
                    let item: capacity::Item =
                        [("pk".to_owned(), s(&pk)), ("sk".to_owned(), sk)].into();
                    counts.write(&item);
                    ddb.put_item()
                        .table_name(table)
                        .set_item(Some(item))
                        .send()
                        .await
                        .unwrap();
                }
            }
        }
    }
}

/// Receives until `total` messages were handled, with `pollers` loops of batches of 10.
async fn consume(h: &Harness, total: u64, pollers: usize, design: Design<'_>, counts: Arc<Counts>) {
    let p = &h.pipeline;
    let table = p.stack.table_name.clone();
    let ddb = aws_sdk_dynamodb::Client::new(&p.sdk);
    let tasks = (0..pollers).map(|_| {
        let (sqs, url) = (p.sqs.clone(), p.stack.transactions_queue_url.clone());
        let (ddb, table, counts) = (ddb.clone(), table.clone(), counts.clone());
        let run = h.run.clone();
        async move {
            while counts.received.load(Ordering::SeqCst) < total {
                let out = sqs
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1)
                    .send()
                    .await
                    .unwrap();
                let messages = out.messages();
                if messages.is_empty() {
                    continue;
                }
                counts.receives.fetch_add(1, Ordering::SeqCst);
                let bodies: Vec<Value> = messages
                    .iter()
                    .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
                    .collect();
                match design {
                    Design::Replay(mix) => {
                        let mut orders: BTreeMap<&str, usize> = BTreeMap::new();
                        for b in &bodies {
                            *orders.entry(b["order_id"].as_str().unwrap()).or_default() += 1;
                        }
                        let calls = orders.into_iter().map(|(order, n)| {
                            replay(
                                &ddb,
                                &table,
                                format!("bench#{run}#{order}"),
                                mix,
                                n,
                                &counts,
                            )
                        });
                        futures::future::join_all(calls).await;
                    }
                    Design::PerRecord => {
                        for (b, m) in bodies.iter().zip(messages) {
                            let key = format!("bench#{run}#idem#{}", m.message_id().unwrap());
                            let record: capacity::Item = [
                                ("pk".to_owned(), s(&key)),
                                ("sk".to_owned(), s("idempotency")),
                                ("status".to_owned(), s("INPROGRESS")),
                                (
                                    "expiration".to_owned(),
                                    AttributeValue::N("1800000000".into()),
                                ),
                            ]
                            .into();
                            counts.write(&record);
                            ddb.put_item()
                                .table_name(&table)
                                .set_item(Some(record.clone()))
                                .condition_expression("attribute_not_exists(pk)")
                                .send()
                                .await
                                .unwrap();
                            let mut done = record;
                            done.insert("status".into(), s("COMPLETED"));
                            done.insert("data".into(), s(b.to_string()));
                            counts.write(&done);
                            ddb.update_item()
                                .table_name(&table)
                                .key("pk", s(&key))
                                .key("sk", s("idempotency"))
                                .update_expression("SET #s = :s, #d = :d")
                                .expression_attribute_names("#s", "status")
                                .expression_attribute_names("#d", "data")
                                .expression_attribute_values(":s", s("COMPLETED"))
                                .expression_attribute_values(":d", s(b.to_string()))
                                .send()
                                .await
                                .unwrap();
                            let order =
                                format!("bench#{run}#order#{}", b["order_id"].as_str().unwrap());
                            let state: capacity::Item = [
                                ("pk".to_owned(), s(&order)),
                                ("sk".to_owned(), s("order")),
                                ("seq".to_owned(), AttributeValue::N(b["seq"].to_string())),
                                ("status".to_owned(), s("open")),
                                ("total".to_owned(), AttributeValue::N("0".into())),
                                ("applied".to_owned(), AttributeValue::N("1".into())),
                            ]
                            .into();
                            counts.write(&state);
                            ddb.update_item()
                                .table_name(&table)
                                .key("pk", s(&order))
                                .key("sk", s("order"))
                                .update_expression("SET #q = :q ADD applied :one")
                                .expression_attribute_names("#q", "seq")
                                .expression_attribute_values(
                                    ":q",
                                    AttributeValue::N(b["seq"].to_string()),
                                )
                                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                                .send()
                                .await
                                .unwrap();
                        }
                    }
                }
                let entries = messages
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        DeleteMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .receipt_handle(m.receipt_handle().unwrap())
                            .build()
                            .unwrap()
                    })
                    .collect();
                sqs.delete_message_batch()
                    .queue_url(&url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .unwrap();
                counts.deletes.fetch_add(1, Ordering::SeqCst);
                counts
                    .received
                    .fetch_add(messages.len() as u64, Ordering::SeqCst);
            }
        }
    });
    futures::future::join_all(tasks).await;
}

/// A minimal loop of the calls, no project code: senders and pollers at once.
async fn minimal(h: &Harness, tag: &str, lines: &[Value], design: Design<'_>) -> Measured {
    let run = format!("{}-{tag}", h.run);
    let counts = Arc::new(Counts::default());
    let total = lines.len() as u64;
    let cpu = cpu_seconds();
    let started = Instant::now();
    let per_message = design == Design::PerRecord;
    let (sends, ()) = tokio::join!(
        send_all(h, chunks(&run, lines), 8, per_message),
        consume(
            h,
            total,
            convoy_tests::harness::CONSUMER_POLLERS,
            design,
            counts.clone()
        )
    );
    let seconds = started.elapsed().as_secs_f64();
    let load = |a: &AtomicU64| a.load(Ordering::SeqCst);
    let receives = load(&counts.receives);
    Measured {
        transactions: total,
        seconds,
        cpu_seconds: cpu_seconds() - cpu,
        sqs_sends: sends,
        sqs_receives: receives,
        sqs_deletes: load(&counts.deletes),
        ddb_requests: load(&counts.ddb_requests),
        wru: load(&counts.milli_wru) as f64 / 1000.0,
        rru: load(&counts.milli_rru) as f64 / 1000.0,
        // Lambda: one invocation per batch received.
        invocations: receives,
    }
}

fn row(name: &str, m: &Measured) {
    let [sqs, ddb, req, dur] = m.usd_per_million();
    println!(
        "{name:<34} {:>8} {:>8.1} {:>9.0} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>7.3} {:>7.3} {:>6.2} {:>6.2} {:>6.3} {:>6.3} {:>6.2}",
        m.transactions,
        m.seconds,
        m.tps(),
        m.per_txn(m.sqs_sends as f64),
        m.per_txn((m.sqs_receives + m.sqs_deletes) as f64),
        m.per_txn(m.ddb_requests as f64),
        m.per_txn(m.wru),
        m.per_txn(m.rru),
        m.per_txn(m.invocations as f64),
        m.cpu_seconds * 1e6 / m.transactions as f64,
        sqs,
        ddb,
        req + dur,
        m.usd(),
    );
}

fn header() {
    println!(
        "{:<34} {:>8} {:>8} {:>9} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "run", "txns", "seconds", "txn/s", "send/t", "rcvd/t", "ddb/t", "WRU/t", "RRU/t", "inv/t",
        "cpu µs/t", "$SQS", "$DDB", "$λ", "$/M"
    );
}

fn main() {
    let scale: f64 = std::env::var("CONVOY_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let h = Harness::start().await.unwrap();
        let mut rng = fastrand::Rng::with_seed(10);
        let orders = ((1000.0 * scale) as usize).max(10);
        let lives: Vec<Vec<Value>> = (0..orders)
            .map(|i| generate::long_order(&mut rng, &h.order_id(&format!("M{i}")), 98))
            .collect();
        let many = generate::interleave(&mut rng, lives);
        let one_size = ((20_000.0 * scale) as usize).max(100);
        let one = generate::long_order(&mut rng, &h.order_id("S"), one_size - 2);
        let sample: Vec<Value> = many.iter().take(many.len().min(5_000)).cloned().collect();

        println!("# ledger convoy: the pipeline on the emulator beside its raw ceiling and the per-record design");
        println!("# scale {scale}; prices us-east-1; Lambda duration = CPU time + {} ms per AWS request, {LAMBDA_GB} GB, arm64", WAIT_PER_REQUEST * 1000.0);
        header();
        let mut results = Vec::new();
        for (name, lines) in [("many orders", &many), ("one order", &one)] {
            let (ours, mix) = pipeline(&h, &format!("{}.jsonl", name.replace(' ', "-")), lines).await;
            row(&format!("{name}: pipeline"), &ours);
            let tag = format!("raw-{}", name.replace(' ', "-"));
            let ceiling = minimal(&h, &tag, lines, Design::Replay(&mix)).await;
            row(&format!("{name}: raw ceiling"), &ceiling);
            results.push((name, ceiling, ours));
        }
        let per_record = minimal(&h, "per-record", &sample, Design::PerRecord).await;
        row("per-record design (sample)", &per_record);
        println!();
        for (name, ceiling, ours) in &results {
            println!(
                "{name}: pipeline / raw ceiling = {:.2} (goal >= 0.9); per-record / pipeline cost = {:.2}x (goal >= 3)",
                ours.tps() / ceiling.tps(),
                per_record.usd() / ours.usd()
            );
        }
    });
}
