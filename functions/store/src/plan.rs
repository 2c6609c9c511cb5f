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
//!
//! The order's `waiting` item — its entry in the waiting index, which the watchdog reads —
//! is put beside the copies, before the log item, when the step begins a wait or moves its
//! gap, and deleted after the log item, when the step ends the wait. Both are conditional
//! on an older version, so a lost race or a late write never removes a newer step's entry.
//! Either way round, a crash leaves at most an entry without a wait (the watchdog checks
//! the head and clears it), never a wait without an entry.

use crate::capacity::item_size;
use crate::error::StoreError;
use crate::item::{self, Item};
use crate::port::{Head, Version};
use convoy_core::bounds::DYNAMODB_MAX_ITEM_BYTES;
use convoy_core::sequencer::{Change, Outcome, Step};
use convoy_core::{OrderId, OrderState, Seq};
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
    /// The item is absent or written by an earlier step (`attribute_not_exists(pk) OR
    /// version < :version`): the waiting entry, never set back by a lost race.
    VersionBelow(u64),
    /// The item exists, written by this very step (`version = :version`): the watchdog's
    /// change of an entry it read.
    VersionIs(u64),
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

/// A receipt's put, and its `paid_at` for the check against the seal.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiptPut {
    pub put: Put,
    pub paid_at: u64,
}

/// A conditional delete.
#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    pub pk: String,
    pub sk: String,
    pub condition: Condition,
}

/// The writes of a commit: the base step's items and the waiting entry (independent, in
/// any order), then the log item (with the receipt of a step that pays, in one
/// transaction: both or neither), then the waiting entry's delete; and the head it makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub copies: Vec<Put>,
    pub log: Put,
    /// The receipt item of a step that applies a `pay` ([`Step::receipt`]): written with
    /// the log item atomically, on the condition that its number is free and that its
    /// `paid_at` is not before the seal ([`keys::SEALED_PK`](crate::keys::SEALED_PK)).
    pub receipt: Option<ReceiptPut>,
    pub cleared: Option<Delete>,
    pub head: Head,
}

/// The time of a commit: RFC 3339 for operators, epoch milliseconds for the waiting index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Now {
    pub text: String,
    pub millis: u64,
}

/// When the order after a step to `state` began to wait: kept from `base` while it waits
/// at the same `next_seq`, `now` when it begins to wait or its gap moves, `None` when
/// nothing is parked.
pub fn waiting_since(base: Option<&Head>, state: &OrderState, now: u64) -> Option<u64> {
    if state.parked_count == 0 {
        return None;
    }
    match base {
        Some(b) if b.state.parked_count > 0 && b.state.next_seq == state.next_seq => {
            Some(b.waiting_since.unwrap_or(now))
        }
        _ => Some(now),
    }
}

/// Plans the commit of `step` for order `id` on top of `base` (`None`: a new order).
pub fn commit(
    id: &OrderId,
    base: Option<&Head>,
    step: &Step,
    now: &Now,
) -> Result<Plan, StoreError> {
    let version = base.map_or(Version::FIRST, |b| b.version.next());
    let start = base.map_or(1, |b| b.state.next_seq);
    let since = waiting_since(base, &step.state, now.millis);
    // Where the base waited, if it had an entry (a base from before entries has none).
    let was_at = base
        .filter(|b| b.waiting_since.is_some())
        .map(|b| b.state.next_seq);
    let mut log = item::log(&step.state, &step.changes, start, version, &now.text, since)?;
    if step.pays() != step.receipt.is_some() {
        return Err(StoreError::Receipt {
            order_id: id.to_string(),
            reason: if step.pays() {
                "a step that applies a payment comes without its receipt"
            } else {
                "a receipt comes with a step that applies no payment"
            },
        });
    }
    let receipt = step.receipt.map(|r| {
        // The log keeps the receipt too: the order's history shows it.
        item::mark_paid(&mut log, r);
        ReceiptPut {
            put: Put {
                item: item::receipt(&step.state, r),
                condition: Condition::Absent,
            },
            paid_at: r.paid_at,
        }
    });
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
    let mut cleared = None;
    match since {
        Some(since) if was_at != Some(step.state.next_seq) => copies.push(Put {
            item: item::waiting(id, step.state.next_seq, since, version),
            condition: Condition::VersionBelow(version.get()),
        }),
        None if was_at.is_some() => {
            cleared = Some(Delete {
                pk: crate::keys::order_pk(id),
                sk: crate::keys::WAITING_SK.to_owned(),
                condition: Condition::VersionBelow(version.get()),
            })
        }
        _ => {}
    }
    Ok(Plan {
        copies,
        log: Put {
            item: log,
            condition: Condition::Absent,
        },
        receipt,
        cleared,
        head: Head::after(step, version, since),
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

/// The current time.
pub fn now() -> Now {
    let system = std::time::SystemTime::now();
    let millis = system
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let now = aws_smithy_types::DateTime::from(system);
    Now {
        text: now
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_else(|_| now.secs().to_string()),
        millis,
    }
}
