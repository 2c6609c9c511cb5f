//! Ledger decoding throughput in transactions per second, per format, with plain parsers
//! on the same bytes for information.
//!
//! Run: `cargo bench -p ledger-format --bench ledger`
//! (`LEDGER_BENCH_MB=20` for a smaller ledger than the default 100 MB,
//! `LEDGER_BENCH_RUNS=3` for fewer timed runs than the default 7,
//! `LEDGER_BENCH_ONLY=CSV` to time only the rows whose label holds that text, e.g. under a
//! profiler).
//!
//! It generates one realistic ledger (many interleaved orders, every op, optional `at` and
//! `note`, notes that need CSV quoting) as JSON Lines, as CSV and as JSON Lines gzipped at
//! the default level, then times, on one thread:
//! - the [`Decoder`] on each, fed in 64 KiB chunks, full validation into `Transaction`s;
//! - baseline JSONL: each line `serde_json::from_slice` into a derived struct with owned
//!   `String`s, no validation;
//! - baseline CSV: the `csv` crate reading every record into one reused `ByteRecord`, no
//!   validation.
//!
//! For each it prints transactions/s (the median of the runs, and the slowest and fastest
//! run) and MB/s of uncompressed ledger; then whether each format meets the target of
//! 1,000,000 transactions/s on one core, and the ratio decoder / baseline for information.

use ledger_format::{Decoder, Format, LedgerKind, Parsed};
use serde::Deserialize;
use std::error::Error;
use std::fmt::Write as _;
use std::hint::black_box;
use std::io::Write as _;
use std::time::{Duration, Instant};

const CHUNK: usize = 64 * 1024;

/// What the decoder must keep up with, per format, on one core.
const TARGET_PER_SECOND: f64 = 1_000_000.0;

fn main() -> Result<(), Box<dyn Error>> {
    let mb: usize = env_or("LEDGER_BENCH_MB", 100);
    let runs: usize = env_or("LEDGER_BENCH_RUNS", 7).max(1);
    let started = Instant::now();
    let (jsonl, csv, txns) = generate(mb * 1_000_000);
    let gz = gzip(&jsonl)?;
    println!(
        "ledger: {txns} transactions; JSONL {:.1} MB, CSV {:.1} MB, JSONL.gz {:.1} MB \
         (made in {:.1?}); {runs} runs, fed in {} KiB chunks",
        jsonl.len() as f64 / 1e6,
        csv.len() as f64 / 1e6,
        gz.len() as f64 / 1e6,
        started.elapsed(),
        CHUNK / 1024,
    );
    let kind = |format, gzip| LedgerKind { format, gzip };

    // (label, what to run: it returns the transactions it saw)
    type Run<'a> = &'a dyn Fn() -> Result<usize, Box<dyn Error>>;
    let rows: [(&str, Run); 5] = [
        ("JSONL     Decoder (validated Transactions)", &|| {
            decode(kind(Format::JsonLines, false), &jsonl)
        }),
        (
            "JSONL     baseline: serde_json::from_slice, String",
            &|| Ok(serde_lines(&jsonl)),
        ),
        ("CSV       Decoder (validated Transactions)", &|| {
            decode(kind(Format::Csv, false), &csv)
        }),
        ("CSV       baseline: csv read_byte_record, reused", &|| {
            csv_byte_records(&csv)
        }),
        ("JSONL.gz  Decoder (validated Transactions)", &|| {
            decode(kind(Format::JsonLines, true), &gz)
        }),
    ];

    // Round-robin, so background load hits every row alike.
    let only = std::env::var("LEDGER_BENCH_ONLY").unwrap_or_default();
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(runs); rows.len()];
    for _ in 0..runs {
        for ((name, run), times) in rows.iter().zip(times.iter_mut()) {
            if !name.contains(only.as_str()) {
                continue;
            }
            let t = Instant::now();
            let n = black_box(run()?);
            times.push(t.elapsed());
            assert_eq!(n, txns, "{name}: saw {n} of {txns} transactions");
        }
    }
    // Transactions/s of each row: (median, slowest, fastest); `None` for a row not run.
    let rates: Vec<Option<(f64, f64, f64)>> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            let rate = |d: &Duration| txns as f64 / d.as_secs_f64();
            Some((rate(t.get(t.len() / 2)?), rate(t.last()?), rate(t.first()?)))
        })
        .collect();
    println!();
    println!(
        "{:<52} {:>12} {:>12} {:>12} {:>8}",
        "", "txns/s", "min", "max", "MB/s"
    );
    for ((name, _), rate) in rows.iter().zip(&rates) {
        let Some((median, min, max)) = rate else {
            continue;
        };
        let size = if name.starts_with("CSV") {
            csv.len()
        } else {
            jsonl.len()
        } as f64;
        let mb_s = median * size / txns as f64 / 1e6;
        println!("{name:<52} {median:>12.0} {min:>12.0} {max:>12.0} {mb_s:>8.1}");
    }
    println!();
    for (format, row) in [("JSONL", 0), ("CSV", 2), ("JSONL.gz", 4)] {
        if let Some((median, _, _)) = rates[row] {
            let verdict = if median >= TARGET_PER_SECOND {
                "meets"
            } else {
                "BELOW"
            };
            println!(
                "{format:<9} Decoder {:.2}M transactions/s: {verdict} the target of {:.0}M/s",
                median / 1e6,
                TARGET_PER_SECOND / 1e6
            );
        }
    }
    for (format, decoder, baseline) in [("JSONL", 0, 1), ("CSV", 2, 3)] {
        if let (Some((d, _, _)), Some((b, _, _))) = (rates[decoder], rates[baseline]) {
            println!(
                "ratio {format:<5} Decoder / baseline: {:.2} (for information)",
                d / b
            );
        }
    }
    Ok(())
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Transactions the decoder accepts, feeding `bytes` in chunks as the Lambda would.
fn decode(kind: LedgerKind, bytes: &[u8]) -> Result<usize, Box<dyn Error>> {
    let mut decoder = Decoder::new(kind);
    let mut out = Vec::with_capacity(1024);
    let mut txns = 0;
    let mut count = |out: &mut Vec<Parsed>| {
        txns += out
            .drain(..)
            .filter(|p| matches!(black_box(p), Parsed::Txn { .. }))
            .count();
    };
    for chunk in bytes.chunks(CHUNK) {
        let mut rest = chunk;
        while !rest.is_empty() {
            rest = &rest[decoder.feed(rest, &mut out)?..];
            count(&mut out);
        }
    }
    decoder.finish(&mut out)?;
    count(&mut out);
    Ok(txns)
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct OwnedTxn {
    order_id: String,
    seq: u64,
    op: String,
    txn_id: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    at: Option<String>,
    note: Option<String>,
}

/// Lines that parse as an [`OwnedTxn`], one `from_slice` per line (the caller checks they
/// all do).
fn serde_lines(bytes: &[u8]) -> usize {
    bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .filter(|line| black_box(serde_json::from_slice::<OwnedTxn>(line)).is_ok())
        .count()
}

/// Records after the header, read into one reused `ByteRecord`.
fn csv_byte_records(bytes: &[u8]) -> Result<usize, Box<dyn Error>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut n = 0;
    while reader.read_byte_record(&mut record)? {
        black_box(&record);
        n += 1;
    }
    Ok(n)
}

/// `bytes` gzip-compressed at the default level (6, as the `gzip` tool writes).
fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes)?;
    e.finish()
}

/// A small deterministic generator (xorshift64*), so every run sees the same ledger.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One order's script of transactions: create, items, then how it ends.
fn script(rng: &mut Rng) -> Vec<&'static str> {
    let mut ops = vec!["create"];
    let items = 1 + rng.below(6) as usize;
    ops.extend(std::iter::repeat_n("add", items));
    ops.extend(std::iter::repeat_n("modify", rng.below(3) as usize));
    ops.extend(match rng.below(100) {
        0..=59 => &["pay", "ship", "complete"][..],
        60..=74 => &["cancel"][..],
        75..=79 => &["pay", "cancel"][..],
        80..=89 => &["delete"][..],
        _ => &[][..],
    });
    ops
}

struct Order {
    id: u64,
    ops: Vec<&'static str>,
    next: usize,
    items: u64,
}

const NOTES: &[&str] = &[
    "rush, gift wrap",
    "say \"hi\"",
    "café ☕ — merci",
    "leave at the door",
    "line1\nline2",
    "a,b;c",
];
const CURRENCIES: &[&str] = &["EUR", "USD", "JPY", "GBP", "CHF"];

/// A ledger of about `target` bytes as JSON Lines and as CSV (same transactions, same
/// order), and the number of transactions.
fn generate(target: usize) -> (Vec<u8>, Vec<u8>, usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut jsonl = String::with_capacity(target + 4096);
    let mut csv = String::with_capacity(target + 4096);
    csv.push_str("order_id,seq,op,txn_id,amount,currency,at,note\n");
    let mut next_id = 0u64;
    let mut new_order = |rng: &mut Rng| {
        next_id += 1;
        Order {
            id: next_id * 7919 % 10_000_019,
            ops: script(rng),
            next: 0,
            items: 0,
        }
    };
    let mut active: Vec<Order> = (0..2000).map(|_| new_order(&mut rng)).collect();
    let mut txns = 0;
    while jsonl.len() < target {
        let slot = rng.below(active.len() as u64) as usize;
        let order = &mut active[slot];
        let op = order.ops[order.next];
        order.next += 1;
        let seq = order.next;
        let (mut txn_id, mut amount, mut currency) = (None, None, None);
        match op {
            "create" => currency = Some(CURRENCIES[rng.below(5) as usize]),
            "add" | "modify" => {
                if op == "add" {
                    order.items += 1;
                }
                txn_id = Some(format!("t{}", rng.below(order.items.max(1))));
                let cents = rng.below(500_000);
                amount = Some(match rng.below(4) {
                    0 => format!("{}", cents / 100),
                    1 => format!("{}.{:02}", cents / 100, cents % 100),
                    2 => format!("{}.{:03}", cents / 100, cents % 1000),
                    _ => format!("-{}.{:04}", cents / 1000, cents % 10_000),
                });
            }
            _ => {}
        }
        let at = rng.chance(40).then(|| {
            format!(
                "2026-{:02}-{:02}T{:02}:{:02}:{:02}{}",
                1 + rng.below(12),
                1 + rng.below(28),
                rng.below(24),
                rng.below(60),
                rng.below(60),
                if rng.chance(70) { "Z" } else { "+02:00" }
            )
        });
        let note = rng
            .chance(15)
            .then(|| NOTES[rng.below(NOTES.len() as u64) as usize]);
        let order_id = format!("ORD-{}", order.id);

        // JSON Lines, keys in a fixed order (as most producers write them).
        let _ = write!(
            jsonl,
            r#"{{"order_id":"{order_id}","seq":{seq},"op":"{op}""#
        );
        if let Some(t) = &txn_id {
            let _ = write!(jsonl, r#","txn_id":"{t}""#);
        }
        if let Some(a) = &amount {
            let _ = write!(jsonl, r#","amount":"{a}""#);
        }
        if let Some(c) = currency {
            let _ = write!(jsonl, r#","currency":"{c}""#);
        }
        if let Some(at) = &at {
            let _ = write!(jsonl, r#","at":"{at}""#);
        }
        if let Some(n) = note {
            let _ = write!(jsonl, r#","note":{}"#, serde_json::Value::from(n));
        }
        jsonl.push_str("}\n");

        // CSV, quoting only what needs it.
        let quote = |s: &str| {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_owned()
            }
        };
        let _ = writeln!(
            csv,
            "{order_id},{seq},{op},{},{},{},{},{}",
            txn_id.as_deref().unwrap_or(""),
            amount.as_deref().unwrap_or(""),
            currency.unwrap_or(""),
            at.as_deref().unwrap_or(""),
            note.map(quote).unwrap_or_default()
        );
        txns += 1;

        if order.next == order.ops.len() {
            active[slot] = new_order(&mut rng);
        }
    }
    (jsonl.into_bytes(), csv.into_bytes(), txns)
}
