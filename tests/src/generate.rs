//! Deterministic order life cycles as ledger lines (JSON objects with `seq` 1, 2, …): items
//! added and modified, paid, shipped, completed, canceled or deleted, with some business
//! rejections (an op not allowed in the state, an item added twice) along the way.

use convoy_core::Transaction;
use serde_json::{json, Map, Value};

const CURRENCIES: [&str; 4] = ["EUR", "USD", "JPY", "GBP"];

/// A decimal amount as a ledger writes it: up to 4 fraction digits, sometimes negative,
/// sometimes a JSON number rather than a string.
fn amount(rng: &mut fastrand::Rng) -> Value {
    let int = rng.u32(0..100_000);
    let digits = rng.usize(0..=4);
    let sign = if rng.u8(0..10) == 0 { "-" } else { "" };
    let text = if digits == 0 {
        format!("{sign}{int}")
    } else {
        let frac = rng.u32(0..10u32.pow(digits as u32));
        format!("{sign}{int}.{frac:0digits$}")
    };
    if rng.u8(0..4) == 0 && digits == 0 && sign.is_empty() {
        json!(int)
    } else {
        Value::String(text)
    }
}

/// The life of one order: its lines in `seq` order.
pub fn order(rng: &mut fastrand::Rng, order_id: &str) -> Vec<Value> {
    let mut ops: Vec<Value> = Vec::new();
    if rng.u8(0..8) == 0 {
        ops.push(json!({"op": "pay"})); // rejected: the order is new
    }
    ops.push(json!({"op": "create", "currency": CURRENCIES[rng.usize(..CURRENCIES.len())]}));
    let items = rng.usize(0..=4);
    for i in 0..items {
        ops.push(json!({"op": "add", "txn_id": format!("t{i}"), "amount": amount(rng)}));
    }
    if items > 0 && rng.u8(0..3) == 0 {
        ops.push(json!({"op": "modify", "txn_id": "t0", "amount": amount(rng)}));
    }
    if items > 0 && rng.u8(0..5) == 0 {
        // rejected: the item exists
        ops.push(json!({"op": "add", "txn_id": "t0", "amount": amount(rng)}));
    }
    let endings: [&[&str]; 8] = [
        &[],
        &["pay"],
        &["pay", "ship"],
        &["pay", "ship", "complete"],
        &["cancel"],
        &["pay", "cancel"],
        &["pay", "ship", "cancel"], // the cancel is rejected
        &["delete"],
    ];
    for op in endings[rng.usize(..endings.len())] {
        ops.push(json!({ "op": op }));
    }
    ops.into_iter()
        .enumerate()
        .map(|(i, mut op)| {
            let mut line = Map::new();
            line.insert("order_id".into(), order_id.into());
            line.insert("seq".into(), json!(i + 1));
            if let Value::Object(fields) = &mut op {
                line.append(fields);
            }
            if rng.u8(0..4) == 0 {
                line.insert("note".into(), format!("note {i}, \"quoted\"").into());
            }
            if rng.u8(0..4) == 0 {
                line.insert("at".into(), "2026-11-24T09:00:00+02:00".into());
            }
            Value::Object(line)
        })
        .collect()
}

/// A long order: created, then `items` items added, then paid — `items + 2` lines in `seq`
/// order (reverse them to make the consumer park all but one, then drain them).
pub fn long_order(rng: &mut fastrand::Rng, order_id: &str, items: usize) -> Vec<Value> {
    let mut lines =
        vec![json!({"order_id": order_id, "seq": 1, "op": "create", "currency": "EUR"})];
    for i in 0..items {
        lines.push(json!({
            "order_id": order_id, "seq": i + 2, "op": "add",
            "txn_id": format!("L{i}"), "amount": amount(rng),
        }));
    }
    lines.push(json!({"order_id": order_id, "seq": items + 2, "op": "pay"}));
    lines
}

/// The lives of the given orders, from `seed`.
pub fn orders(seed: u64, ids: &[String]) -> Vec<Vec<Value>> {
    let mut rng = fastrand::Rng::with_seed(seed);
    ids.iter().map(|id| order(&mut rng, id)).collect()
}

/// Interleaves the orders' lines at random, each order's lines staying in their order.
pub fn interleave(rng: &mut fastrand::Rng, orders: Vec<Vec<Value>>) -> Vec<Value> {
    let mut queues: Vec<std::collections::VecDeque<Value>> =
        orders.into_iter().map(Into::into).collect();
    let mut out = Vec::new();
    loop {
        let open: Vec<usize> = (0..queues.len())
            .filter(|i| !queues[*i].is_empty())
            .collect();
        if open.is_empty() {
            return out;
        }
        let pick = open[rng.usize(..open.len())];
        if let Some(line) = queues[pick].pop_front() {
            out.push(line);
        }
    }
}

/// Lines as a JSON Lines file.
pub fn jsonl(lines: &[Value]) -> Vec<u8> {
    let mut out = String::new();
    for line in lines {
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out.into_bytes()
}

/// The transactions of valid lines (all generated lines are valid).
pub fn transactions(lines: &[Value]) -> Result<Vec<Transaction>, serde_json::Error> {
    lines
        .iter()
        .map(|l| serde_json::from_value(normalized(l)))
        .collect()
}

/// A ledger line in the wire shape of a transaction: `amount` as a string.
fn normalized(line: &Value) -> Value {
    let mut line = line.clone();
    if let Some(n) = line.get("amount").and_then(Value::as_u64) {
        line["amount"] = n.to_string().into();
    }
    line
}

/// A ledger written line by line (or CSV record by record), keeping track of the line each
/// starts on and of the lines expected in its rejects report.
#[derive(Debug, Clone)]
pub struct Ledger {
    pub bytes: Vec<u8>,
    /// The lines expected in the rejects report, in line order.
    pub rejects: Vec<crate::check::Reject>,
    /// Lines so far.
    lines: u64,
    /// What ends each entry: `\n` unless told otherwise.
    ending: Vec<u8>,
}

impl Default for Ledger {
    fn default() -> Self {
        Self {
            bytes: Vec::new(),
            rejects: Vec::new(),
            lines: 0,
            ending: b"\n".to_vec(),
        }
    }
}

impl Ledger {
    pub fn new() -> Self {
        Self::default()
    }

    /// The line the next entry starts on.
    pub fn next_line(&self) -> u64 {
        self.lines + 1
    }

    /// Ends the following entries with `ending` (`\r\n`, say, or nothing for the last).
    pub fn ending(&mut self, ending: &[u8]) -> &mut Self {
        self.ending = ending.to_vec();
        self
    }

    /// Appends a line (or record) that is sent.
    pub fn ok(&mut self, entry: impl AsRef<[u8]>) -> &mut Self {
        self.push(entry.as_ref())
    }

    /// Appends a line (or record) refused with `field` (`None`: the line as a whole).
    pub fn refused(&mut self, field: Option<&str>, entry: impl AsRef<[u8]>) -> &mut Self {
        self.rejects
            .push(crate::check::Reject::new(self.next_line(), field));
        self.push(entry.as_ref())
    }

    /// Appends a blank line (or one of only white space).
    pub fn blank(&mut self, entry: &str) -> &mut Self {
        self.push(entry.as_bytes())
    }

    fn push(&mut self, entry: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(entry);
        self.bytes.extend_from_slice(&self.ending);
        self.lines += 1 + entry.iter().filter(|b| **b == b'\n').count() as u64;
        self
    }
}

/// One CSV record (quoted where needed), without a line ending.
pub fn csv_record<I, F>(fields: I) -> Result<Vec<u8>, csv::Error>
where
    I: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    writer.write_record(fields)?;
    let mut out = writer
        .into_inner()
        .map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))?;
    out.pop();
    Ok(out)
}
