//! `FailingStore`: a wrapper that injects faults into any store, for tests of the failure
//! paths (a backend error on commit, load or parked fetch, a lost optimistic-lock race, or
//! a transaction the backend refuses as invalid).

use crate::error::StoreError;
use crate::port::{Fact, Head, OrderReader, OrderStore};
use convoy_core::sequencer::{Change, Need, Step, StoredOrder};
use convoy_core::{OrderId, OrderState, Seq, Transaction};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The kinds of fault that can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// `commit` fails with a backend error and writes nothing.
    CommitFails,
    /// `commit` reports [`StoreError::Conflict`] and writes nothing, as if a concurrent
    /// writer had won.
    CommitConflicts,
    /// `load` fails with a backend error.
    LoadFails,
    /// `fetch_parked` (the read of a drain's parked transactions) fails with a backend error.
    FetchParkedFails,
    /// `commit` of a step that writes transaction `seq` (its history entry, its parked item
    /// or a conflict of it) is refused as invalid, [`StoreError::Refused`], permanent, as
    /// DynamoDB refuses an item over 400 KB. Commits of steps without it pass and do not
    /// count.
    CommitRefused { seq: u64 },
}

/// Faults of one kind for one order: after `skip` calls pass, `times` calls fail.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    skip: usize,
    times: usize,
}

/// Wraps a store; calls of a kind for an order fail as told.
#[derive(Debug, Default)]
pub struct FailingStore<S> {
    inner: S,
    faults: Mutex<HashMap<(OrderId, Fault), Pending>>,
}

impl<S> FailingStore<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            faults: Mutex::new(HashMap::new()),
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The next `times` calls of `fault`'s kind for order `id` fail.
    pub fn inject(&self, id: &OrderId, fault: Fault, times: usize) {
        self.inject_after(id, fault, 0, times);
    }

    /// After `skip` more calls of `fault`'s kind for order `id` pass, `times` calls fail
    /// (replacing what was pending for that order and kind).
    pub fn inject_after(&self, id: &OrderId, fault: Fault, skip: usize, times: usize) {
        self.lock()
            .insert((id.clone(), fault), Pending { skip, times });
    }

    /// Shorthand for [`Fault::CommitFails`].
    pub fn fail_commits(&self, id: &OrderId, times: usize) {
        self.inject(id, Fault::CommitFails, times);
    }

    /// Faults injected but not yet triggered.
    pub fn pending(&self, id: &OrderId, fault: Fault) -> usize {
        self.lock().get(&(id.clone(), fault)).map_or(0, |p| p.times)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(OrderId, Fault), Pending>> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn trigger(&self, id: &OrderId, fault: Fault) -> bool {
        let mut faults = self.lock();
        let Some(p) = faults.get_mut(&(id.clone(), fault)) else {
            return false;
        };
        if p.times == 0 {
            false
        } else if p.skip > 0 {
            p.skip -= 1;
            false
        } else {
            p.times -= 1;
            true
        }
    }
}

impl<S: OrderStore + Send> OrderStore for FailingStore<S> {
    async fn load(&self, id: &OrderId) -> Result<Option<Head>, StoreError> {
        if self.trigger(id, Fault::LoadFails) {
            return Err(StoreError::Injected {
                operation: "load",
                order_id: id.to_string(),
            });
        }
        self.inner.load(id).await
    }

    async fn fetch(&self, id: &OrderId, need: &Need) -> Result<Option<Fact>, StoreError> {
        self.inner.fetch(id, need).await
    }

    async fn fetch_parked(
        &self,
        id: &OrderId,
        from: Seq,
        to: Seq,
    ) -> Result<Vec<Transaction>, StoreError> {
        if self.trigger(id, Fault::FetchParkedFails) {
            return Err(StoreError::Injected {
                operation: "fetch_parked",
                order_id: id.to_string(),
            });
        }
        self.inner.fetch_parked(id, from, to).await
    }

    async fn take_receipt(&self) -> Result<u64, StoreError> {
        self.inner.take_receipt().await
    }

    async fn commit(
        &self,
        id: &OrderId,
        base: Option<&Head>,
        step: &Step,
    ) -> Result<Head, StoreError> {
        let refused = self.lock().keys().find_map(|(order, fault)| match fault {
            Fault::CommitRefused { seq } if order == id && writes(step, *seq) => Some(*fault),
            _ => None,
        });
        if let Some(fault) = refused.filter(|f| self.trigger(id, *f)) {
            return Err(StoreError::Refused {
                operation: "commit",
                order_id: id.to_string(),
                source: format!("injected: {fault:?} is refused as invalid").into(),
            });
        }
        if self.trigger(id, Fault::CommitFails) {
            return Err(StoreError::Injected {
                operation: "commit",
                order_id: id.to_string(),
            });
        }
        if self.trigger(id, Fault::CommitConflicts) {
            return Err(StoreError::Conflict {
                order_id: id.to_string(),
            });
        }
        self.inner.commit(id, base, step).await
    }

    async fn record_failure(&self, failure: &crate::port::Failure) -> Result<(), StoreError> {
        self.inner.record_failure(failure).await
    }
}

/// True when `step` writes an item of transaction `seq`.
fn writes(step: &Step, seq: u64) -> bool {
    step.changes.iter().any(|c| match c {
        Change::Record(s, _) | Change::Conflict(s, _) => s.get() == seq,
        Change::Park(t) => t.seq.get() == seq,
        Change::Unpark(_) => false,
    })
}

impl<S: OrderReader + Send> OrderReader for FailingStore<S> {
    async fn list_orders(&self) -> Result<Vec<OrderState>, StoreError> {
        self.inner.list_orders().await
    }

    async fn load_stored_order(&self, id: &OrderId) -> Result<Option<StoredOrder>, StoreError> {
        self.inner.load_stored_order(id).await
    }

    async fn last_failure(
        &self,
        id: &OrderId,
        message_id: &str,
    ) -> Result<Option<crate::port::Failure>, StoreError> {
        self.inner.last_failure(id, message_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryOrderStore, Version};
    use convoy_core::sequencer::{process, Known};

    #[tokio::test]
    async fn faults_fire_the_given_number_of_times_then_pass_through() {
        let id = OrderId::parse("A-1").unwrap();
        let txn: Transaction =
            serde_json::from_str(r#"{"order_id":"A-1","seq":1,"op":"create","currency":"EUR"}"#)
                .unwrap();
        let step = process(&OrderState::new(id.clone()), &Known::default(), &[txn], 99).unwrap();
        let store = FailingStore::new(MemoryOrderStore::new());
        store.fail_commits(&id, 1);
        store.inject(&id, Fault::CommitConflicts, 1);
        store.inject(&id, Fault::LoadFails, 1);
        let e = store.commit(&id, None, &step).await.unwrap_err();
        assert!(
            matches!(
                e,
                StoreError::Injected {
                    operation: "commit",
                    ..
                }
            ),
            "{e}"
        );
        assert!(store
            .commit(&id, None, &step)
            .await
            .unwrap_err()
            .is_conflict());
        assert_eq!(store.inner().commits(), 0);
        assert!(store.load(&id).await.is_err());
        assert_eq!(
            store.commit(&id, None, &step).await.unwrap().version,
            Version::FIRST
        );
        assert!(store.load(&id).await.unwrap().is_some());
        assert_eq!(store.pending(&id, Fault::CommitFails), 0);
        // One more commit passes, then one fails; the base is gone then: a conflict.
        store.inject_after(&id, Fault::CommitFails, 1, 1);
        let base = Head::after(&step, Version::FIRST, None);
        assert!(store.commit(&id, Some(&base), &step).await.is_ok());
        assert!(store
            .commit(&id, Some(&base), &step)
            .await
            .is_err_and(|e| !e.is_conflict()));
        assert!(store
            .commit(&id, Some(&base), &step)
            .await
            .is_err_and(|e| e.is_conflict()));
        assert_eq!(store.pending(&id, Fault::CommitFails), 0);
        store.inject(&id, Fault::FetchParkedFails, 1);
        assert!(store
            .fetch_parked(&id, Seq::FIRST, Seq::FIRST)
            .await
            .is_err_and(|e| !e.is_conflict()));
        assert_eq!(
            store
                .fetch_parked(&id, Seq::FIRST, Seq::FIRST)
                .await
                .unwrap(),
            []
        );
    }

    #[tokio::test]
    async fn a_refused_transaction_refuses_every_commit_writing_it_and_only_those() {
        let id = OrderId::parse("A-1").unwrap();
        let txn = |json: &str| serde_json::from_str::<Transaction>(json).unwrap();
        let create = txn(r#"{"order_id":"A-1","seq":1,"op":"create","currency":"EUR"}"#);
        let pay = txn(r#"{"order_id":"A-1","seq":2,"op":"pay"}"#);
        let state = OrderState::new(id.clone());
        let both = process(
            &state,
            &Known::default(),
            &[create.clone(), pay.clone()],
            99,
        )
        .unwrap();
        let first = process(&state, &Known::default(), &[create], 99).unwrap();
        let store = FailingStore::new(MemoryOrderStore::new());
        store.inject(&id, Fault::CommitRefused { seq: 2 }, 5);
        let e = store.commit(&id, None, &both).await.unwrap_err();
        assert!(e.is_permanent() && !e.is_transient(), "{e}");
        assert_eq!(
            store.commit(&id, None, &first).await.unwrap().version,
            Version::FIRST
        );
        let second = process(&first.state, &Known::default(), &[pay], 99).unwrap();
        assert!(store
            .commit(
                &id,
                Some(&Head::after(&first, Version::FIRST, None)),
                &second
            )
            .await
            .is_err_and(|e| e.is_permanent()));
        assert_eq!(store.pending(&id, Fault::CommitRefused { seq: 2 }), 3);
    }

    #[test]
    fn errors_are_permanent_transient_or_neither() {
        let injected = StoreError::Injected {
            operation: "commit",
            order_id: "A-1".into(),
        };
        let conflict = StoreError::Conflict {
            order_id: "A-1".into(),
        };
        let malformed = StoreError::Malformed {
            pk: "order#A-1".into(),
            sk: "state".into(),
            reason: "no version".into(),
        };
        assert!(injected.is_transient() && !injected.is_permanent());
        assert!(conflict.is_transient() && !conflict.is_permanent());
        assert!(!malformed.is_transient() && !malformed.is_permanent());
    }
}
