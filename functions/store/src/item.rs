//! Items of the single table: encoding the domain into attribute maps and reading it back.
//!
//! Pure and synchronous, so the layout is unit-tested without a network; both the DynamoDB
//! adapter and the in-memory one go through these functions.

use crate::error::StoreError;
use crate::keys::{self, SortKey, PK, SK};
use crate::port::{Fact, Version};
use aws_sdk_dynamodb::types::AttributeValue;
use convoy_core::sequencer::{ConflictRecord, Need, Outcome, Processed, StoredOrder};
use convoy_core::{OrderId, OrderState, Seq, Transaction};
use std::collections::{BTreeMap, HashMap};

/// One item: attribute name → value, as the SDK holds it.
pub type Item = HashMap<String, AttributeValue>;

/// Attribute names.
pub const STATE: &str = "state";
pub const VERSION: &str = "version";
pub const ORDER_ID: &str = "order_id";
pub const STATUS: &str = "status";
pub const NEXT_SEQ: &str = "next_seq";
pub const PARKED_COUNT: &str = "parked_count";
pub const UPDATED_AT: &str = "updated_at";
pub const PROCESSED: &str = "processed";
pub const OP: &str = "op";
pub const OUTCOME: &str = "outcome";
pub const FINGERPRINT: &str = "fingerprint";
pub const SEQ: &str = "seq";
pub const TXN: &str = "txn";
pub const CONFLICT: &str = "conflict";

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

fn keyed(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// The key of an item (`pk`, `sk`) as an attribute map.
pub fn key(pk: String, sk: String) -> Item {
    keyed(pk, sk)
}

/// The head item: the serde JSON of the state, its version and a few fields for operators.
pub fn head(state: &OrderState, version: Version, updated_at: &str) -> Result<Item, StoreError> {
    let id = &state.order_id;
    let mut item = keyed(keys::order_pk(id), keys::SK_STATE.to_owned());
    item.insert(STATE.to_owned(), json(id, STATE, state)?);
    item.insert(VERSION.to_owned(), n(version.get()));
    item.insert(ORDER_ID.to_owned(), s(id.as_str()));
    item.insert(STATUS.to_owned(), s(state.status.as_str()));
    item.insert(NEXT_SEQ.to_owned(), n(state.next_seq));
    item.insert(PARKED_COUNT.to_owned(), n(state.parked.len() as u64));
    item.insert(UPDATED_AT.to_owned(), s(updated_at));
    Ok(item)
}

/// The history entry of a processed `seq`.
pub fn history(id: &OrderId, seq: Seq, processed: &Processed) -> Result<Item, StoreError> {
    let mut item = keyed(keys::order_pk(id), keys::seq_sk(seq));
    item.insert(PROCESSED.to_owned(), json(id, PROCESSED, processed)?);
    item.insert(SEQ.to_owned(), n(seq.get()));
    item.insert(OP.to_owned(), s(processed.txn.op().as_str()));
    let outcome = match &processed.outcome {
        Outcome::Applied => "applied".to_owned(),
        Outcome::Rejected { reason } => format!("rejected: {reason}"),
    };
    item.insert(OUTCOME.to_owned(), s(outcome));
    item.insert(FINGERPRINT.to_owned(), s(processed.fingerprint.as_str()));
    Ok(item)
}

/// A parked transaction, in its wire JSON.
pub fn parked(txn: &Transaction) -> Result<Item, StoreError> {
    let id = &txn.order_id;
    let mut item = keyed(keys::order_pk(id), keys::parked_sk(txn.seq));
    item.insert(TXN.to_owned(), json(id, TXN, txn)?);
    item.insert(SEQ.to_owned(), n(txn.seq.get()));
    Ok(item)
}

/// A recorded conflict.
pub fn conflict(id: &OrderId, seq: Seq, record: &ConflictRecord) -> Result<Item, StoreError> {
    let mut item = keyed(
        keys::order_pk(id),
        keys::conflict_sk(seq, &record.fingerprint),
    );
    item.insert(CONFLICT.to_owned(), json(id, CONFLICT, record)?);
    item.insert(SEQ.to_owned(), n(seq.get()));
    item.insert(FINGERPRINT.to_owned(), s(record.fingerprint.as_str()));
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

/// The state and version held by a head item.
pub fn read_head(item: &Item) -> Result<(OrderState, Version), StoreError> {
    let r = Reader::new(item);
    Ok((r.json(STATE)?, Version::new(r.number(VERSION)?)))
}

pub fn read_history(item: &Item) -> Result<Processed, StoreError> {
    Reader::new(item).json(PROCESSED)
}

/// The fact `need` asks for, from the item at [`keys::need_sk`] (`None` when there is
/// none): a conflict is a fact either way — recorded or not.
pub fn read_fact(need: &Need, found: Option<&Item>) -> Result<Option<Fact>, StoreError> {
    Ok(match (need, found) {
        (Need::Processed(seq), Some(i)) => {
            Some(Fact::Processed(*seq, read_history(i)?.fingerprint))
        }
        (Need::Parked(_), Some(i)) => Some(Fact::Parked(read_parked(i)?)),
        (Need::Processed(_) | Need::Parked(_), None) => None,
        (Need::Conflict(seq, fingerprint), found) => Some(Fact::Conflict {
            seq: *seq,
            fingerprint: fingerprint.clone(),
            recorded: found.is_some(),
        }),
    })
}

pub fn read_parked(item: &Item) -> Result<Transaction, StoreError> {
    Reader::new(item).json(TXN)
}

pub fn read_conflict(item: &Item) -> Result<ConflictRecord, StoreError> {
    Reader::new(item).json(CONFLICT)
}

/// Everything of one order from its items (any order; items of other kinds are ignored).
/// `None` when there is no head item.
pub fn stored_order<'a>(
    items: impl IntoIterator<Item = &'a Item>,
) -> Result<Option<StoredOrder>, StoreError> {
    let mut head = None;
    let mut processed = BTreeMap::new();
    let mut parked = BTreeMap::new();
    let mut conflicts = HashMap::new();
    for item in items {
        match Reader::new(item).sort_key() {
            Some(SortKey::State) => head = Some(read_head(item)?.0),
            Some(SortKey::Seq(seq)) => {
                processed.insert(seq.get(), read_history(item)?);
            }
            Some(SortKey::Parked(seq)) => {
                parked.insert(seq.get(), read_parked(item)?);
            }
            Some(SortKey::Conflict(seq, fingerprint)) => {
                conflicts.insert((seq.get(), fingerprint), read_conflict(item)?);
            }
            None => {}
        }
    }
    Ok(head.map(|state| StoredOrder {
        state,
        processed,
        parked,
        conflicts,
    }))
}

#[cfg(test)]
mod tests;
