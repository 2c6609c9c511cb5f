//! `MemoryOrderStore`: the single table held in memory, with DynamoDB's conditional puts
//! and the same layout — the adapter handler tests run against. It counts its requests and
//! their units by AWS's rules ([`Usage`]), as the DynamoDB adapter does.

use crate::capacity::{self, Read};
use crate::error::StoreError;
use crate::item::{self, Item};
use crate::keys::{self, SortKey};
use crate::plan::{self, Condition, Delete, Put};
use crate::port::{
    Fact, Failure, Head, OrderReader, OrderStore, PaidOrder, ReceiptReader, Waiting, WaitingStore,
};
use crate::usage::Usage;
use convoy_core::sequencer::{Need, Step, StoredOrder};
use convoy_core::{OrderId, OrderState, Seq, Transaction};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Items by (`pk`, `sk`), sorted like a DynamoDB partition.
type Table = BTreeMap<(String, String), Item>;

/// The single table in memory. Items are encoded exactly as the DynamoDB adapter encodes
/// them, and every put checks its condition as DynamoDB would.
#[derive(Debug, Default)]
pub struct MemoryOrderStore {
    table: Mutex<Table>,
    commits: AtomicUsize,
    usage: Arc<Usage>,
}

impl MemoryOrderStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many commits succeeded so far (one log item each).
    pub fn commits(&self) -> usize {
        self.commits.load(Ordering::SeqCst)
    }

    /// Requests and units so far, by AWS's rules.
    pub fn usage(&self) -> &Arc<Usage> {
        &self.usage
    }

    /// Every item in the table, in key order (for layout assertions in tests).
    pub fn items(&self) -> Vec<Item> {
        self.lock().values().cloned().collect()
    }

    /// Puts `item` as it is, with no condition (a test planting a state: an entry a crash
    /// left behind, say).
    pub fn insert(&self, item: Item) {
        let key = {
            let r = item::Reader::new(&item);
            (r.pk().to_owned(), r.sk().to_owned())
        };
        self.lock().insert(key, item);
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock cannot leave a half-applied put (the table is only
        // changed after the condition was checked), so a poisoned lock is still sound.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, pk: String, sk: String) -> Option<Item> {
        let found = self.lock().get(&(pk, sk)).cloned();
        let size = found.as_ref().map_or(0, capacity::item_size);
        self.usage
            .record("GetItem", capacity::read(size, Read::Strong));
        found
    }

    /// The items of `pk` with `sk` in `from..=to`; only the last one when `last`.
    fn query(&self, pk: &str, from: &str, to: &str, last: bool) -> Vec<Item> {
        let range = (
            Bound::Included((pk.to_owned(), from.to_owned())),
            Bound::Included((pk.to_owned(), to.to_owned())),
        );
        let table = self.lock();
        let found: Vec<Item> = if last {
            table
                .range(range)
                .next_back()
                .map(|(_, i)| i.clone())
                .into_iter()
                .collect()
        } else {
            table.range(range).map(|(_, i)| i.clone()).collect()
        };
        drop(table);
        let size = found.iter().map(capacity::item_size).sum();
        self.usage
            .record("Query", capacity::query(size, Read::Strong));
        found
    }

    /// One put; `Ok(false)` when its condition fails.
    fn put(&self, put: Put) -> Result<bool, StoreError> {
        let key = put.key();
        self.usage.record(
            "PutItem",
            capacity::write_item(capacity::item_size(&put.item), &key.1),
        );
        let mut table = self.lock();
        let holds = holds(put.condition, table.get(&key))?;
        if holds {
            table.insert(key, put.item);
        }
        Ok(holds)
    }

    /// The log item and the receipt as one transaction: both land or neither does.
    /// `Ok(false)` when the log item's condition fails.
    fn put_paid(
        &self,
        id: &OrderId,
        log: Put,
        receipt: plan::ReceiptPut,
    ) -> Result<bool, StoreError> {
        let (receipt, paid_at) = (receipt.put, receipt.paid_at);
        let mut table = self.lock();
        // One request: its puts and the seal's check (a few dozen bytes), each billed as a
        // transactional write.
        let units = [&log, &receipt]
            .iter()
            .map(|p| capacity::write(capacity::item_size(&p.item), true))
            .fold(capacity::write(0, true), |a, b| a + b);
        self.usage.record("TransactWriteItems", units);
        if !holds(log.condition, table.get(&log.key()))? {
            return Ok(false);
        }
        let sealed = (keys::SEALED_PK.to_owned(), keys::SEALED_SK.to_owned());
        if let Some(seal) = table.get(&sealed) {
            let through = item::Reader::new(seal).number(item::THROUGH)?;
            if through > paid_at {
                return Err(StoreError::Sealed {
                    order_id: id.to_string(),
                    through,
                });
            }
        }
        if !holds(receipt.condition, table.get(&receipt.key()))? {
            return Err(StoreError::Receipt {
                order_id: id.to_string(),
                reason: "its receipt number is already taken (the receipt counter went back)",
            });
        }
        for put in [log, receipt] {
            table.insert(put.key(), put.item);
        }
        Ok(true)
    }

    /// One delete; `Ok(false)` when its condition fails (an absent item passes any but
    /// `VersionIs`).
    fn delete(&self, delete: Delete) -> Result<bool, StoreError> {
        let key = (delete.pk, delete.sk);
        let mut table = self.lock();
        let size = table.get(&key).map_or(0, capacity::item_size);
        self.usage
            .record("DeleteItem", capacity::write_item(size, &key.1));
        let holds = holds(delete.condition, table.get(&key))?;
        if holds {
            table.remove(&key);
        }
        Ok(holds)
    }
}

/// Whether `condition` holds for the item `current` (`None`: absent), as DynamoDB
/// evaluates it: only `VersionIs` needs the item to exist.
fn holds(condition: Condition, current: Option<&Item>) -> Result<bool, StoreError> {
    let number = |i: &Item, attribute| item::Reader::new(i).number(attribute);
    Ok(match (condition, current) {
        (Condition::VersionIs(_), None) => false,
        (Condition::Always, _) | (_, None) => true,
        (Condition::Absent, Some(_)) => false,
        (Condition::SeqBelow(seq), Some(i)) => number(i, item::SEQ)? < seq,
        (Condition::VersionBelow(v), Some(i)) => number(i, item::VERSION)? < v,
        (Condition::VersionIs(v), Some(i)) => number(i, item::VERSION)? == v,
    })
}

/// The first and last sort keys of a kind (`prefix` and everything after it).
fn prefix_range(prefix: &str) -> (String, String) {
    (prefix.to_owned(), format!("{prefix}\u{10ffff}"))
}

impl OrderStore for MemoryOrderStore {
    async fn load(&self, id: &OrderId) -> Result<Option<Head>, StoreError> {
        let (from, to) = prefix_range(keys::LOG_PREFIX);
        let found = self.query(&keys::order_pk(id), &from, &to, true);
        found.first().map(item::read_log).transpose()
    }

    async fn fetch(&self, id: &OrderId, need: &Need) -> Result<Option<Fact>, StoreError> {
        let pk = keys::order_pk(id);
        Ok(match need {
            Need::Processed(seq) => {
                let found = self.query(&pk, keys::LOG_PREFIX, &keys::log_sk_upto(*seq), true);
                item::processed_in(found.first(), *seq)?
            }
            Need::Parked(seq) => Some(match self.get(pk, keys::parked_sk(*seq)) {
                Some(i) => Fact::Parked(item::read_parked(&i)?),
                None => Fact::NotParked(*seq),
            }),
            Need::Conflict(seq, fingerprint) => Some(Fact::Conflict {
                seq: *seq,
                fingerprint: fingerprint.clone(),
                recorded: self.get(pk, keys::conflict_sk(*seq, fingerprint)).is_some(),
            }),
            Need::Item(txn_id) => {
                let found = self.get(pk, keys::item_sk(txn_id));
                let amount = found.as_ref().map(item::read_amount).transpose()?;
                Some(Fact::Item(txn_id.clone(), amount))
            }
        })
    }

    async fn fetch_parked(
        &self,
        id: &OrderId,
        from: Seq,
        to: Seq,
    ) -> Result<Vec<Transaction>, StoreError> {
        let found = self.query(
            &keys::order_pk(id),
            &keys::parked_sk(from),
            &keys::parked_sk(to),
            false,
        );
        found.iter().map(item::read_parked).collect()
    }

    async fn take_receipt(&self) -> Result<u64, StoreError> {
        let key = (
            keys::RECEIPT_COUNTER_PK.to_owned(),
            keys::RECEIPT_COUNTER_SK.to_owned(),
        );
        self.usage.record("UpdateItem", capacity::write(0, false));
        let mut table = self.lock();
        let last = match table.get(&key) {
            Some(i) => item::Reader::new(i).number(item::LAST)?,
            None => 0,
        };
        let next = last + 1;
        let mut counter = item::key(key.0.clone(), key.1.clone());
        counter.insert(
            item::LAST.to_owned(),
            aws_sdk_dynamodb::types::AttributeValue::N(next.to_string()),
        );
        table.insert(key, counter);
        Ok(next)
    }

    async fn commit(
        &self,
        id: &OrderId,
        base: Option<&Head>,
        step: &Step,
    ) -> Result<Head, StoreError> {
        let plan = plan::commit(id, base, step, &plan::now())?;
        for copy in plan.copies {
            self.put(copy)?;
        }
        let landed = match plan.receipt {
            Some(receipt) => self.put_paid(id, plan.log, receipt)?,
            None => self.put(plan.log)?,
        };
        if !landed {
            return Err(StoreError::Conflict {
                order_id: id.to_string(),
            });
        }
        if let Some(cleared) = plan.cleared {
            self.delete(cleared)?;
        }
        self.commits.fetch_add(1, Ordering::SeqCst);
        Ok(plan.head)
    }

    async fn record_failure(&self, failure: &Failure) -> Result<(), StoreError> {
        let expires_at = plan::now().millis / 1000 + item::FAILURE_KEPT_SECS;
        self.put(Put {
            item: item::failure(failure, expires_at),
            condition: Condition::Always,
        })
        .map(|_| ())
    }
}

impl ReceiptReader for MemoryOrderStore {
    async fn seal(&self, through: u64) -> Result<u64, StoreError> {
        let key = (keys::SEALED_PK.to_owned(), keys::SEALED_SK.to_owned());
        self.usage.record("UpdateItem", capacity::write(0, false));
        let mut table = self.lock();
        let was = match table.get(&key) {
            Some(i) => item::Reader::new(i).number(item::THROUGH)?,
            None => 0,
        };
        if was >= through {
            return Ok(was);
        }
        let mut seal = item::key(key.0.clone(), key.1.clone());
        seal.insert(
            item::THROUGH.to_owned(),
            aws_sdk_dynamodb::types::AttributeValue::N(through.to_string()),
        );
        table.insert(key, seal);
        Ok(through)
    }

    async fn receipts(&self, from: u64, to: u64) -> Result<Vec<PaidOrder>, StoreError> {
        let mut paid = Vec::new();
        for partition in crate::dynamo::partitions(from, to)? {
            let (first, last) = prefix_range("");
            for found in self.query(&partition, &first, &last, false) {
                let order = item::read_receipt(&found)?;
                if (from..to).contains(&order.receipt.paid_at) {
                    paid.push(order);
                }
            }
        }
        paid.sort_by_key(|p| p.receipt.number);
        Ok(paid)
    }
}

impl WaitingStore for MemoryOrderStore {
    async fn waiting_since(&self, cutoff: u64) -> Result<Vec<Waiting>, StoreError> {
        let entries: Vec<Item> = self
            .lock()
            .iter()
            .filter(|((_, sk), _)| sk == keys::WAITING_SK)
            .map(|(_, i)| i.clone())
            .collect();
        let mut found = Vec::new();
        for entry in entries {
            let w = item::read_waiting(&entry)?;
            if w.since <= cutoff {
                found.push(w);
            }
        }
        found.sort_by_key(|w| w.since);
        Ok(found)
    }

    async fn mark_stalled(
        &self,
        entry: &Waiting,
        parked: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let key = (keys::order_pk(&entry.order_id), keys::WAITING_SK.to_owned());
        let mut table = self.lock();
        let Some(current) = table.get_mut(&key) else {
            return Ok(false);
        };
        if item::Reader::new(current).number(item::VERSION)? != entry.version.get() {
            return Ok(false);
        }
        let n = |v: u64| aws_sdk_dynamodb::types::AttributeValue::N(v.to_string());
        current.entry(item::STALLED_AT.to_owned()).or_insert(n(now));
        current.insert(item::PARKED.to_owned(), n(parked));
        Ok(true)
    }

    async fn clear_waiting(&self, entry: &Waiting) -> Result<bool, StoreError> {
        self.delete(Delete {
            pk: keys::order_pk(&entry.order_id),
            sk: keys::WAITING_SK.to_owned(),
            condition: Condition::VersionIs(entry.version.get()),
        })
    }
}

impl OrderReader for MemoryOrderStore {
    async fn last_failure(
        &self,
        id: &OrderId,
        message_id: &str,
    ) -> Result<Option<Failure>, StoreError> {
        let found = self.get(keys::order_pk(id), keys::failure_sk(message_id));
        found.as_ref().map(item::read_failure).transpose()
    }

    async fn list_orders(&self) -> Result<Vec<OrderState>, StoreError> {
        let mut newest: BTreeMap<String, Item> = BTreeMap::new();
        for ((pk, sk), i) in self.lock().iter() {
            if keys::parse_order_pk(pk).is_some()
                && matches!(SortKey::parse(sk), Some(SortKey::Log { .. }))
            {
                newest.insert(pk.clone(), i.clone());
            }
        }
        newest
            .values()
            .map(|i| item::read_log(i).map(|h| h.state))
            .collect()
    }

    async fn load_stored_order(&self, id: &OrderId) -> Result<Option<StoredOrder>, StoreError> {
        let pk = keys::order_pk(id);
        let items: Vec<Item> = self
            .lock()
            .range((pk.clone(), String::new())..)
            .take_while(|((p, _), _)| *p == pk)
            .map(|(_, i)| i.clone())
            .collect();
        item::stored_order(&items)
    }
}

#[cfg(test)]
mod tests;
