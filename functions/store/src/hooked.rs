//! `Hooked`: a wrapper that runs a [`CommitHook`] around every commit of the store it
//! wraps (to delay commits, or to report a commit that landed as failed); every other call
//! goes straight through.

use crate::error::StoreError;
use crate::port::{Fact, Head, OrderStore};
use convoy_core::sequencer::{Need, Step};
use convoy_core::{OrderId, Seq, Transaction};
use std::future::Future;

/// What a [`Hooked`] store does around each commit.
pub trait CommitHook: Send + Sync {
    /// Before the commit is made (it may wait).
    fn before(&self, _id: &OrderId, _step: &Step) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// After the commit landed: an error to report instead of its success.
    fn after(&self, _id: &OrderId, _step: &Step) -> Option<StoreError> {
        None
    }
}

/// An order store whose commits go through `hook`; everything else goes straight through.
pub struct Hooked<S, H> {
    pub inner: S,
    pub hook: H,
}

impl<S: OrderStore + Send + Sync, H: CommitHook> OrderStore for Hooked<S, H> {
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
        self.hook.before(id, step).await;
        let head = self.inner.commit(id, base, step).await?;
        match self.hook.after(id, step) {
            Some(e) => Err(e),
            None => Ok(head),
        }
    }

    async fn record_failure(&self, failure: &crate::port::Failure) -> Result<(), StoreError> {
        self.inner.record_failure(failure).await
    }
}
