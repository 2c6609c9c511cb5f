//! The writes of one commit: a step's changes as conditional puts and deletes, in one
//! transaction (pure; the DynamoDB adapter sends it, the in-memory adapter applies it).

use crate::error::StoreError;
use crate::item::{self, Item};
use crate::keys;
use crate::port::Version;
use convoy_core::sequencer::{Change, Step};
use convoy_core::OrderId;

/// DynamoDB's limit on the items of one `TransactWriteItems`.
pub const MAX_TRANSACT_ITEMS: usize = 100;

/// The condition one write must meet, or the whole commit is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The item must not exist yet (`attribute_not_exists(pk)`).
    Absent,
    /// The item must exist (`attribute_exists(pk)`).
    Present,
    /// The head's `version` must be this one (`version = :expected`).
    Version(Version),
}

/// One write of a commit.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Put { item: Item, condition: Condition },
    Delete { key: Item, condition: Condition },
}

impl Write {
    /// The (`pk`, `sk`) the write touches.
    pub fn key(&self) -> (String, String) {
        let item = match self {
            Write::Put { item, .. } => item,
            Write::Delete { key, .. } => key,
        };
        let r = item::Reader::new(item);
        (r.pk().to_owned(), r.sk().to_owned())
    }
}

/// All writes of a commit (the head first) and the version the head will have.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub writes: Vec<Write>,
    pub version: Version,
}

/// Plans the commit of `step` for order `id`, expected to be at `expected` (`None`: new order).
pub fn commit(
    id: &OrderId,
    expected: Option<Version>,
    step: &Step,
    updated_at: &str,
) -> Result<Plan, StoreError> {
    let writes_needed = step.changes.len() + 1;
    if writes_needed > MAX_TRANSACT_ITEMS {
        return Err(StoreError::TooManyWrites {
            order_id: id.to_string(),
            writes: writes_needed,
            limit: MAX_TRANSACT_ITEMS,
        });
    }
    let version = expected.map_or(Version::FIRST, Version::next);
    let head_condition = expected.map_or(Condition::Absent, Condition::Version);
    let mut writes = Vec::with_capacity(writes_needed);
    writes.push(Write::Put {
        item: item::head(&step.state, version, updated_at)?,
        condition: head_condition,
    });
    let pk = keys::order_pk(id);
    for change in &step.changes {
        let put = |item| Write::Put {
            item,
            condition: Condition::Absent,
        };
        writes.push(match change {
            Change::Record(seq, processed) => put(item::history(id, *seq, processed)?),
            Change::Park(txn) => put(item::parked(txn)?),
            Change::Conflict(seq, record) => put(item::conflict(id, *seq, record)?),
            Change::Unpark(seq) => Write::Delete {
                key: item::key(pk.clone(), keys::parked_sk(*seq)),
                condition: Condition::Present,
            },
        });
    }
    Ok(Plan { writes, version })
}

/// The current time as RFC 3339, for the head's `updated_at` (operators only).
pub fn now() -> String {
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
    now.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| now.secs().to_string())
}
