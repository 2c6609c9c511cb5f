//! The pure send scheduler: which messages go into the next `SendMessageBatch`, and what a
//! batch's result means — per-group order, one batch in flight per group, bounded retries.
//!
//! No AWS and no clock in here: the caller passes `now` (time since it started sending) and
//! reports each batch's per-entry failures back. The rules:
//! - a group is picked only when it has no batch in flight, and then its first unsent
//!   messages go, in order, as many as the batch has room for: a batch is runs of
//!   consecutive messages of its groups, one run per group (SQS enqueues a FIFO batch's
//!   messages in the order sent), so one order's ledger lines go ten to a call;
//! - at most `max_in_flight` batches in flight, at most `max_batch` entries each;
//! - a retryable entry failure puts the message back at the head of its group (several in
//!   their order), due after an exponential backoff with jitter; after `max_attempts`
//!   attempts the scheduler gives up;
//! - a non-retryable failure (SQS `SenderFault`) resolves the message as refused.
//!
//! So a partial failure can let a later message of a group reach the queue before an
//! earlier one of the same batch: the consumer's sequencer parks it by its `seq` until the
//! retried one arrives. What the scheduler keeps is that a group is never in two batches
//! at once, and a batch's run of a group is always the group's first unsent messages in
//! their order: nothing is overtaken except by a message sent with the one that failed.
//!
//! Groups are picked oldest head first, so the oldest waiting message goes out first.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

#[cfg(test)]
mod tests;

/// What the scheduler needs to know about a message: its group (SQS `MessageGroupId`).
pub trait Grouped {
    fn group(&self) -> &str;
}

/// Exponential backoff with jitter for retried entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry (before jitter).
    pub base: Duration,
    /// Upper bound of the delay (before jitter).
    pub cap: Duration,
    /// Attempts per message, the first send included; then the scheduler gives up.
    pub max_attempts: u32,
}

impl Backoff {
    /// The delay before attempt `attempts + 1`, after `attempts` failed ones: "equal jitter",
    /// a random point in the upper half of `min(cap, base * 2^(attempts-1))`.
    fn delay(&self, attempts: u32, rng: &mut fastrand::Rng) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        let full = self.base.saturating_mul(1u32 << exp).min(self.cap);
        let half = full / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rng.u64(0..=jitter_ms))
    }
}

/// How the scheduler batches and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerOptions {
    /// Batches in flight at once (never two holding the same group).
    pub max_in_flight: usize,
    /// Entries per batch (SQS allows at most 10).
    pub max_batch: usize,
    pub backoff: Backoff,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            max_in_flight: 8,
            max_batch: 10,
            backoff: Backoff {
                base: Duration::from_millis(100),
                cap: Duration::from_secs(5),
                max_attempts: 8,
            },
        }
    }
}

/// Identifies a batch handed out by [`Scheduler::next_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchId(u64);

/// A batch to send: its entries in order (one run of consecutive messages per group).
#[derive(Debug)]
pub struct Batch<T> {
    pub id: BatchId,
    pub items: Vec<T>,
}

/// The failure of one entry of a batch, by its index in [`Batch::items`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub index: usize,
    /// `false` for failures that no retry can fix (SQS `SenderFault`).
    pub retryable: bool,
    pub reason: String,
}

/// A message the scheduler stopped retrying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaveUp<T> {
    pub item: T,
    pub attempts: u32,
    pub reason: String,
}

/// What a completed batch resolved.
#[derive(Debug)]
pub struct Completed<T> {
    /// Messages SQS accepted, in batch order.
    pub delivered: Vec<T>,
    /// Messages refused for good (non-retryable failure), with the reason.
    pub refused: Vec<(T, String)>,
    /// Set when a message ran out of attempts: sending cannot finish.
    pub gave_up: Option<GaveUp<T>>,
}

#[derive(Debug)]
struct Queued<T> {
    /// Arrival number: orders groups by their oldest waiting message.
    no: u64,
    /// Attempts already made.
    attempts: u32,
    item: T,
}

#[derive(Debug)]
struct GroupState<T> {
    queue: VecDeque<Queued<T>>,
    in_flight: bool,
}

/// The scheduler. `T` is the message; the scheduler owns waiting and in-flight messages.
#[derive(Debug)]
pub struct Scheduler<T> {
    options: SchedulerOptions,
    groups: HashMap<String, GroupState<T>>,
    /// Groups that can send now: (head's arrival number, group).
    ready: BTreeSet<(u64, String)>,
    /// Groups whose head waits for a retry: (due, head's arrival number, group).
    backing_off: BTreeSet<(Duration, u64, String)>,
    in_flight: HashMap<BatchId, Vec<Queued<T>>>,
    waiting: usize,
    next_no: u64,
    next_batch: u64,
    rng: fastrand::Rng,
}

impl<T: Grouped> Scheduler<T> {
    /// A scheduler whose jitter comes from `seed` (so tests are reproducible).
    pub fn new(options: SchedulerOptions, seed: u64) -> Self {
        Self {
            options: SchedulerOptions {
                max_in_flight: options.max_in_flight.max(1),
                max_batch: options.max_batch.clamp(1, 10),
                backoff: options.backoff,
            },
            groups: HashMap::new(),
            ready: BTreeSet::new(),
            backing_off: BTreeSet::new(),
            in_flight: HashMap::new(),
            waiting: 0,
            next_no: 0,
            next_batch: 0,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Queues a message after every earlier one of its group.
    pub fn push(&mut self, item: T) {
        let no = self.next_no;
        self.next_no += 1;
        self.waiting += 1;
        let group = item.group().to_owned();
        let state = self
            .groups
            .entry(group.clone())
            .or_insert_with(|| GroupState {
                queue: VecDeque::new(),
                in_flight: false,
            });
        let was_empty = state.queue.is_empty();
        state.queue.push_back(Queued {
            no,
            attempts: 0,
            item,
        });
        if was_empty && !state.in_flight {
            // A group that is not in flight and had nothing waiting has no backoff either.
            self.ready.insert((no, group));
        }
    }

    /// Messages waiting to be sent (not in flight).
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Batches in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Nothing waiting and nothing in flight.
    pub fn is_idle(&self) -> bool {
        self.waiting == 0 && self.in_flight.is_empty()
    }

    /// When the earliest backing-off group becomes due, if any.
    pub fn next_wake(&self) -> Option<Duration> {
        self.backing_off.first().map(|(due, _, _)| *due)
    }

    /// The next batch to send at `now`, if a slot is free and some group can send.
    pub fn next_batch(&mut self, now: Duration) -> Option<Batch<T>>
    where
        T: Clone,
    {
        if self.in_flight.len() >= self.options.max_in_flight {
            return None;
        }
        while let Some((due, no, group)) = self.backing_off.first().cloned() {
            if due > now {
                break;
            }
            self.backing_off.remove(&(due, no, group.clone()));
            self.ready.insert((no, group));
        }
        let mut taken = Vec::new();
        while taken.len() < self.options.max_batch {
            let Some((_, group)) = self.ready.pop_first() else {
                break;
            };
            let Some(state) = self.groups.get_mut(&group) else {
                continue;
            };
            let run = state.queue.len().min(self.options.max_batch - taken.len());
            if run > 0 {
                state.in_flight = true;
                self.waiting -= run;
                taken.extend(state.queue.drain(..run));
            }
        }
        if taken.is_empty() {
            return None;
        }
        let id = BatchId(self.next_batch);
        self.next_batch += 1;
        let items = taken.iter().map(|q| q.item.clone()).collect();
        self.in_flight.insert(id, taken);
        Some(Batch { id, items })
    }

    /// Records the result of batch `id` at `now`: every entry not in `failures` was delivered.
    pub fn complete(&mut self, id: BatchId, failures: &[Failure], now: Duration) -> Completed<T> {
        let mut done = Completed {
            delivered: Vec::new(),
            refused: Vec::new(),
            gave_up: None,
        };
        let Some(entries) = self.in_flight.remove(&id) else {
            return done;
        };
        // Per group of the batch, in batch order: the entries to send again, and when.
        let mut groups: Vec<(String, Vec<Queued<T>>, Option<Duration>)> = Vec::new();
        for (index, mut entry) in entries.into_iter().enumerate() {
            let group = entry.item.group().to_owned();
            if groups.last().is_none_or(|(g, _, _)| *g != group) {
                groups.push((group, Vec::new(), None));
            }
            let Some((_, retry, due)) = groups.last_mut() else {
                continue;
            };
            match failures.iter().find(|f| f.index == index) {
                None => done.delivered.push(entry.item),
                Some(f) if !f.retryable => done.refused.push((entry.item, f.reason.clone())),
                Some(f) => {
                    entry.attempts += 1;
                    if entry.attempts >= self.options.backoff.max_attempts {
                        done.gave_up.get_or_insert(GaveUp {
                            item: entry.item,
                            attempts: entry.attempts,
                            reason: f.reason.clone(),
                        });
                    } else {
                        let at = now + self.options.backoff.delay(entry.attempts, &mut self.rng);
                        *due = Some(due.map_or(at, |d: Duration| d.max(at)));
                        retry.push(entry);
                    }
                }
            }
        }
        for (group, retry, due) in groups {
            if let Some(state) = self.groups.get_mut(&group) {
                // They were the group's first messages when sent; they are again.
                self.waiting += retry.len();
                for entry in retry.into_iter().rev() {
                    state.queue.push_front(entry);
                }
            }
            self.release(group, due);
        }
        done
    }

    /// Marks `group` as no longer in flight and files it where it now belongs.
    fn release(&mut self, group: String, retry_at: Option<Duration>) {
        let Some(state) = self.groups.get_mut(&group) else {
            return;
        };
        state.in_flight = false;
        match (state.queue.front().map(|q| q.no), retry_at) {
            (None, _) => {
                self.groups.remove(&group);
            }
            (Some(no), Some(due)) => {
                self.backing_off.insert((due, no, group));
            }
            (Some(no), None) => {
                self.ready.insert((no, group));
            }
        }
    }
}
