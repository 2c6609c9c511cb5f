//! `MemoryOrderStore`: the single table held in memory, with DynamoDB's conditional,
//! all-or-nothing transaction semantics — the adapter handler tests run against.

use crate::error::StoreError;
use crate::item::{self, Item};
use crate::keys::{self, SortKey};
use crate::plan::{self, Condition, Plan, Write};
use crate::port::{Fact, OrderReader, OrderStore, Version};
use convoy_core::sequencer::{Need, Step, StoredOrder};
use convoy_core::{OrderId, OrderState, Seq, Transaction};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Items by (`pk`, `sk`), sorted like a DynamoDB partition.
type Table = BTreeMap<(String, String), Item>;

/// The single table in memory. Items are encoded exactly as the DynamoDB adapter encodes
/// them, and a commit checks every condition before writing anything.
#[derive(Debug, Default)]
pub struct MemoryOrderStore {
    table: Mutex<Table>,
    commits: AtomicUsize,
}

impl MemoryOrderStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many commits succeeded so far (one per `TransactWriteItems` the real store sends).
    pub fn commits(&self) -> usize {
        self.commits.load(Ordering::SeqCst)
    }

    /// Every item in the table, in key order (for layout assertions in tests).
    pub fn items(&self) -> Vec<Item> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock cannot leave a half-applied commit (the table is
        // only changed after all conditions were checked), so a poisoned lock is still sound.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, pk: String, sk: String) -> Option<Item> {
        self.lock().get(&(pk, sk)).cloned()
    }

    fn apply(&self, id: &OrderId, plan: Plan) -> Result<Version, StoreError> {
        let mut table = self.lock();
        for write in &plan.writes {
            let (condition, key) = match write {
                Write::Put { condition, .. } | Write::Delete { condition, .. } => {
                    (*condition, write.key())
                }
            };
            let current = table.get(&key);
            let holds = match condition {
                Condition::Absent => current.is_none(),
                Condition::Present => current.is_some(),
                Condition::Version(v) => {
                    current
                        .map(|i| item::Reader::new(i).number(item::VERSION))
                        .transpose()?
                        == Some(v.get())
                }
            };
            if !holds {
                return Err(StoreError::Conflict {
                    order_id: id.to_string(),
                });
            }
        }
        for write in plan.writes {
            let key = write.key();
            match write {
                Write::Put { item, .. } => {
                    table.insert(key, item);
                }
                Write::Delete { .. } => {
                    table.remove(&key);
                }
            }
        }
        self.commits.fetch_add(1, Ordering::SeqCst);
        Ok(plan.version)
    }
}

impl OrderStore for MemoryOrderStore {
    async fn load(&self, id: &OrderId) -> Result<Option<(OrderState, Version)>, StoreError> {
        self.get(keys::order_pk(id), keys::SK_STATE.to_owned())
            .map(|i| item::read_head(&i))
            .transpose()
    }

    async fn fetch(&self, id: &OrderId, need: &Need) -> Result<Option<Fact>, StoreError> {
        let found = self.get(keys::order_pk(id), keys::need_sk(need));
        item::read_fact(need, found.as_ref())
    }

    async fn fetch_parked(
        &self,
        id: &OrderId,
        from: Seq,
        to: Seq,
    ) -> Result<Vec<Transaction>, StoreError> {
        let pk = keys::order_pk(id);
        let range = (pk.clone(), keys::parked_sk(from))..=(pk, keys::parked_sk(to));
        let items: Vec<Item> = self.lock().range(range).map(|(_, i)| i.clone()).collect();
        items.iter().map(item::read_parked).collect()
    }

    async fn commit(
        &self,
        id: &OrderId,
        expected: Option<Version>,
        step: &Step,
    ) -> Result<Version, StoreError> {
        let plan = plan::commit(id, expected, step, &plan::now())?;
        self.apply(id, plan)
    }
}

impl OrderReader for MemoryOrderStore {
    async fn list_orders(&self) -> Result<Vec<OrderState>, StoreError> {
        let heads: Vec<Item> = self
            .lock()
            .iter()
            .filter(|((pk, sk), _)| {
                keys::parse_order_pk(pk).is_some() && SortKey::parse(sk) == Some(SortKey::State)
            })
            .map(|(_, i)| i.clone())
            .collect();
        heads
            .iter()
            .map(|i| item::read_head(i).map(|(state, _)| state))
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
mod tests {
    use super::*;
    use convoy_core::sequencer::{process, Known};

    fn txns(lines: &[&str]) -> Vec<Transaction> {
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn oid() -> OrderId {
        OrderId::parse("A-1").unwrap()
    }

    fn first_step() -> Step {
        let t = txns(&[
            r#"{"order_id":"A-1","seq":1,"op":"create","currency":"EUR"}"#,
            r#"{"order_id":"A-1","seq":3,"op":"add","txn_id":"t2","amount":"2"}"#,
            r#"{"order_id":"A-1","seq":4,"op":"pay"}"#,
        ]);
        process(&OrderState::new(oid()), &Known::default(), &t, 99).unwrap()
    }

    #[tokio::test]
    async fn commits_are_conditional_and_all_or_nothing() {
        let store = MemoryOrderStore::new();
        let step = first_step();
        let v1 = store.commit(&oid(), None, &step).await.unwrap();
        assert_eq!(v1, Version::FIRST);
        let before = store.items();
        assert_eq!(before.len(), 4);
        // A second "new order" commit, or one from a stale version, writes nothing.
        let again = store.commit(&oid(), None, &step).await.unwrap_err();
        assert!(again.is_conflict(), "{again}");
        let stale = store.commit(&oid(), Some(Version::new(0)), &step).await;
        assert!(stale.unwrap_err().is_conflict());
        // Right version, but the history item at seq 1 exists already: nothing is written.
        let dup = store.commit(&oid(), Some(v1), &step).await.unwrap_err();
        assert!(dup.is_conflict(), "{dup}");
        assert_eq!(store.items(), before);
        assert_eq!(store.commits(), 1);
        assert_eq!(store.load(&oid()).await.unwrap(), Some((step.state, v1)));
    }

    #[tokio::test]
    async fn facts_parked_runs_and_whole_orders_read_back() {
        let store = MemoryOrderStore::new();
        let step = first_step();
        let v1 = store.commit(&oid(), None, &step).await.unwrap();
        let seq = |n| Seq::new(n).unwrap();
        let fact = store.fetch(&oid(), &Need::Processed(seq(1))).await.unwrap();
        assert!(matches!(fact, Some(Fact::Processed(s, _)) if s == seq(1)));
        assert_eq!(
            store.fetch(&oid(), &Need::Processed(seq(2))).await.unwrap(),
            None
        );
        let parked = store.fetch_parked(&oid(), seq(2), seq(9)).await.unwrap();
        assert_eq!(
            parked.iter().map(|t| t.seq.get()).collect::<Vec<_>>(),
            [3, 4]
        );
        let fp = parked[0].fingerprint();
        let fact = store
            .fetch(&oid(), &Need::Conflict(seq(3), fp.clone()))
            .await;
        assert_eq!(
            fact.unwrap(),
            Some(Fact::Conflict {
                seq: seq(3),
                fingerprint: fp,
                recorded: false
            })
        );

        // Closing the gap drains 3 and 4 and deletes their parked items.
        let mut known = Known::default();
        for t in parked {
            known.add_parked(t);
        }
        let t = txns(&[r#"{"order_id":"A-1","seq":2,"op":"add","txn_id":"t1","amount":"1"}"#]);
        let second = process(&step.state, &known, &t, 99).unwrap();
        store.commit(&oid(), Some(v1), &second).await.unwrap();
        let stored = store.load_stored_order(&oid()).await.unwrap().unwrap();
        assert_eq!(stored.processed.len(), 4);
        assert!(stored.parked.is_empty());
        assert_eq!(stored.state.status.as_str(), "paid");
        let listed = store.list_orders().await.unwrap();
        assert_eq!(listed, [stored.state]);
        let other = OrderId::parse("A-10").unwrap();
        assert!(store.load_stored_order(&other).await.unwrap().is_none());
    }
}
