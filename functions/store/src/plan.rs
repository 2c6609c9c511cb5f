//! The writes of one commit (pure; the DynamoDB adapter sends them, the in-memory adapter
//! applies them).
//!
//! A step is committed by one conditional put: its log item, at a sort key made of the
//! base's `next_seq` and the next version, on the condition that the key is free. Every
//! writer that loaded the same base computes the same key, so at most one of them commits:
//! the key is the optimistic lock, and nothing else is needed to make the step atomic.
//!
//! What the base's own step changed — items, parked transactions, conflicts — is copied
//! into items of their own first (those writes are facts already committed in the base's log
//! item, so writing them twice, late or concurrently is harmless: an item's put only lands
//! over an older `seq`). Until then the base's log item is where they are read.

use crate::capacity::item_size;
use crate::error::StoreError;
use crate::item::{self, Item};
use crate::port::{Head, Version};
use convoy_core::bounds::DYNAMODB_MAX_ITEM_BYTES;
use convoy_core::sequencer::{Change, Outcome, Step};
use convoy_core::{OrderId, Seq};
use std::collections::HashMap;

/// The condition a put must meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// None: the put writes a committed fact, the same every time.
    Always,
    /// The item must not exist yet (`attribute_not_exists(pk)`): the log item.
    Absent,
    /// The item is absent or set by an earlier `seq` (`attribute_not_exists(pk) OR seq <
    /// :seq`): an order item, never set back. A put refused so is simply not needed.
    SeqBelow(u64),
}

/// One put of a commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Put {
    pub item: Item,
    pub condition: Condition,
}

impl Put {
    /// The (`pk`, `sk`) the put writes.
    pub fn key(&self) -> (String, String) {
        let r = item::Reader::new(&self.item);
        (r.pk().to_owned(), r.sk().to_owned())
    }
}

/// The puts of a commit: the base step's items (independent, in any order), then the log
/// item, and the version the step will have.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub copies: Vec<Put>,
    pub log: Put,
    pub version: Version,
}

/// Plans the commit of `step` for order `id` on top of `base` (`None`: a new order).
pub fn commit(
    id: &OrderId,
    base: Option<&Head>,
    step: &Step,
    updated_at: &str,
) -> Result<Plan, StoreError> {
    let version = base.map_or(Version::FIRST, |b| b.version.next());
    let start = base.map_or(1, |b| b.state.next_seq);
    let log = item::log(&step.state, &step.changes, start, version, updated_at)?;
    let bytes = item_size(&log);
    if bytes > DYNAMODB_MAX_ITEM_BYTES {
        return Err(StoreError::TooLarge {
            order_id: id.to_string(),
            bytes,
            limit: DYNAMODB_MAX_ITEM_BYTES,
        });
    }
    let mut copies = match base {
        Some(b) => copies(id, &b.last)?,
        None => Vec::new(),
    };
    // What this step supersedes need not be copied: an item it sets again (its log item
    // holds the newer amount, copied by the next commit) and a parked transaction it
    // drains (below next_seq it is never read as parked). Should this step not commit,
    // the base stays the newest step and its log item still holds both.
    let superseded = superseded(id, step);
    copies.retain(|p| !superseded.contains(&p.key()));
    Ok(Plan {
        copies,
        log: Put {
            item: log,
            condition: Condition::Absent,
        },
        version,
    })
}

/// The items of a committed step's changes: each item it set (at its last `seq`), each
/// transaction it parked, each conflict it recorded. Drained parked items stay: below
/// `next_seq` they are history, and the log holds that history already.
pub fn copies(id: &OrderId, changes: &[Change]) -> Result<Vec<Put>, StoreError> {
    let mut items: HashMap<_, (convoy_core::Amount, Seq)> = HashMap::new();
    let mut puts = Vec::new();
    for change in changes {
        match change {
            Change::Record(seq, p) if p.outcome == Outcome::Applied => {
                if let Some((txn_id, amount)) = p.txn.content.item() {
                    items.insert(txn_id, (amount, *seq));
                }
            }
            Change::Park(txn) => puts.push(Put {
                item: item::parked(txn)?,
                condition: Condition::Always,
            }),
            Change::Conflict(seq, record) => puts.push(Put {
                item: item::conflict(id, *seq, record)?,
                condition: Condition::Always,
            }),
            Change::Record(..) | Change::Unpark(_) => {}
        }
    }
    let mut items: Vec<_> = items.into_iter().collect();
    items.sort_by_key(|(_, (_, seq))| *seq);
    puts.extend(items.into_iter().map(|(txn_id, (amount, seq))| Put {
        item: item::order_item(id, txn_id, amount, seq),
        condition: Condition::SeqBelow(seq.get()),
    }));
    Ok(puts)
}

/// The keys of the copies `step` makes unnecessary.
fn superseded(id: &OrderId, step: &Step) -> Vec<(String, String)> {
    let pk = crate::keys::order_pk(id);
    step.changes
        .iter()
        .filter_map(|c| match c {
            Change::Record(_, p) if p.outcome == Outcome::Applied => p
                .txn
                .content
                .txn_id()
                .map(|t| (pk.clone(), crate::keys::item_sk(t))),
            Change::Unpark(seq) => Some((pk.clone(), crate::keys::parked_sk(*seq))),
            _ => None,
        })
        .collect()
}

/// The current time as RFC 3339, for the log item's `updated_at` (operators only).
pub fn now() -> String {
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
    now.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| now.secs().to_string())
}
