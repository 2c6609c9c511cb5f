//! Write economy (issue 8): DynamoDB capacity units per transaction, counted as AWS bills
//! them, of the consumer's layout beside the layout before it.
//!
//! Run: `cargo bench -p consumer --bench units` (no emulator, no network: everything runs
//! in memory and is priced by the item-size rules; the figures are deterministic).
//!
//! # What it measures
//! The consumer's own per-order work, [`apply_order`] with the default [`Settings`], against
//! a [`MemoryOrderStore`], which counts each request it serves and its units
//! ([`MemoryOrderStore::usage`]): the `Query` of each load (the order's last log item), the
//! `GetItem`s of the facts the sequencer asks for (does an added item exist yet?), and the
//! plain `PutItem`s of each commit (the items of the base step's changes, then the step's
//! log item on the condition that its key is free).
//!
//! Beside it, the old layout (one head item `sk = state` holding the whole state, items and
//! parked seqs included, and one item per history entry, parked transaction and conflict),
//! modelled from each committed step by a [`CommitHook`]: per step, one strongly
//! consistent `GetItem` of the head as it was, and one `TransactWriteItems` of the head put
//! plus one action per change (history put, parked put, unpark delete, conflict put). Its
//! items are built attribute by attribute as the old layout wrote them and sized with
//! [`capacity::item_size`]; the head's items and parked seqs are added up incrementally
//! (checked against the full JSON while the order is small), so orders of 100,000
//! transactions price in seconds. Only the old layout's head read and its transaction are
//! counted: on these in-order workloads it needed no other request.
//!
//! # AWS billing rules used ([`convoy_store::capacity`])
//! - Item size: per attribute, the UTF-8 length of its name plus its value's size (S: UTF-8
//!   length; N: about one byte per two significant digits, plus one).
//! - Write: 1 WRU per 1 KB (1024 bytes) or part of it, at least 1; a put that replaces an
//!   item is billed on the larger of the old and the new item; a delete on the deleted
//!   item; every action of `TransactWriteItems` costs twice as much.
//! - Read: 1 RRU per 4 KB (4096 bytes) or part of it for a strongly consistent `GetItem`, at
//!   least 1 even for an absent item; a `Query` page on the sum of the sizes of the items it
//!   read, rounded up once; every read of the consumer is strongly consistent.
//! - A conditional write whose condition fails is billed like one that lands.
//!
//! # Workload and scenarios
//! An order of N transactions: `create` (EUR), then alternately `add` of a new item (a
//! `txn_id` of 120 characters) and `modify` of the item just added, ending `pay`, `ship`,
//! `complete`: about N/2 items. Every transaction is applied, in order.
//! - (a) runs of ten: one order of 1,000 transactions in consecutive batches of 10 (one
//!   `apply_order` per batch). Target: at most 0.5 WRU per transaction.
//! - (b) ten orders per batch: 1,000 orders of 10 transactions; batch k holds transaction k
//!   of ten orders (one `apply_order` per order per batch, one record each). Target: at
//!   most 2 WRU per transaction.
//! - (c) flat as an order grows: runs of ten for orders of 10 to 100,000 transactions,
//!   priced over the last min(N, 1,000) transactions only (the meters are reset before
//!   them). Target: from N = 1,000 on, WRU and RRU per transaction within 5 % of the
//!   N = 1,000 row. The old head outgrows DynamoDB's 400 KB item limit; such rows are
//!   priced anyway and marked "(cannot be stored)".
//!
//! For (a) and (b) it also prints the requests by operation, new and old.
#![allow(clippy::unwrap_used, clippy::expect_used)] // generated inputs; a failure must stop the run loudly

use aws_sdk_dynamodb::types::AttributeValue;
use consumer::apply::apply_order;
use consumer::Settings;
use convoy_core::bounds::DYNAMODB_MAX_ITEM_BYTES;
use convoy_core::sequencer::{Change, ConflictRecord, Disposition, Outcome, Processed, Step};
use convoy_core::{OrderId, OrderState, Seq, Transaction};
use convoy_store::capacity::{self, item_size, Item, Read, Units};
use convoy_store::usage::Tally;
use convoy_store::{item, plan, CommitHook, Hooked, MemoryOrderStore, StoreError, Version};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// Length of every `txn_id` of the workload.
const TXN_ID_LEN: usize = 120;

/// Transactions per batch of one order in the runs of ten (a FIFO group's batch).
const RUN: usize = 10;

/// (a): WRU per transaction at most.
const TARGET_RUNS_OF_TEN: f64 = 0.5;

/// (b): WRU per transaction at most.
const TARGET_TEN_ORDERS: f64 = 2.0;

/// (c): from N = 1,000 on, per-transaction figures within this fraction of N = 1,000's.
const FLAT_TOLERANCE: f64 = 0.05;

/// The old layout's `updated_at`: an RFC 3339 timestamp of 20 characters.
const OLD_UPDATED_AT: &str = "2024-01-01T00:00:00Z";

// ---------------------------------------------------------------------------------------
// Workload

/// Order number `o`'s id.
fn order_id(o: usize) -> String {
    format!("U-{o}")
}

/// Item `i` of order `o`: 120 characters, unique.
fn txn_id(o: usize, i: usize) -> String {
    let id = format!("t{o:08}-{i:0110}");
    assert_eq!(id.len(), TXN_ID_LEN);
    id
}

/// Order `o` of `n` transactions: create, add / modify alternately, pay, ship, complete.
fn order(o: usize, n: usize) -> Vec<Transaction> {
    assert!(n >= 5, "an order needs create, an add, pay, ship, complete");
    let id = order_id(o);
    (1..=n)
        .map(|s| {
            let body = match s {
                1 => r#""op":"create","currency":"EUR""#.to_owned(),
                s if s == n - 2 => r#""op":"pay""#.to_owned(),
                s if s == n - 1 => r#""op":"ship""#.to_owned(),
                s if s == n => r#""op":"complete""#.to_owned(),
                s if s % 2 == 0 => format!(
                    r#""op":"add","txn_id":"{}","amount":"12.50""#,
                    txn_id(o, (s - 2) / 2)
                ),
                s => format!(
                    r#""op":"modify","txn_id":"{}","amount":"13.75""#,
                    txn_id(o, (s - 3) / 2)
                ),
            };
            serde_json::from_str(&format!(r#"{{"order_id":"{id}","seq":{s},{body}}}"#)).unwrap()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The old layout, modelled

/// One order as the old layout held it, as far as the sizes of its items need.
#[derive(Debug)]
struct OldOrder {
    /// Size of the head item as last written; 0 before the first commit (no item).
    head_size: usize,
    version: u64,
    /// `next_seq` after the last step: the start of the next step's log item (new layout).
    next_seq: u64,
    /// Every item: `txn_id` → amount, display form.
    items: HashMap<String, String>,
    /// JSON bytes of the entries of the head's `items` object, `"txn_id":"amount"` each,
    /// without the commas between them.
    items_bytes: usize,
    /// Parked seq → size of its parked item.
    parked: BTreeMap<u64, usize>,
    /// JSON bytes of the elements of the head's `parked` array (digits), without commas.
    parked_bytes: usize,
}

impl Default for OldOrder {
    fn default() -> Self {
        OldOrder {
            head_size: 0,
            version: 0,
            next_seq: 1,
            items: HashMap::new(),
            items_bytes: 0,
            parked: BTreeMap::new(),
            parked_bytes: 0,
        }
    }
}

/// JSON length of a string as `serde_json` writes it (quotes and escapes included).
fn json_len(s: &str) -> usize {
    serde_json::to_string(s).unwrap().len()
}

/// Bytes of the separators between `n` elements of a JSON object or array.
fn commas(n: usize) -> usize {
    n.saturating_sub(1)
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn keyed(pk: &str, sk: String, rest: Vec<(&str, AttributeValue)>) -> Item {
    let mut item = Item::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))]);
    item.extend(rest.into_iter().map(|(k, v)| (k.to_owned(), v)));
    item
}

/// The old history item of `seq`.
fn old_history(pk: &str, seq: Seq, p: &Processed) -> Item {
    let outcome = match &p.outcome {
        Outcome::Applied => "applied".to_owned(),
        Outcome::Rejected { reason } => format!("rejected: {reason}"),
        Outcome::Voided => "voided".to_owned(),
    };
    keyed(
        pk,
        format!("seq#{:020}", seq.get()),
        vec![
            ("processed", s(serde_json::to_string(p).unwrap())),
            ("seq", n(seq.get())),
            ("op", s(p.txn.op().as_str())),
            ("outcome", s(outcome)),
            ("fingerprint", s(p.fingerprint.as_str())),
        ],
    )
}

/// The old parked item of `txn`.
fn old_parked(pk: &str, txn: &Transaction) -> Item {
    keyed(
        pk,
        format!("parked#{:020}", txn.seq.get()),
        vec![
            ("txn", s(serde_json::to_string(txn).unwrap())),
            ("seq", n(txn.seq.get())),
        ],
    )
}

/// The old conflict item.
fn old_conflict(pk: &str, seq: Seq, c: &ConflictRecord) -> Item {
    keyed(
        pk,
        format!("conflict#{:020}#{}", seq.get(), c.fingerprint.as_str()),
        vec![
            ("conflict", s(serde_json::to_string(c).unwrap())),
            ("seq", n(seq.get())),
            ("fingerprint", s(c.fingerprint.as_str())),
        ],
    )
}

/// The old state JSON of `state` with the given `items` object and `parked` array: the
/// old `OrderState` held the items and the parked seqs themselves, not their counts.
fn old_state_json(
    state: &OrderState,
    items: serde_json::Value,
    parked: serde_json::Value,
) -> String {
    let mut value = serde_json::to_value(state).unwrap();
    let fields = value.as_object_mut().unwrap();
    fields.remove("item_count");
    fields.remove("parked_count");
    fields.insert("items".to_owned(), items);
    fields.insert("parked".to_owned(), parked);
    serde_json::to_string(&value).unwrap()
}

impl OldOrder {
    fn set_item(&mut self, txn_id: &str, amount: String) {
        let entry = |k: &str, v: &str| json_len(k) + 1 + json_len(v);
        self.items_bytes += entry(txn_id, &amount);
        if let Some(old) = self.items.insert(txn_id.to_owned(), amount) {
            self.items_bytes -= entry(txn_id, &old);
        }
    }

    fn park(&mut self, seq: u64, size: usize) {
        if self.parked.insert(seq, size).is_none() {
            self.parked_bytes += seq.to_string().len();
        }
    }

    /// The size of the parked item deleted (0 if there was none: a delete still costs).
    fn unpark(&mut self, seq: u64) -> usize {
        match self.parked.remove(&seq) {
            Some(size) => {
                self.parked_bytes -= seq.to_string().len();
                size
            }
            None => 0,
        }
    }

    /// The head item with `state` as its `state` attribute's JSON.
    fn head_item(&self, pk: &str, state: &OrderState, state_json: String) -> Item {
        keyed(
            pk,
            "state".to_owned(),
            vec![
                ("state", s(state_json)),
                ("version", n(self.version)),
                ("order_id", s(state.order_id.as_str())),
                ("status", s(state.status.as_str())),
                ("next_seq", n(state.next_seq)),
                ("parked_count", n(self.parked.len() as u64)),
                ("updated_at", s(OLD_UPDATED_AT)),
            ],
        )
    }

    /// Size of the head item for `state`, from the running sums: the head with empty
    /// `items` and `parked`, plus what the entries add to them.
    fn head_size(&self, pk: &str, state: &OrderState) -> usize {
        let empty = old_state_json(state, serde_json::json!({}), serde_json::json!([]));
        let base = item_size(&self.head_item(pk, state, empty));
        base + self.items_bytes
            + commas(self.items.len())
            + self.parked_bytes
            + commas(self.parked.len())
    }

    /// Size of the head item for `state`, from its full JSON (to check [`Self::head_size`]).
    fn head_size_in_full(&self, pk: &str, state: &OrderState) -> usize {
        let items: serde_json::Map<String, serde_json::Value> = self
            .items
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let parked: Vec<u64> = self.parked.keys().copied().collect();
        let json = old_state_json(state, items.into(), serde_json::json!(parked));
        item_size(&self.head_item(pk, state, json))
    }
}

/// Requests and units of the old layout, and the largest head it wrote.
#[derive(Debug, Clone, Copy, Default)]
struct OldTally {
    gets: u64,
    get_units: Units,
    transactions: u64,
    transaction_units: Units,
    largest_head: usize,
}

impl OldTally {
    fn units(&self) -> Units {
        self.get_units + self.transaction_units
    }
}

/// The new layout's log items, priced from the steps (to split `PutItem` into log items
/// and copies).
#[derive(Debug, Clone, Copy, Default)]
struct LogTally {
    puts: u64,
    units: Units,
    largest: usize,
}

/// The hook: prices each committed step as the old layout would have stored it.
#[derive(Debug, Default)]
struct OldModel {
    orders: Mutex<HashMap<OrderId, OldOrder>>,
    tally: Mutex<(OldTally, LogTally)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Orders with at most this many items have their old head sized in full too, as a check.
const CHECK_IN_FULL_UP_TO: usize = 200;

impl CommitHook for OldModel {
    fn after(&self, id: &OrderId, step: &Step) -> Option<StoreError> {
        let mut orders = lock(&self.orders);
        let order = orders.entry(id.clone()).or_default();
        let pk = format!("order#{id}");

        // The new layout's log item of this step, for the split of its PutItems.
        let start = order.next_seq;
        let version = Version::new(order.version + 1);
        let now = plan::now();
        let since = (step.state.parked_count > 0).then_some(now.millis);
        let log = item::log(&step.state, &step.changes, start, version, &now.text, since).unwrap();
        let log_size = item_size(&log);

        // The old layout: read the head, then one transaction of the head and the changes.
        let before = order.head_size;
        let get = capacity::read(before, Read::Strong);
        let mut write = Units::default();
        for change in &step.changes {
            match change {
                Change::Record(seq, p) => {
                    write += capacity::write(item_size(&old_history(&pk, *seq, p)), true);
                    if p.outcome == Outcome::Applied {
                        if let Some((txn_id, amount)) = p.txn.content.item() {
                            order.set_item(txn_id.as_str(), amount.to_string());
                        }
                    }
                }
                Change::Park(txn) => {
                    let size = item_size(&old_parked(&pk, txn));
                    write += capacity::write(size, true);
                    order.park(txn.seq.get(), size);
                }
                Change::Unpark(seq) => {
                    write += capacity::write(order.unpark(seq.get()), true);
                }
                Change::Conflict(seq, c) => {
                    write += capacity::write(item_size(&old_conflict(&pk, *seq, c)), true);
                }
            }
        }
        order.version += 1;
        order.next_seq = step.state.next_seq;
        let after = order.head_size(&pk, &step.state);
        if order.items.len() <= CHECK_IN_FULL_UP_TO {
            assert_eq!(
                after,
                order.head_size_in_full(&pk, &step.state),
                "old head of {id}: running sums and full JSON disagree"
            );
        }
        write += capacity::write(before.max(after), true);
        order.head_size = after;
        drop(orders);

        let mut tally = lock(&self.tally);
        let (old, new_log) = &mut *tally;
        old.gets += 1;
        old.get_units += get;
        old.transactions += 1;
        old.transaction_units += write;
        old.largest_head = old.largest_head.max(after);
        new_log.puts += 1;
        new_log.units += capacity::write(log_size, false);
        new_log.largest = new_log.largest.max(log_size);
        None
    }
}

// ---------------------------------------------------------------------------------------
// Running and measuring

/// A fresh in-memory table behind the old-layout model, and a runtime to apply on.
struct Bench {
    store: Hooked<MemoryOrderStore, OldModel>,
    settings: Settings,
    deadline: Instant,
    rt: tokio::runtime::Runtime,
}

/// What one window of transactions cost, new and old.
#[derive(Debug, Clone)]
struct Measured {
    txns: usize,
    new: Tally,
    by_operation: BTreeMap<&'static str, Tally>,
    old: OldTally,
    log: LogTally,
}

impl Measured {
    fn per_txn(&self, units: f64) -> f64 {
        units / self.txns as f64
    }
    fn new_wru(&self) -> f64 {
        self.per_txn(self.new.units.write)
    }
    fn new_rru(&self) -> f64 {
        self.per_txn(self.new.units.read)
    }
    fn old_wru(&self) -> f64 {
        self.per_txn(self.old.units().write)
    }
    fn old_rru(&self) -> f64 {
        self.per_txn(self.old.units().read)
    }
}

impl Bench {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let deadline = rt.block_on(async { Instant::now() + Duration::from_secs(3600) });
        Bench {
            store: Hooked {
                inner: MemoryOrderStore::new(),
                hook: OldModel::default(),
            },
            settings: Settings::default(),
            deadline,
            rt,
        }
    }

    /// One `apply_order` of `txns` (one order's records of one batch); all must apply.
    fn apply(&self, txns: &[Transaction]) {
        let id = txns[0].order_id.clone();
        let applied = self.rt.block_on(apply_order(
            &self.store,
            &id,
            txns,
            &self.settings,
            self.deadline,
        ));
        assert!(applied.error.is_none(), "{id}: {:?}", applied.error);
        assert_eq!(applied.results.len(), txns.len(), "{id}");
        for (t, r) in txns.iter().zip(&applied.results) {
            assert!(
                matches!(r, Ok(Disposition::Applied)),
                "{id} seq {}: {r:?}",
                t.seq
            );
        }
    }

    /// Starts counting from zero, new and old (the orders stay as they are).
    fn reset(&self) {
        self.store.inner.usage().reset();
        *lock(&self.store.hook.tally) = Default::default();
    }

    /// What was counted since the last reset, over `txns` transactions.
    fn measured(&self, txns: usize) -> Measured {
        let usage = self.store.inner.usage();
        let (old, log) = *lock(&self.store.hook.tally);
        Measured {
            txns,
            new: usage.total(),
            by_operation: usage.snapshot(),
            old,
            log,
        }
    }
}

/// (a) / (c): one order of `n` transactions in runs of ten, measured over the last
/// `window` of them.
fn runs_of_ten(n: usize, window: usize) -> Measured {
    // Remainders compared, not `is_multiple_of`: that is newer than the MSRV.
    assert_eq!((n % RUN, window % RUN), (0, 0), "whole runs of {RUN}");
    assert!(window <= n);
    let bench = Bench::new();
    let txns = order(0, n);
    for (b, batch) in txns.chunks(RUN).enumerate() {
        if b * RUN == n - window {
            bench.reset();
        }
        bench.apply(batch);
    }
    bench.measured(window)
}

/// (b): `orders` orders of ten transactions, ten orders per batch: batch k holds
/// transaction k of each of ten orders, one `apply_order` per order per batch.
fn ten_orders_per_batch(orders: usize) -> Measured {
    const PER_ORDER: usize = 10;
    const ORDERS_PER_BATCH: usize = 10;
    let bench = Bench::new();
    let all: Vec<Vec<Transaction>> = (0..orders).map(|o| order(o, PER_ORDER)).collect();
    for group in all.chunks(ORDERS_PER_BATCH) {
        for k in 0..PER_ORDER {
            for txns in group {
                bench.apply(&txns[k..=k]);
            }
        }
    }
    bench.measured(orders * PER_ORDER)
}

// ---------------------------------------------------------------------------------------
// Printing

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    // The leading group has 1 to 3 digits, every later one 3.
    let first = match digits.len() % 3 {
        0 => 3.min(digits.len()),
        r => r,
    };
    let mut out = digits[..first].to_owned();
    for group in digits.as_bytes()[first..].chunks(3) {
        out.push(',');
        out.push_str(std::str::from_utf8(group).unwrap());
    }
    out
}

fn ratio(old: f64, new: f64) -> String {
    if new > 0.0 {
        format!("{:.1}x", old / new)
    } else {
        "-".to_owned()
    }
}

const HEADER: &str = "  txns    new WRU/txn  new RRU/txn  old WRU/txn  old RRU/txn  old/new WRU";

fn figures(m: &Measured) -> String {
    format!(
        "{:>6}  {:>13.3}  {:>11.3}  {:>11.3}  {:>11.3}  {:>11}",
        thousands(m.txns),
        m.new_wru(),
        m.new_rru(),
        m.old_wru(),
        m.old_rru(),
        ratio(m.old_wru(), m.new_wru()),
    )
}

/// The requests of a scenario by operation, new then old, with the new `PutItem`s split
/// into log items and copies.
fn print_requests(label: &str, m: &Measured) {
    println!("  {label}: requests by operation");
    println!(
        "    {:<42} {:>9} {:>9} {:>10} {:>10} {:>9} {:>9}",
        "", "requests", "per txn", "WRU", "RRU", "WRU/txn", "RRU/txn"
    );
    let row = |name: &str, requests: u64, units: Units| {
        println!(
            "    {:<42} {:>9} {:>9.3} {:>10.1} {:>10.1} {:>9.3} {:>9.3}",
            name,
            thousands(requests as usize),
            requests as f64 / m.txns as f64,
            units.write,
            units.read,
            m.per_txn(units.write),
            m.per_txn(units.read),
        );
    };
    for (op, t) in &m.by_operation {
        row(&format!("new {op}"), t.requests, t.units);
        if *op == "PutItem" {
            row("      of which: log items", m.log.puts, m.log.units);
            let copies = Units {
                write: t.units.write - m.log.units.write,
                read: t.units.read - m.log.units.read,
            };
            row(
                "      of which: copies of the base's changes",
                t.requests - m.log.puts,
                copies,
            );
        }
    }
    row("new total", m.new.requests, m.new.units);
    row(
        "old GetItem (head, strongly consistent)",
        m.old.gets,
        m.old.get_units,
    );
    row(
        "old TransactWriteItems (head + changes)",
        m.old.transactions,
        m.old.transaction_units,
    );
    row("old total", m.old.gets + m.old.transactions, m.old.units());
    println!(
        "    largest item: new log item {} bytes; old head {} bytes",
        thousands(m.log.largest),
        thousands(m.old.largest_head)
    );
}

fn within(x: f64, reference: f64) -> bool {
    (x - reference).abs() <= FLAT_TOLERANCE * reference
}

fn main() {
    let started = std::time::Instant::now();
    println!(
        "write economy: DynamoDB units per transaction as AWS bills them \
         (new layout: counted by the memory store; old layout: modelled per committed step)"
    );
    println!(
        "workload: create, add (txn_id {TXN_ID_LEN} chars) / modify alternately, pay, ship, \
         complete; all applied; Settings::default() (max {} changes a step)",
        Settings::default().max_changes
    );
    println!();

    let t = std::time::Instant::now();
    let a = runs_of_ten(1_000, 1_000);
    let a_time = t.elapsed();
    let t = std::time::Instant::now();
    let b = ten_orders_per_batch(1_000);
    let b_time = t.elapsed();

    println!("{:<48}{HEADER}  target", "scenario");
    println!(
        "{:<48}{}  new WRU/txn <= {TARGET_RUNS_OF_TEN}: {}   ({a_time:.1?})",
        "(a) runs of ten: one order of 1,000",
        figures(&a),
        verdict(a.new_wru() <= TARGET_RUNS_OF_TEN),
    );
    println!(
        "{:<48}{}  new WRU/txn <= {TARGET_TEN_ORDERS}: {}   ({b_time:.1?})",
        "(b) ten orders per batch: 1,000 orders of 10",
        figures(&b),
        verdict(b.new_wru() <= TARGET_TEN_ORDERS),
    );
    println!();
    print_requests("(a) runs of ten", &a);
    println!();
    print_requests("(b) ten orders per batch", &b);
    println!();

    println!(
        "(c) flat as an order grows: runs of ten, priced over the last min(N, 1,000) \
         transactions; target: from N = 1,000 on, new WRU/txn and RRU/txn within {:.0} % \
         of N = 1,000's",
        FLAT_TOLERANCE * 100.0
    );
    println!(
        "{:>9}{HEADER}  {:>16}  {:>10}  flat",
        "N", "old head (bytes)", "time"
    );
    let mut reference: Option<Measured> = None;
    for n in [10, 100, 1_000, 10_000, 100_000] {
        let t = std::time::Instant::now();
        let m = runs_of_ten(n, n.min(1_000));
        let time = t.elapsed();
        if n == 1_000 {
            reference = Some(m.clone());
        }
        let flat = match (&reference, n >= 1_000) {
            (Some(r), true) => {
                verdict(within(m.new_wru(), r.new_wru()) && within(m.new_rru(), r.new_rru()))
            }
            _ => "n/a (whole order)",
        };
        let head = m.old.largest_head;
        let stored = if head > DYNAMODB_MAX_ITEM_BYTES {
            " (cannot be stored)"
        } else {
            ""
        };
        println!(
            "{:>9}{}  {:>16}  {:>10}  {flat}{stored}",
            thousands(n),
            figures(&m),
            thousands(head),
            format!("{time:.1?}"),
        );
    }
    println!();
    println!(
        "old head: its largest size in the window; DynamoDB refuses items over {} bytes",
        thousands(DYNAMODB_MAX_ITEM_BYTES)
    );
    println!("total time {:.1?}", started.elapsed());
}
