//! Faults for the fault-injection suite, as wrappers around a function or a port: each
//! decides from a seeded generator, so a run is repeatable up to the emulator's timing.
//!
//! - [`Crashing`]: the function dies after its work, before its response (nothing deleted).
//! - [`Twice`]: every batch is delivered to the function twice, at the same time.
//! - commit hooks for convoy-store's [`Hooked`](convoy_store::Hooked) store:
//!   [`CrashAfterDrainCommit`] (a drain's commit lands, then the invocation dies) or
//!   [`Delay`] (commits of chosen orders wait past the queue's visibility timeout, or the
//!   consumer's deadline).
//! - [`CrashingPublisher`]: the ledger function dies mid-file, after so many messages.
//! - [`PartlyFailing`]: `SendMessageBatch` fails some entries (retryably) and enqueues the
//!   rest, so a later transaction of an order can reach the queue before an earlier one.

use convoy_core::sequencer::{Change, Step};
use convoy_core::OrderId;
use convoy_local::function::{InvokeError, LambdaFunction};
use convoy_store::{CommitHook, StoreError};
use ledger::message::OutgoingMessage;
use ledger::ports::{EntryFailure, PublishError};
use ledger::TransactionPublisher;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// A seeded coin shared by concurrent callers.
#[derive(Debug)]
pub struct Coin {
    rng: Mutex<fastrand::Rng>,
    /// Chance of heads, in percent.
    percent: u8,
}

impl Coin {
    pub fn new(seed: u64, percent: u8) -> Self {
        Self {
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            percent,
        }
    }

    pub fn heads(&self) -> bool {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        rng.u8(0..100) < self.percent
    }
}

fn crash(function: &str, what: String) -> InvokeError {
    InvokeError::InProcess {
        function: function.to_owned(),
        message: what,
    }
}

/// Runs the function, then (on heads) fails the invocation anyway: its writes are made,
/// its response is lost, so the whole batch comes back after the visibility timeout.
pub struct Crashing<F> {
    pub inner: F,
    pub coin: Coin,
    pub crashes: AtomicU64,
    /// At most this many crashes (so a run ends even with an unlucky seed).
    pub limit: u64,
}

impl<F> Crashing<F> {
    pub fn new(inner: F, coin: Coin, limit: u64) -> Self {
        Self {
            inner,
            coin,
            crashes: AtomicU64::new(0),
            limit,
        }
    }
}

impl<F: LambdaFunction> LambdaFunction for Crashing<F> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn invoke(&self, event: Value) -> Result<Value, InvokeError> {
        let response = self.inner.invoke(event).await?;
        if self.coin.heads() && self.crashes.fetch_add(1, Ordering::SeqCst) < self.limit {
            return Err(crash(
                self.name(),
                "injected crash after the work, before the response".into(),
            ));
        }
        Ok(response)
    }
}

/// Delivers every batch twice at the same time (as two pollers that received the same
/// messages would); a record is reported failed if either invocation reports it.
pub struct Twice<F> {
    pub inner: F,
}

impl<F: LambdaFunction> LambdaFunction for Twice<F> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn invoke(&self, event: Value) -> Result<Value, InvokeError> {
        let (a, b) = futures::join!(self.inner.invoke(event.clone()), self.inner.invoke(event));
        let (a, b) = (a?, b?);
        let mut failed: Vec<Value> = Vec::new();
        let mut seen = HashSet::new();
        for response in [&a, &b] {
            let failures = response.get("batchItemFailures").and_then(Value::as_array);
            for f in failures.into_iter().flatten() {
                if seen.insert(f.to_string()) {
                    failed.push(f.clone());
                }
            }
        }
        Ok(serde_json::json!({ "batchItemFailures": failed }))
    }
}

/// The invocation crashes once one of the [`CrashPoint`] store's chosen commits has landed.
/// Wraps the consumer; give it the store's `crashed` counter.
pub struct CrashOnSignal<F> {
    pub inner: F,
    pub crashed: Arc<AtomicU64>,
}

impl<F: LambdaFunction> LambdaFunction for CrashOnSignal<F> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn invoke(&self, event: Value) -> Result<Value, InvokeError> {
        let before = self.crashed.load(Ordering::SeqCst);
        let response = self.inner.invoke(event).await?;
        if self.crashed.load(Ordering::SeqCst) != before {
            return Err(crash(
                self.name(),
                "injected crash after a commit, mid-batch".into(),
            ));
        }
        Ok(response)
    }
}

/// On heads, a commit that drains parked transactions lands, is then reported failed and
/// counted in `crashed` (for [`CrashOnSignal`] to crash the invocation): the write is
/// durable, the invocation that made it never returns a response.
pub struct CrashAfterDrainCommit {
    pub coin: Coin,
    pub crashed: Arc<AtomicU64>,
    pub limit: u64,
}

impl CommitHook for CrashAfterDrainCommit {
    fn after(&self, id: &OrderId, step: &Step) -> Option<StoreError> {
        let drains = step.changes.iter().any(|c| matches!(c, Change::Unpark(_)));
        if drains && self.coin.heads() && self.crashed.load(Ordering::SeqCst) < self.limit {
            self.crashed.fetch_add(1, Ordering::SeqCst);
            return Some(StoreError::Injected {
                operation: "commit (landed, then the invocation crashed)",
                order_id: id.to_string(),
            });
        }
        None
    }
}

/// Commits of chosen orders wait `delay` first: the first of each order, every one, or
/// every one that drains parked transactions.
pub struct Delay {
    pub orders: HashSet<String>,
    pub delay: Duration,
    which: Which,
    delayed: Mutex<HashSet<String>>,
    pub slowed: AtomicUsize,
}

enum Which {
    First,
    Every,
    Drains,
}

impl Delay {
    fn new(orders: HashSet<String>, delay: Duration, which: Which) -> Self {
        Self {
            orders,
            delay,
            which,
            delayed: Mutex::new(HashSet::new()),
            slowed: AtomicUsize::new(0),
        }
    }

    /// The first commit of each chosen order waits.
    pub fn first_commit(orders: HashSet<String>, delay: Duration) -> Self {
        Self::new(orders, delay, Which::First)
    }

    /// Every commit of the chosen orders waits.
    pub fn every_commit(orders: HashSet<String>, delay: Duration) -> Self {
        Self::new(orders, delay, Which::Every)
    }

    /// Every commit of the chosen orders that unparks a transaction waits.
    pub fn drain_commits(orders: HashSet<String>, delay: Duration) -> Self {
        Self::new(orders, delay, Which::Drains)
    }
}

impl CommitHook for Delay {
    async fn before(&self, id: &OrderId, step: &Step) {
        let chosen = self.orders.contains(id.as_str())
            && match self.which {
                Which::Every => true,
                Which::Drains => step.changes.iter().any(|c| matches!(c, Change::Unpark(_))),
                Which::First => self
                    .delayed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id.to_string()),
            };
        if chosen {
            self.slowed.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
        }
    }
}

/// Sends like the publisher it wraps until `after` entries are accepted; then, on its
/// first life only, signals `crashed` and never returns (the function wrapping it in
/// [`CrashOnNotify`] drops the invocation there, mid-file).
pub struct CrashingPublisher<P> {
    pub inner: P,
    pub after: usize,
    pub sent: AtomicUsize,
    pub crashed: Arc<Notify>,
    pub lives: AtomicUsize,
}

impl<P: TransactionPublisher> TransactionPublisher for CrashingPublisher<P> {
    async fn send_batch(
        &self,
        batch: &[OutgoingMessage],
    ) -> Result<Vec<EntryFailure>, PublishError> {
        if self.lives.load(Ordering::SeqCst) == 0
            && self.sent.fetch_add(batch.len(), Ordering::SeqCst) >= self.after
        {
            self.lives.store(1, Ordering::SeqCst);
            self.crashed.notify_one();
            std::future::pending::<()>().await;
        }
        self.inner.send_batch(batch).await
    }
}

/// Each `SendMessageBatch` takes `delay` longer: a slow queue.
pub struct SlowPublisher<P> {
    pub inner: P,
    pub delay: Duration,
}

impl<P: TransactionPublisher> TransactionPublisher for SlowPublisher<P> {
    async fn send_batch(
        &self,
        batch: &[OutgoingMessage],
    ) -> Result<Vec<EntryFailure>, PublishError> {
        tokio::time::sleep(self.delay).await;
        self.inner.send_batch(batch).await
    }
}

/// Fails, retryably, each entry that has a later entry of its group in the same batch, on
/// heads of `coin`, at most `max_per_line` times per line (within the ledger function's
/// attempts); sends the rest through `inner`, as SQS enqueues the entries of a partly failed
/// batch. `overtaken` counts the failed entries whose later ones were sent without them.
pub struct PartlyFailing<P> {
    pub inner: P,
    pub coin: Coin,
    pub max_per_line: u32,
    pub failures: Mutex<BTreeMap<u64, u32>>,
    pub overtaken: Arc<AtomicU64>,
}

impl<P> PartlyFailing<P> {
    pub fn new(inner: P, coin: Coin, max_per_line: u32) -> Self {
        Self {
            inner,
            coin,
            max_per_line,
            failures: Mutex::new(BTreeMap::new()),
            overtaken: Arc::new(AtomicU64::new(0)),
        }
    }

    fn fails(&self, batch: &[OutgoingMessage], index: usize) -> bool {
        let m = &batch[index];
        let has_later = batch[index + 1..].iter().any(|n| n.group_id == m.group_id);
        if !has_later || !self.coin.heads() {
            return false;
        }
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(m.line).or_default();
        *count += 1;
        *count <= self.max_per_line
    }
}

impl<P: TransactionPublisher> TransactionPublisher for PartlyFailing<P> {
    async fn send_batch(
        &self,
        batch: &[OutgoingMessage],
    ) -> Result<Vec<EntryFailure>, PublishError> {
        let failed: Vec<usize> = (0..batch.len()).filter(|&i| self.fails(batch, i)).collect();
        let sent: Vec<usize> = (0..batch.len()).filter(|i| !failed.contains(i)).collect();
        let subset: Vec<OutgoingMessage> = sent.iter().map(|&i| batch[i].clone()).collect();
        let mut entries = if subset.is_empty() {
            Vec::new()
        } else {
            self.inner.send_batch(&subset).await?
        };
        for e in &mut entries {
            e.index = sent[e.index];
        }
        for &index in &failed {
            let group = &batch[index].group_id;
            if sent
                .iter()
                .any(|&i| i > index && batch[i].group_id == *group)
            {
                self.overtaken.fetch_add(1, Ordering::SeqCst);
            }
            entries.push(EntryFailure {
                index,
                sender_fault: false,
                code: "InternalError".into(),
                message: "injected: this entry was not enqueued, the rest of the batch was".into(),
            });
        }
        Ok(entries)
    }
}

/// Drops the invocation (a crash: nothing after it runs, no response) when `crashed` is
/// notified.
pub struct CrashOnNotify<F> {
    pub inner: F,
    pub crashed: Arc<Notify>,
}

impl<F: LambdaFunction> LambdaFunction for CrashOnNotify<F> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn invoke(&self, event: Value) -> Result<Value, InvokeError> {
        tokio::select! {
            response = self.inner.invoke(event) => response,
            () = self.crashed.notified() => Err(crash(self.name(), "injected crash mid-file".into())),
        }
    }
}

/// A drain queue that counts the resume messages sent through it, by order.
pub struct CountingResumes<Q> {
    pub inner: Q,
    /// Shared, so the test keeps it while the consumer owns the queue.
    pub sent: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl<Q> CountingResumes<Q> {
    pub fn new(inner: Q) -> Self {
        Self {
            inner,
            sent: Arc::default(),
        }
    }
}

impl<Q: consumer::resume::DrainQueue> consumer::resume::DrainQueue for CountingResumes<Q> {
    async fn resume(
        &self,
        resume: &consumer::resume::Resume,
    ) -> Result<(), consumer::resume::ResumeError> {
        self.inner.resume(resume).await?;
        *self
            .sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(resume.resume_drain.to_string())
            .or_default() += 1;
        Ok(())
    }
}
