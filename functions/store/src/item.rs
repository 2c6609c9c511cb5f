//! Items of the single table: encoding the domain into attribute maps and reading it back.
//!
//! Pure and synchronous, so the layout is unit-tested without a network; both the DynamoDB
//! adapter and the in-memory one go through these functions.

use crate::error::StoreError;
use crate::keys::{self, SortKey, PK, SK};
use crate::port::{Failure, Head, PaidOrder, Version, Waiting, MAX_FAILURE_ERROR_BYTES};
use aws_sdk_dynamodb::types::AttributeValue;
use convoy_core::sequencer::{Change, ConflictRecord, Outcome, Processed, StoredOrder};
use convoy_core::{Amount, OrderId, OrderState, Receipt, Seq, Transaction, TxnId};
use std::collections::{BTreeMap, HashMap};

/// One item: attribute name → value, as the SDK holds it.
pub type Item = HashMap<String, AttributeValue>;

/// Attribute names.
pub const STATE: &str = "state";
pub const CHANGES: &str = "changes";
pub const VERSION: &str = "version";
pub const STATUS: &str = "status";
pub const NEXT_SEQ: &str = "next_seq";
pub const UPDATED_AT: &str = "updated_at";
pub const AMOUNT: &str = "amount";
pub const SEQ: &str = "seq";
pub const TXN: &str = "txn";
pub const CONFLICT: &str = "conflict";
pub const PARKED: &str = "parked";
pub const STALLED_AT: &str = "stalled_at";
pub const DISPOSITION: &str = "disposition";
pub const ERROR: &str = "error";
pub const RECEIVE_COUNT: &str = "receive_count";
pub const AT: &str = "at";
pub const RECEIPT: &str = "receipt";
pub const PAID_AT: &str = "paid_at";
pub const ORDER_ID: &str = "order_id";
pub const CURRENCY: &str = "currency";
pub const TOTAL: &str = "total";
/// The receipt counter's attribute: the last number taken.
pub const LAST: &str = "last";
/// The seal's attribute: receipts are sealed up to this instant (epoch ms).
pub const THROUGH: &str = "through";
/// The table's time-to-live attribute (epoch seconds): only failure items have it.
pub const EXPIRES_AT: &str = "expires_at";
/// How long a failure item is kept: as long as a dead-letter queue keeps its message.
pub const FAILURE_KEPT_SECS: u64 = 14 * 24 * 3600;
pub use keys::{WAITING_SHARD, WAITING_SINCE};

/// A step's change as the log keeps it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Logged {
    Record { seq: Seq, processed: Processed },
    Park { txn: Transaction },
    Unpark { seq: Seq },
    Conflict { seq: Seq, conflict: ConflictRecord },
}

impl From<&Change> for Logged {
    fn from(c: &Change) -> Self {
        match c.clone() {
            Change::Record(seq, processed) => Logged::Record { seq, processed },
            Change::Park(txn) => Logged::Park { txn },
            Change::Unpark(seq) => Logged::Unpark { seq },
            Change::Conflict(seq, conflict) => Logged::Conflict { seq, conflict },
        }
    }
}

impl From<Logged> for Change {
    fn from(l: Logged) -> Self {
        match l {
            Logged::Record { seq, processed } => Change::Record(seq, processed),
            Logged::Park { txn } => Change::Park(txn),
            Logged::Unpark { seq } => Change::Unpark(seq),
            Logged::Conflict { seq, conflict } => Change::Conflict(seq, conflict),
        }
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn json<T: serde::Serialize>(
    id: &OrderId,
    attribute: &'static str,
    value: &T,
) -> Result<AttributeValue, StoreError> {
    serde_json::to_string(value)
        .map(AttributeValue::S)
        .map_err(|source| StoreError::Encode {
            order_id: id.to_string(),
            attribute,
            source,
        })
}

/// The key of an item (`pk`, `sk`) as an attribute map.
pub fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// The log item of a step committed as `version`, which started at `next_seq` = `start`:
/// the head after it (JSON), its changes (JSON), when the order began to wait at its
/// `next_seq` (epoch ms, while transactions are parked), and a few fields for operators.
pub fn log(
    state: &OrderState,
    changes: &[Change],
    start: u64,
    version: Version,
    updated_at: &str,
    waiting_since: Option<u64>,
) -> Result<Item, StoreError> {
    let id = &state.order_id;
    let logged: Vec<Logged> = changes.iter().map(Logged::from).collect();
    let mut item = key(keys::order_pk(id), keys::log_sk(start, version.get()));
    item.insert(STATE.to_owned(), json(id, STATE, state)?);
    item.insert(CHANGES.to_owned(), json(id, CHANGES, &logged)?);
    item.insert(VERSION.to_owned(), n(version.get()));
    item.insert(STATUS.to_owned(), s(state.status.as_str()));
    item.insert(NEXT_SEQ.to_owned(), n(state.next_seq));
    item.insert(UPDATED_AT.to_owned(), s(updated_at));
    if let Some(since) = waiting_since {
        item.insert(WAITING_SINCE.to_owned(), n(since));
    }
    Ok(item)
}

/// The receipt of the payment `state`'s step applied: order, number, when, currency and
/// total as paid (an order's items are its own items, unchanged once paid).
pub fn receipt(state: &OrderState, receipt: Receipt) -> Item {
    let mut item = key(
        keys::receipts_pk(receipt.paid_at),
        keys::receipt_sk(receipt.number),
    );
    item.insert(ORDER_ID.to_owned(), s(state.order_id.as_str()));
    item.insert(RECEIPT.to_owned(), n(receipt.number));
    item.insert(PAID_AT.to_owned(), n(receipt.paid_at));
    if let Some(c) = state.currency {
        item.insert(CURRENCY.to_owned(), s(c.to_string()));
    }
    item.insert(TOTAL.to_owned(), s(state.total.to_string()));
    item
}

/// Marks a log item as the step that applied the order's payment with `receipt`.
pub fn mark_paid(log: &mut Item, receipt: Receipt) {
    log.insert(RECEIPT.to_owned(), n(receipt.number));
    log.insert(PAID_AT.to_owned(), n(receipt.paid_at));
}

/// A receipt item read back.
pub fn read_receipt(item: &Item) -> Result<PaidOrder, StoreError> {
    let r = Reader::new(item);
    let malformed = |reason: String| StoreError::Malformed {
        pk: r.pk().to_owned(),
        sk: r.sk().to_owned(),
        reason,
    };
    let order_id =
        OrderId::parse(r.string(ORDER_ID)?).map_err(|e| malformed(format!("{ORDER_ID}: {e}")))?;
    let currency = match item.get(CURRENCY) {
        Some(_) => Some(r.string(CURRENCY)?.to_owned()),
        None => None,
    };
    let total = Amount::parse(r.string(TOTAL)?).map_err(|e| malformed(format!("{TOTAL}: {e}")))?;
    Ok(PaidOrder {
        order_id,
        receipt: Receipt {
            number: r.number(RECEIPT)?,
            paid_at: r.number(PAID_AT)?,
        },
        currency,
        total,
    })
}

/// An order's `waiting` item, its entry in the waiting index: the `next_seq` it waits at,
/// since when (epoch ms), and the version of the step that began the wait or moved it.
pub fn waiting(id: &OrderId, next_seq: u64, since: u64, version: Version) -> Item {
    let mut item = key(keys::order_pk(id), keys::WAITING_SK.to_owned());
    item.insert(WAITING_SHARD.to_owned(), s(keys::waiting_shard(id)));
    item.insert(WAITING_SINCE.to_owned(), n(since));
    item.insert(NEXT_SEQ.to_owned(), n(next_seq));
    item.insert(VERSION.to_owned(), n(version.get()));
    item
}

/// The item of a [`Failure`], to expire at `expires_at` (epoch seconds); an error longer
/// than [`MAX_FAILURE_ERROR_BYTES`] is cut.
pub fn failure(f: &Failure, expires_at: u64) -> Item {
    let mut end = f.error.len().min(MAX_FAILURE_ERROR_BYTES);
    while !f.error.is_char_boundary(end) {
        end -= 1;
    }
    let mut item = key(keys::order_pk(&f.order_id), keys::failure_sk(&f.message_id));
    item.insert(DISPOSITION.to_owned(), s(f.disposition.as_str()));
    item.insert(ERROR.to_owned(), s(&f.error[..end]));
    if let Some(count) = f.receive_count {
        item.insert(RECEIVE_COUNT.to_owned(), n(u64::from(count)));
    }
    item.insert(AT.to_owned(), s(f.at.as_str()));
    item.insert(EXPIRES_AT.to_owned(), n(expires_at));
    item
}

/// A failure item read back.
pub fn read_failure(item: &Item) -> Result<Failure, StoreError> {
    let r = Reader::new(item);
    let order_id = keys::parse_order_pk(r.pk())
        .ok_or_else(|| r.malformed(format!("pk {} is no order's", r.pk())))?;
    let message_id = r
        .sk()
        .strip_prefix(keys::FAILURE_PREFIX)
        .ok_or_else(|| r.malformed("not a failure item".into()))?
        .to_owned();
    let receive_count = match item.get(RECEIVE_COUNT) {
        None => None,
        Some(_) => Some(
            u32::try_from(r.number(RECEIVE_COUNT)?)
                .map_err(|_| r.malformed("receive_count is too large".into()))?,
        ),
    };
    Ok(Failure {
        order_id,
        message_id,
        disposition: r.string(DISPOSITION)?.to_owned(),
        error: r.string(ERROR)?.to_owned(),
        receive_count,
        at: r.string(AT)?.to_owned(),
    })
}

/// A `waiting` item read back, with what the watchdog recorded on it.
pub fn read_waiting(item: &Item) -> Result<Waiting, StoreError> {
    let r = Reader::new(item);
    let order_id = keys::parse_order_pk(r.pk())
        .ok_or_else(|| r.malformed(format!("pk {} is no order's", r.pk())))?;
    let optional = |attribute| match item.get(attribute) {
        None => Ok(None),
        Some(_) => r.number(attribute).map(Some),
    };
    Ok(Waiting {
        order_id,
        next_seq: r.number(NEXT_SEQ)?,
        since: r.number(WAITING_SINCE)?,
        version: Version::new(r.number(VERSION)?),
        stalled_at: optional(STALLED_AT)?,
        parked: optional(PARKED)?,
    })
}

/// An item of the order and its amount, as of the `seq` that set it.
pub fn order_item(id: &OrderId, txn_id: &TxnId, amount: Amount, seq: Seq) -> Item {
    let mut item = key(keys::order_pk(id), keys::item_sk(txn_id));
    item.insert(AMOUNT.to_owned(), s(amount.to_string()));
    item.insert(SEQ.to_owned(), n(seq.get()));
    item
}

/// A parked transaction, in its wire JSON.
pub fn parked(txn: &Transaction) -> Result<Item, StoreError> {
    let id = &txn.order_id;
    let mut item = key(keys::order_pk(id), keys::parked_sk(txn.seq));
    item.insert(TXN.to_owned(), json(id, TXN, txn)?);
    Ok(item)
}

/// A recorded conflict.
pub fn conflict(id: &OrderId, seq: Seq, record: &ConflictRecord) -> Result<Item, StoreError> {
    let mut item = key(
        keys::order_pk(id),
        keys::conflict_sk(seq, &record.fingerprint),
    );
    item.insert(CONFLICT.to_owned(), json(id, CONFLICT, record)?);
    Ok(item)
}

/// Reading one item back, with errors that name the item.
pub struct Reader<'a> {
    item: &'a Item,
    pk: &'a str,
    sk: &'a str,
}

impl<'a> Reader<'a> {
    pub fn new(item: &'a Item) -> Self {
        let key = |k: &str| match item.get(k) {
            Some(AttributeValue::S(v)) => v.as_str(),
            _ => "?",
        };
        Reader {
            item,
            pk: key(PK),
            sk: key(SK),
        }
    }

    pub fn pk(&self) -> &'a str {
        self.pk
    }

    pub fn sk(&self) -> &'a str {
        self.sk
    }

    fn malformed(&self, reason: String) -> StoreError {
        StoreError::Malformed {
            pk: self.pk.to_owned(),
            sk: self.sk.to_owned(),
            reason,
        }
    }

    pub fn string(&self, attribute: &'static str) -> Result<&'a str, StoreError> {
        match self.item.get(attribute) {
            Some(AttributeValue::S(v)) => Ok(v),
            Some(_) => Err(self.malformed(format!("{attribute} is not a string"))),
            None => Err(self.malformed(format!("{attribute} is missing"))),
        }
    }

    pub fn number(&self, attribute: &'static str) -> Result<u64, StoreError> {
        match self.item.get(attribute) {
            Some(AttributeValue::N(v)) => v
                .parse()
                .map_err(|_| self.malformed(format!("{attribute} = {v} is not a whole number"))),
            Some(_) => Err(self.malformed(format!("{attribute} is not a number"))),
            None => Err(self.malformed(format!("{attribute} is missing"))),
        }
    }

    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        attribute: &'static str,
    ) -> Result<T, StoreError> {
        serde_json::from_str(self.string(attribute)?).map_err(|source| StoreError::Decode {
            pk: self.pk.to_owned(),
            sk: self.sk.to_owned(),
            attribute,
            source,
        })
    }

    pub fn sort_key(&self) -> Option<SortKey> {
        SortKey::parse(self.sk)
    }
}

/// The head a log item holds: the state after its step, its version and its changes.
pub fn read_log(item: &Item) -> Result<Head, StoreError> {
    let r = Reader::new(item);
    let logged: Vec<Logged> = r.json(CHANGES)?;
    let waiting_since = match item.get(WAITING_SINCE) {
        None => None,
        Some(_) => Some(r.number(WAITING_SINCE)?),
    };
    Ok(Head {
        state: r.json(STATE)?,
        version: Version::new(r.number(VERSION)?),
        last: logged.into_iter().map(Change::from).collect(),
        waiting_since,
    })
}

/// The amount of an order item.
pub fn read_amount(item: &Item) -> Result<Amount, StoreError> {
    let r = Reader::new(item);
    let text = r.string(AMOUNT)?;
    Amount::parse(text).map_err(|e| StoreError::Malformed {
        pk: r.pk().to_owned(),
        sk: r.sk().to_owned(),
        reason: format!("amount {text:?}: {e}"),
    })
}

pub fn read_parked(item: &Item) -> Result<Transaction, StoreError> {
    Reader::new(item).json(TXN)
}

/// Everything of one order from its items (any order; items of other kinds are ignored).
/// `None` when there is no log item. The newest log item holds the head; every log item
/// its step's history; items, parked transactions and conflicts have items of their own,
/// except those of the newest step, which only its log item holds until the next commit.
pub fn stored_order<'a>(
    items: impl IntoIterator<Item = &'a Item>,
) -> Result<Option<StoredOrder>, StoreError> {
    let mut logs = BTreeMap::new();
    let mut order_items = BTreeMap::new();
    let mut parked = BTreeMap::new();
    let mut paid = None;
    for item in items {
        match Reader::new(item).sort_key() {
            Some(SortKey::Log { start, version }) => {
                logs.insert((start, version), read_log(item)?);
                if item.contains_key(RECEIPT) {
                    let r = Reader::new(item);
                    paid = Some(Receipt {
                        number: r.number(RECEIPT)?,
                        paid_at: r.number(PAID_AT)?,
                    });
                }
            }
            Some(SortKey::Item(txn_id)) => {
                order_items.insert(txn_id, read_amount(item)?);
            }
            Some(SortKey::Parked(seq)) => {
                parked.insert(seq.get(), read_parked(item)?);
            }
            Some(SortKey::Conflict(..)) | None => {}
        }
    }
    let Some(newest) = logs.values().next_back() else {
        return Ok(None);
    };
    let state = newest.state.clone();
    let mut processed = BTreeMap::new();
    let mut conflicts = HashMap::new();
    for head in logs.values() {
        for change in &head.last {
            match change {
                Change::Record(seq, p) => {
                    processed.insert(seq.get(), p.clone());
                }
                Change::Conflict(seq, c) => {
                    conflicts.insert((seq.get(), c.fingerprint.clone()), c.clone());
                }
                Change::Park(_) | Change::Unpark(_) => {}
            }
        }
    }
    for change in &newest.last {
        match change {
            Change::Record(_, p) if p.outcome == Outcome::Applied => {
                if let Some((txn_id, amount)) = p.txn.content.item() {
                    order_items.insert(txn_id.clone(), amount);
                }
            }
            Change::Park(t) => {
                parked.insert(t.seq.get(), t.clone());
            }
            _ => {}
        }
    }
    // A parked item below next_seq was drained; its history entry is in the log.
    parked.retain(|seq, _| *seq >= state.next_seq);
    Ok(Some(StoredOrder {
        state,
        items: order_items,
        processed,
        parked,
        conflicts,
        paid,
    }))
}

/// The history fact of `seq` from the log item of the step that processed it.
pub fn processed_in(log: Option<&Item>, seq: Seq) -> Result<Option<crate::port::Fact>, StoreError> {
    let Some(log) = log else {
        return Ok(None);
    };
    Ok(read_log(log)?.last.into_iter().find_map(|c| match c {
        Change::Record(s, p) if s == seq => Some(crate::port::Fact::Processed(s, p.fingerprint)),
        _ => None,
    }))
}

#[cfg(test)]
mod tests;
