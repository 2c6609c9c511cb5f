//! Order-store wrappers for the in-process consumer: [`Recording`] keeps every successful
//! commit with its time and resulting state. (A store in an `Arc` is itself a store, so a
//! test can keep a handle on the one it gave away.)

use convoy_core::sequencer::{Change, Need, Step};
use convoy_core::{OrderId, OrderState, Seq, Transaction};
use convoy_store::{Fact, Head, OrderStore, StoreError};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::time::Instant;

/// One successful commit.
#[derive(Debug, Clone)]
pub struct Commit {
    pub order_id: String,
    pub at: Instant,
    /// The order's state after the commit.
    pub state: OrderState,
    /// The `seq`s whose history entries the commit wrote (processed: applied or rejected).
    pub recorded: Vec<u64>,
}

/// Records the successful commits of the store it wraps.
pub struct Recording<S> {
    inner: Arc<S>,
    commits: Arc<Mutex<Vec<Commit>>>,
}

impl<S> Recording<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner: Arc::new(inner),
            commits: Arc::default(),
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The commits so far, in the order they succeeded.
    pub fn commits(&self) -> Vec<Commit> {
        self.lock().clone()
    }

    /// The commits of one order, in the order they succeeded.
    pub fn commits_of(&self, order_id: &str) -> Vec<Commit> {
        self.lock()
            .iter()
            .filter(|c| c.order_id == order_id)
            .cloned()
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Commit>> {
        lock(&self.commits)
    }
}

fn lock(commits: &Mutex<Vec<Commit>>) -> MutexGuard<'_, Vec<Commit>> {
    commits.lock().unwrap_or_else(|e| e.into_inner())
}

impl<S: OrderStore + Send + Sync + 'static> OrderStore for Recording<S> {
    async fn load(&self, id: &OrderId) -> Result<Option<Head>, StoreError> {
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
        // The request runs on a task of its own: when the caller is cancelled mid-request
        // (the consumer's deadline), it still completes and, if it succeeded, is recorded,
        // as a write the backend already took lands — the record stays the truth.
        let (inner, commits) = (self.inner.clone(), self.commits.clone());
        let order_id = id.to_string();
        let (id, step, base) = (id.clone(), step.clone(), base.cloned());
        let request = tokio::spawn(async move {
            let head = inner.commit(&id, base.as_ref(), &step).await?;
            lock(&commits).push(Commit {
                order_id: id.to_string(),
                at: Instant::now(),
                state: step.state.clone(),
                recorded: step
                    .changes
                    .iter()
                    .filter_map(|c| match c {
                        Change::Record(seq, _) => Some(seq.get()),
                        _ => None,
                    })
                    .collect(),
            });
            Ok(head)
        });
        match request.await {
            Ok(result) => result,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(e) => Err(StoreError::Backend {
                    operation: "commit",
                    order_id,
                    source: Box::new(e),
                }),
            },
        }
    }

    async fn record_failure(&self, failure: &convoy_store::Failure) -> Result<(), StoreError> {
        self.inner.record_failure(failure).await
    }
}
