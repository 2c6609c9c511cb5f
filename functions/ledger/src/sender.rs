//! Drives the [`Scheduler`] against a [`TransactionPublisher`]: takes messages from a
//! bounded channel, keeps up to `max_in_flight` batches in flight, feeds results back.
//!
//! It stops taking messages while `window` of them wait, so the channel fills up and the
//! decoder waits: memory stays bounded however long the ledger is.
//!
//! A call that fails as a whole is retried like its entries failing one by one, if the
//! failure may pass (throttling, 5xx, a timeout): each entry is backed off, counts an
//! attempt and stays first in its group, until `max_attempts` — or the handler's deadline,
//! which stops the pipeline — ends it. A permanent one (access denied, no such queue)
//! stops sending at once.

use crate::message::OutgoingMessage;
use crate::ports::{EntryFailure, PublishError, TransactionPublisher};
use crate::rejects::excerpt;
use crate::scheduler::{Failure, Scheduler, SchedulerOptions};
use futures::stream::{FuturesUnordered, StreamExt};
use ledger_format::LineError;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc::{error::TryRecvError, Receiver};
use tokio::time::Instant;

/// How the sender batches, retries and buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderOptions {
    pub scheduler: SchedulerOptions,
    /// Messages held waiting in the scheduler at most.
    pub window: usize,
}

impl Default for SenderOptions {
    fn default() -> Self {
        Self {
            scheduler: SchedulerOptions::default(),
            window: 2_000,
        }
    }
}

/// Sending could not finish.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// A call failed in a way no retry can fix (access denied, no such queue, …).
    #[error("sending to the transactions queue failed")]
    Publish(#[source] PublishError),
    /// Calls holding this line kept failing as a whole (throttled, 5xx, timeouts).
    #[error(
        "line {line}: the transactions queue did not accept the transaction after {attempts} attempts"
    )]
    CallsFailed {
        line: u64,
        attempts: u32,
        #[source]
        source: PublishError,
    },
    #[error(
        "line {line}: the transactions queue did not accept the transaction after {attempts} attempts: {reason}"
    )]
    GaveUp {
        line: u64,
        attempts: u32,
        reason: String,
    },
    #[error("the sender stalled with {waiting} messages waiting and none in flight")]
    Stalled { waiting: usize },
}

/// The last transient failure the sender met and retried (a call throttled or failed with
/// a 5xx or a timeout, or an entry failed but not at its own fault), kept outside the
/// pipeline: a caller that stops the pipeline at a deadline can still say why it was slow.
#[derive(Debug, Default)]
pub struct LastRetried(std::sync::Mutex<Option<String>>);

impl LastRetried {
    fn note(&self, cause: String) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(cause);
    }

    /// The last transient failure, as its error chain.
    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `publisher`, noting here each failure the sender will retry (see [`failures_of`]).
    pub fn watch<'a, P>(&'a self, publisher: &'a P) -> Watched<'a, P> {
        Watched {
            publisher,
            last: self,
        }
    }
}

/// A publisher whose transient failures are noted in a [`LastRetried`].
pub struct Watched<'a, P> {
    publisher: &'a P,
    last: &'a LastRetried,
}

impl<P: TransactionPublisher> TransactionPublisher for Watched<'_, P> {
    async fn send_batch(
        &self,
        batch: &[OutgoingMessage],
    ) -> Result<Vec<EntryFailure>, PublishError> {
        let result = self.publisher.send_batch(batch).await;
        match &result {
            Err(e) if e.retryable => self.last.note(convoy_core::chain(e)),
            Ok(entries) => {
                if let Some(f) = entries.iter().rev().find(|f| !f.sender_fault) {
                    self.last.note(format!("{}: {}", f.code, f.message));
                }
            }
            Err(_) => {}
        }
        result
    }
}

/// Sends every message received on `rx` until it closes and all are resolved; counts each
/// accepted message in `sent`. Returns the messages SQS refused for good, as refused lines.
pub async fn send_all<P: TransactionPublisher>(
    publisher: &P,
    mut rx: Receiver<OutgoingMessage>,
    options: SenderOptions,
    sent: &AtomicU64,
) -> Result<Vec<LineError>, SendError> {
    let mut scheduler = Scheduler::new(options.scheduler, fastrand::u64(..));
    let start = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let mut open = true;
    let mut refused = Vec::new();
    loop {
        while open && scheduler.waiting() < options.window {
            match rx.try_recv() {
                Ok(m) => scheduler.push(m),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => open = false,
            }
        }
        while let Some(batch) = scheduler.next_batch(start.elapsed()) {
            in_flight.push(async move {
                let result = publisher.send_batch(&batch.items).await;
                (batch, result)
            });
        }
        if !open && scheduler.is_idle() {
            return Ok(refused);
        }
        let wake = scheduler.next_wake().map(|after| start + after);
        let room = open && scheduler.waiting() < options.window;
        tokio::select! {
            Some((batch, result)) = in_flight.next(), if !in_flight.is_empty() => {
                let (failures, call_error) = failures_of(&batch.items, result)?;
                let done = scheduler.complete(batch.id, &failures, start.elapsed());
                sent.fetch_add(done.delivered.len() as u64, Ordering::Relaxed);
                for (m, reason) in done.refused {
                    refused.push(LineError {
                        line: m.line,
                        field: None,
                        reason: format!("the transactions queue refused the transaction: {reason}"),
                        text: excerpt(&m.body),
                    });
                }
                if let Some(g) = done.gave_up {
                    let (line, attempts) = (g.item.line, g.attempts);
                    let err = match call_error {
                        Some(source) => SendError::CallsFailed { line, attempts, source },
                        None => SendError::GaveUp { line, attempts, reason: g.reason },
                    };
                    tracing::error!(order_id = %g.item.group_id, line, attempts,
                        error = %convoy_core::chain(&err), "gave up sending a transaction");
                    return Err(err);
                }
            }
            m = rx.recv(), if room => match m {
                Some(m) => scheduler.push(m),
                None => open = false,
            },
            _ = tokio::time::sleep_until(wake.unwrap_or(start)), if wake.is_some() => {}
            else => return Err(SendError::Stalled { waiting: scheduler.waiting() }),
        }
    }
}

/// What the result of a call means for each of its entries. A retryable whole-call failure
/// fails every entry retryably (the scheduler backs each off and counts an attempt; each
/// stays first in its group), and is returned to name the cause if the retries run out.
/// A permanent one stops sending.
fn failures_of(
    items: &[OutgoingMessage],
    result: Result<Vec<EntryFailure>, PublishError>,
) -> Result<(Vec<Failure>, Option<PublishError>), SendError> {
    let first_line = items.iter().map(|m| m.line).min();
    match result {
        Ok(entries) => {
            let failures: Vec<Failure> = entries
                .into_iter()
                .map(|f| Failure {
                    index: f.index,
                    retryable: !f.sender_fault,
                    reason: format!("{}: {}", f.code, f.message),
                })
                .collect();
            for f in &failures {
                if let Some(m) = items.get(f.index) {
                    tracing::warn!(order_id = %m.group_id, line = m.line, retryable = f.retryable,
                        reason = %f.reason, "transactions queue refused an entry");
                }
            }
            Ok((failures, None))
        }
        Err(e) if e.retryable => {
            let reason = convoy_core::chain(&e);
            tracing::warn!(entries = items.len(), first_line, error = %reason,
                "SendMessageBatch failed as a whole; its entries are backed off");
            let failures = (0..items.len())
                .map(|index| Failure {
                    index,
                    retryable: true,
                    reason: reason.clone(),
                })
                .collect();
            Ok((failures, Some(e)))
        }
        Err(e) => {
            tracing::error!(entries = items.len(), first_line, error = %convoy_core::chain(&e),
                "SendMessageBatch failed for good; sending stops");
            Err(SendError::Publish(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryPublisher;
    use crate::scheduler::Backoff;
    use convoy_core::Transaction;
    use std::collections::{HashMap, HashSet};
    use std::sync::Arc;
    use std::time::Duration;

    fn message(order: &str, seq: u64) -> OutgoingMessage {
        let txn: Transaction =
            serde_json::from_value(serde_json::json!({"order_id": order, "seq": seq, "op": "pay"}))
                .unwrap();
        OutgoingMessage::new(&Arc::from("ledgers/x.jsonl"), seq, &txn).unwrap()
    }

    fn options(max_attempts: u32) -> SenderOptions {
        SenderOptions {
            scheduler: SchedulerOptions {
                max_in_flight: 8,
                max_batch: 10,
                backoff: Backoff {
                    base: Duration::from_millis(100),
                    cap: Duration::from_secs(2),
                    max_attempts,
                },
            },
            window: 64,
        }
    }

    /// Every call takes an hour.
    struct Slow;
    impl TransactionPublisher for Slow {
        async fn send_batch(
            &self,
            _batch: &[OutgoingMessage],
        ) -> Result<Vec<EntryFailure>, PublishError> {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(Vec::new())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_queue_holds_the_producer_back() {
        let options = SenderOptions {
            window: 50,
            ..SenderOptions::default()
        };
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let produced = AtomicU64::new(0);
        let sent = AtomicU64::new(0);
        let produce = async {
            for seq in 1..=10_000 {
                tx.send(message("one-order", seq)).await.unwrap();
                produced.fetch_add(1, Ordering::Relaxed);
            }
        };
        let send = send_all(&Slow, rx, options, &sent);
        tokio::select! {
            _ = produce => panic!("the producer was never held back"),
            _ = send => panic!("the sender finished early"),
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        // One batch of ten in flight (one group), `window` waiting, the channel full, one
        // being sent.
        let held = produced.load(Ordering::Relaxed);
        assert!(held <= 10 + 50 + 8 + 1, "{held} messages taken in");
        assert_eq!(sent.load(Ordering::Relaxed), 0);
    }

    fn throttled() -> PublishError {
        PublishError::transient("RequestThrottled: rate exceeded")
    }

    fn denied() -> PublishError {
        PublishError::permanent("AccessDenied: not authorized to send")
    }

    /// Sends `messages` through `publisher`; returns the result and the messages accepted.
    async fn send(
        publisher: &MemoryPublisher,
        messages: Vec<OutgoingMessage>,
        options: SenderOptions,
    ) -> (Result<Vec<LineError>, SendError>, u64) {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let sent = AtomicU64::new(0);
        let produce = async move {
            for m in messages {
                if tx.send(m).await.is_err() {
                    break; // the sender stopped: its result says why
                }
            }
        };
        let (result, ()) = tokio::join!(send_all(publisher, rx, options, &sent), produce);
        (result, sent.load(Ordering::Relaxed))
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_calls_are_retried_and_every_transaction_is_sent_once_in_order() {
        // 12 orders, 20 transactions each, interleaved: calls hold up to 10 groups.
        let messages: Vec<OutgoingMessage> = (1..=20)
            .flat_map(|seq| (0..12).map(move |o| message(&format!("order-{o}"), seq)))
            .collect();
        let total = messages.len();
        // The first four calls fail as a whole: within the five attempts allowed.
        let publisher =
            MemoryPublisher::new().failing_calls(Box::new(|call| (call <= 4).then(throttled)));
        let (result, sent) = send(&publisher, messages, options(5)).await;
        let refused = result.map_err(|e| convoy_core::chain(&e)).unwrap();
        assert!(refused.is_empty());
        let accepted = publisher.accepted();
        assert_eq!((sent as usize, accepted.len()), (total, total));
        let mut seen = HashSet::new();
        let mut next: HashMap<String, u64> = HashMap::new();
        for m in &accepted {
            assert!(
                seen.insert((m.group_id.clone(), m.line)),
                "{} line {} twice",
                m.group_id,
                m.line
            );
            let want = next.entry(m.group_id.clone()).or_insert(1);
            assert_eq!(m.line, *want, "{} out of order", m.group_id);
            *want += 1;
        }
        assert_eq!(publisher.log.lock().unwrap().failed_calls, 4);
    }

    /// `count` transactions of `orders` orders: order `i % orders` gets the `i`-th line.
    fn mix(orders: usize, count: usize) -> Vec<OutgoingMessage> {
        let mut seqs = vec![0; orders];
        (0..count)
            .map(|i| {
                seqs[i % orders] += 1;
                message(&format!("order-{}", i % orders), seqs[i % orders])
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn send_requests_stay_near_a_tenth_of_the_transactions_for_any_order_mix() {
        // One order; three; a thousand of two each; one of 1,500 among 500 of one each.
        let mut big_and_small = mix(1, 1_500);
        big_and_small.extend(mix(500, 500).into_iter().map(|mut m| {
            m.group_id = format!("small-{}", m.group_id);
            m
        }));
        fastrand::Rng::with_seed(5).shuffle(&mut big_and_small);
        let mixes = [
            ("one order", mix(1, 2_000)),
            ("three orders", mix(3, 2_000)),
            ("1,000 orders", mix(1_000, 2_000)),
            ("one big order among small ones", big_and_small),
        ];
        for (name, messages) in mixes {
            let total = messages.len();
            let publisher = MemoryPublisher::new();
            let (result, sent) = send(&publisher, messages, SenderOptions::default()).await;
            assert!(result.unwrap().is_empty());
            assert_eq!(sent as usize, total);
            let calls = publisher.log.lock().unwrap().calls;
            let per_txn = calls as f64 / total as f64;
            println!(
                "{name}: {calls} calls for {total} transactions, {per_txn:.3} per transaction"
            );
            assert!(
                per_txn <= 0.11,
                "{name}: {per_txn:.3} calls per transaction"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_keeps_failing_stops_sending_after_the_attempts_with_its_cause() {
        let publisher = MemoryPublisher::new().failing_calls(Box::new(|_| Some(throttled())));
        let started = Instant::now();
        let messages = vec![message("a", 1), message("a", 2)];
        let (result, sent) = send(&publisher, messages, options(5)).await;
        let err = result.unwrap_err();
        assert!(
            matches!(
                err,
                SendError::CallsFailed {
                    line: 1,
                    attempts: 5,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            convoy_core::chain(&err),
            "line 1: the transactions queue did not accept the transaction after 5 attempts: \
             SendMessageBatch failed: RequestThrottled: rate exceeded"
        );
        assert_eq!(sent, 0);
        let log = publisher.log.lock().unwrap();
        assert_eq!(
            (log.calls, log.failed_calls),
            (5, 5),
            "line 2 never overtook line 1"
        );
        // Backed off between attempts: at least half of 100 + 200 + 400 + 800 ms.
        assert!(
            started.elapsed() >= Duration::from_millis(750),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_permanent_call_failure_stops_sending_at_once_with_its_cause() {
        let publisher = MemoryPublisher::new().failing_calls(Box::new(|_| Some(denied())));
        let (result, sent) = send(&publisher, vec![message("a", 1)], options(5)).await;
        let err = result.unwrap_err();
        assert!(matches!(err, SendError::Publish(_)), "{err:?}");
        assert_eq!(
            convoy_core::chain(&err),
            "sending to the transactions queue failed: SendMessageBatch failed: \
             AccessDenied: not authorized to send"
        );
        assert_eq!((sent, publisher.log.lock().unwrap().calls), (0, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_calls_are_retried_with_backoff_until_the_deadline_stops_them() {
        // The handler stops the pipeline at its deadline; the retries go on until then.
        let publisher = MemoryPublisher::new().failing_calls(Box::new(|_| Some(throttled())));
        let send = send(&publisher, vec![message("a", 1)], options(u32::MAX));
        let stopped = tokio::time::timeout(Duration::from_secs(60), send).await;
        assert!(stopped.is_err(), "still retrying at the deadline");
        let log = publisher.log.lock().unwrap();
        // Backoff capped at 2 s with equal jitter: a retry every 1–2 s, not a busy loop.
        assert!((30..=65).contains(&log.calls), "{} calls", log.calls);
        assert!(log.accepted.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_to_send_finishes_at_once() {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        drop(tx);
        let sent = AtomicU64::new(0);
        let refused = send_all(&Slow, rx, SenderOptions::default(), &sent)
            .await
            .unwrap();
        assert!(refused.is_empty());
    }
}
