//! Apply throughput: transactions per second through the sequencer, side by side with the
//! bare state machine on the same transactions.
//!
//! Run: `cargo bench -p convoy-core --bench apply` (`APPLY_BENCH_TXNS=200000` to change the
//! count, default 1,000,000; `APPLY_BENCH_RUNS`, default 3, best run reported).
//!
//! Three runs over the same generated transactions (10,000 orders, interleaved):
//! - baseline: `OrderState::apply` of each order's transactions in `seq` order — the state
//!   machine alone, no sequencing;
//! - in order: `OrderBook::receive` with FIFO-like batches of 10 per order group, in order;
//! - shuffled + 5 % copies: the same, delivered out of order within each order with exact
//!   copies, so parking, draining and duplicate detection all work.
#![allow(clippy::unwrap_used)] // generated inputs are valid; a failure must stop the run loudly

use convoy_core::memory::OrderBook;
use convoy_core::{OrderId, OrderState, Transaction};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Each order: create, adds and modifies, pay, ship, complete (some ops rejected).
fn generate(total: usize, orders: usize) -> Vec<Vec<Transaction>> {
    let per = total / orders;
    let mut rng = Rng(7);
    (0..orders)
        .map(|o| {
            (1..=per)
                .map(|s| {
                    let body = match s {
                        1 => r#""op":"create","currency":"EUR""#.to_owned(),
                        s if s == per => r#""op":"pay""#.to_owned(),
                        s if s % 5 == 0 => format!(
                            r#""op":"modify","txn_id":"t{}","amount":"{}.{}""#,
                            rng.below(s),
                            rng.below(1000),
                            rng.below(100)
                        ),
                        s => format!(
                            r#""op":"add","txn_id":"t{s}","amount":"{}.{:02}""#,
                            rng.below(10_000),
                            rng.below(100)
                        ),
                    };
                    serde_json::from_str(&format!(r#"{{"order_id":"B-{o}","seq":{s},{body}}}"#))
                        .unwrap()
                })
                .collect()
        })
        .collect()
}

/// Interleaves the orders round-robin (as a ledger would), optionally shuffled within each
/// order and with copies.
fn delivery(orders: &[Vec<Transaction>], shuffle: bool, rng: &mut Rng) -> Vec<Transaction> {
    let mut lanes: Vec<Vec<Transaction>> = orders.to_vec();
    if shuffle {
        for lane in &mut lanes {
            for i in (1..lane.len()).rev() {
                let j = rng.below(i + 1);
                lane.swap(i, j);
            }
            let copies: Vec<Transaction> = (0..lane.len() / 20)
                .map(|_| lane[rng.below(lane.len())].clone())
                .collect();
            lane.extend(copies);
        }
    }
    let longest = lanes.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for i in 0..longest {
        for lane in &lanes {
            if let Some(t) = lane.get(i) {
                out.push(t.clone());
            }
        }
    }
    out
}

fn through_book(txns: &[Transaction]) -> usize {
    let mut book = OrderBook::default();
    for batch in txns.chunks(10) {
        let mut groups: BTreeMap<&OrderId, Vec<Transaction>> = BTreeMap::new();
        for t in batch {
            groups.entry(&t.order_id).or_default().push(t.clone());
        }
        for g in groups.values() {
            book.receive(g, 99).unwrap();
        }
    }
    book.orders().count()
}

fn bare(orders: &[Vec<Transaction>]) -> usize {
    let mut n = 0;
    for order in orders {
        let mut s = OrderState::new(order[0].order_id.clone());
        let mut items = std::collections::HashMap::new();
        for t in order {
            let item = t.content.txn_id().and_then(|i| items.get(i).copied());
            if black_box(s.apply(&t.content, item)).is_ok() {
                if let Some((i, a)) = t.content.item() {
                    items.insert(i.clone(), a);
                }
            }
            s.next_seq += 1;
        }
        n += items.len();
    }
    n
}

fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let total = env_usize("APPLY_BENCH_TXNS", 1_000_000);
    let runs = env_usize("APPLY_BENCH_RUNS", 3);
    let orders = generate(total, 10_000);
    let n: usize = orders.iter().map(Vec::len).sum();
    let mut rng = Rng(42);
    let in_order = delivery(&orders, false, &mut rng);
    let shuffled = delivery(&orders, true, &mut rng);

    let t_bare = best(runs, || {
        black_box(bare(&orders));
    });
    let t_book = best(runs, || {
        black_box(through_book(&in_order));
    });
    let t_shuffled = best(runs, || {
        black_box(through_book(&shuffled));
    });
    let rate = |count: usize, t: Duration| count as f64 / t.as_secs_f64();
    println!("apply benchmark: {n} transactions, 10000 orders, best of {runs}");
    println!(
        "  state machine alone (baseline) {:>12.0} txn/s",
        rate(n, t_bare)
    );
    println!(
        "  sequencer, in order            {:>12.0} txn/s   ({:.2}x baseline time)",
        rate(n, t_book),
        t_book.as_secs_f64() / t_bare.as_secs_f64()
    );
    println!(
        "  sequencer, shuffled + copies   {:>12.0} txn/s   ({} deliveries, {:.2}x baseline time)",
        rate(shuffled.len(), t_shuffled),
        shuffled.len(),
        t_shuffled.as_secs_f64() / t_bare.as_secs_f64()
    );
}
