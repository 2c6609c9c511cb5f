//! Ledger decoding throughput, side by side with plain parsers on the same bytes.
//!
//! Run: `cargo bench -p convoy-core --bench ledger`
//! (`LEDGER_BENCH_MB=20` for a smaller ledger than the default 100 MB,
//! `LEDGER_BENCH_RUNS=3` for fewer timed runs than the default 5; the best run is reported;
//! `LEDGER_BENCH_ONLY=CSV` to time only the rows whose label holds that text, e.g. under a
//! profiler).
//!
//! It generates one realistic ledger (many interleaved orders, every op, optional `at` and
//! `note`, notes that need CSV quoting) as JSON Lines and as CSV, then times:
//! - the [`Decoder`] on each, fed in 64 KiB chunks, full validation into `Transaction`s;
//! - baseline JSONL: each line `serde_json::from_slice` into a derived struct with owned
//!   `String`s (and, for reference, one with borrowed `Cow<str>`s), no validation;
//! - baseline CSV: the `csv` crate reading every record into one reused `ByteRecord`,
//!   no validation (and, for reference, `byte_records()` with a new `ByteRecord` per row,
//!   and `deserialize` into the same owned struct as the JSONL baseline);
//! - for reference, `csv-core` alone finding the records (what the `Decoder` builds on),
//!   and the `Decoder` on the JSON Lines gzip-compressed.
//!
//! and prints MB/s (of uncompressed ledger bytes, 1 MB = 10^6 bytes) and the ratio
//! decoder / baseline for each format.

use convoy_core::ledger::{Decoder, Format, LedgerKind, Parsed};
use serde::Deserialize;
use std::borrow::Cow;
use std::error::Error;
use std::fmt::Write as _;
use std::hint::black_box;
use std::io::Write as _;
use std::time::{Duration, Instant};

const CHUNK: usize = 64 * 1024;

fn main() -> Result<(), Box<dyn Error>> {
    let mb: usize = env_or("LEDGER_BENCH_MB", 100);
    let runs: usize = env_or("LEDGER_BENCH_RUNS", 5).max(1);
    let started = Instant::now();
    let (jsonl, csv, txns) = generate(mb * 1_000_000);
    let gz = gzip(&jsonl)?;
    println!(
        "ledger: {txns} transactions; JSONL {:.1} MB, CSV {:.1} MB, JSONL.gz {:.1} MB \
         (made in {:.1?}); best of {runs} runs, fed in {} KiB chunks",
        jsonl.len() as f64 / 1e6,
        csv.len() as f64 / 1e6,
        gz.len() as f64 / 1e6,
        started.elapsed(),
        CHUNK / 1024,
    );
    let kind = |format, gzip| LedgerKind { format, gzip };
    let (jsonl_kind, csv_kind, gz_kind) = (
        kind(Format::JsonLines, false),
        kind(Format::Csv, false),
        kind(Format::JsonLines, true),
    );

    // (label, bytes the rate is of, what to run: it returns the transactions it saw)
    type Run<'a> = &'a dyn Fn() -> Result<usize, Box<dyn Error>>;
    let rows: [(&str, usize, Run); 9] = [
        (
            "JSONL  Decoder (validated Transactions)",
            jsonl.len(),
            &|| decode(jsonl_kind, &jsonl),
        ),
        (
            "JSONL  baseline 1: serde_json::from_slice, String",
            jsonl.len(),
            &|| Ok(serde_lines::<OwnedTxn>(&jsonl)),
        ),
        (
            "JSONL  (ref) serde_json::from_slice, Cow<str>",
            jsonl.len(),
            &|| Ok(serde_lines::<BorrowedTxn>(&jsonl)),
        ),
        (
            "CSV    Decoder (validated Transactions)",
            csv.len(),
            &|| decode(csv_kind, &csv),
        ),
        (
            "CSV    baseline 2: csv read_byte_record, reused",
            csv.len(),
            &|| csv_byte_records(&csv),
        ),
        (
            "CSV    (ref) csv byte_records(), one per row",
            csv.len(),
            &|| {
                Ok(csv_reader(&csv)
                    .byte_records()
                    .filter(|r| black_box(r).is_ok())
                    .count())
            },
        ),
        ("CSV    (ref) csv deserialize, String", csv.len(), &|| {
            Ok(csv_reader(&csv)
                .deserialize::<OwnedTxn>()
                .filter(|r| black_box(r).is_ok())
                .count())
        }),
        (
            "CSV    (ref) csv-core read_record alone",
            csv.len(),
            &|| Ok(csv_core_records(&csv)),
        ),
        (
            "JSONL.gz Decoder (MB/s of uncompressed)",
            jsonl.len(),
            &|| decode(gz_kind, &gz),
        ),
    ];

    // Round-robin, so background load hits every contestant alike; best of the runs.
    let only = std::env::var("LEDGER_BENCH_ONLY").unwrap_or_default();
    let mut best = [Duration::MAX; 9];
    for _ in 0..runs {
        for ((name, _, run), best) in rows.iter().zip(best.iter_mut()) {
            if !name.contains(only.as_str()) {
                continue;
            }
            let t = Instant::now();
            let n = black_box(run()?);
            *best = (*best).min(t.elapsed());
            assert_eq!(n, txns, "{name}: saw {n} of {txns} transactions");
        }
    }
    let rates: Vec<f64> = rows
        .iter()
        .zip(best)
        .map(|((_, bytes, _), t)| *bytes as f64 / 1e6 / t.as_secs_f64())
        .collect();
    println!();
    println!("{:<52} {:>8}", "", "MB/s");
    for ((name, _, _), rate) in rows.iter().zip(&rates) {
        println!("{name:<52} {rate:>8.1}");
    }
    println!();
    println!(
        "ratio JSONL Decoder / baseline 1: {:.2}   (/ Cow<str> ref: {:.2})",
        rates[0] / rates[1],
        rates[0] / rates[2]
    );
    println!(
        "ratio CSV   Decoder / baseline 2: {:.2}   (/ byte_records() ref: {:.2}, / deserialize ref: {:.2})",
        rates[3] / rates[4],
        rates[3] / rates[5],
        rates[3] / rates[6]
    );
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
        decoder.push(chunk, &mut out)?;
        count(&mut out);
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

#[derive(Deserialize)]
#[allow(dead_code)]
struct BorrowedTxn<'a> {
    #[serde(borrow)]
    order_id: Cow<'a, str>,
    seq: u64,
    #[serde(borrow)]
    op: Cow<'a, str>,
    #[serde(borrow)]
    txn_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    amount: Option<Cow<'a, str>>,
    #[serde(borrow)]
    currency: Option<Cow<'a, str>>,
    #[serde(borrow)]
    at: Option<Cow<'a, str>>,
    #[serde(borrow)]
    note: Option<Cow<'a, str>>,
}

/// Lines that parse as `T`, one `from_slice` per line (the caller checks they all do).
fn serde_lines<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> usize {
    bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .filter(|line| black_box(serde_json::from_slice::<T>(line)).is_ok())
        .count()
}

fn csv_reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes)
}

/// Records after the header, read into one reused `ByteRecord`.
fn csv_byte_records(bytes: &[u8]) -> Result<usize, Box<dyn Error>> {
    let mut reader = csv_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut n = 0;
    while reader.read_byte_record(&mut record)? {
        black_box(&record);
        n += 1;
    }
    Ok(n)
}

/// Records (header included, so minus one) as `csv-core` alone finds them.
fn csv_core_records(bytes: &[u8]) -> usize {
    let mut reader = csv_core::Reader::new();
    let (mut fields, mut ends) = ([0u8; 4096], [0usize; 64]);
    let (mut input, mut n) = (bytes, 0);
    loop {
        let (result, nin, _, _) = reader.read_record(input, &mut fields, &mut ends);
        input = &input[nin..];
        match result {
            csv_core::ReadRecordResult::Record => n += 1,
            csv_core::ReadRecordResult::End => return n - 1,
            _ => {}
        }
        black_box(&fields);
    }
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
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
