//! Drives the [`Scheduler`] against a [`TransactionPublisher`]: takes messages from a
//! bounded channel, keeps up to `max_in_flight` batches in flight, feeds results back.
//!
//! It stops taking messages while `window` of them wait, so the channel fills up and the
//! decoder waits: memory stays bounded however long the ledger is.

use crate::message::OutgoingMessage;
use crate::ports::{PublishError, TransactionPublisher};
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
    #[error("sending to the transactions queue failed")]
    Publish(#[source] PublishError),
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
                let failures: Vec<Failure> = result
                    .map_err(SendError::Publish)?
                    .into_iter()
                    .map(|f| Failure {
                        index: f.index,
                        retryable: !f.sender_fault,
                        reason: format!("{}: {}", f.code, f.message),
                    })
                    .collect();
                for f in &failures {
                    if let Some(m) = batch.items.get(f.index) {
                        tracing::warn!(order_id = %m.group_id, line = m.line, retryable = f.retryable,
                            reason = %f.reason, "transactions queue refused an entry");
                    }
                }
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
                    return Err(SendError::GaveUp { line: g.item.line, attempts: g.attempts, reason: g.reason });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::EntryFailure;
    use convoy_core::Transaction;
    use std::sync::Arc;
    use std::time::Duration;

    fn message(order: &str, seq: u64) -> OutgoingMessage {
        let txn: Transaction =
            serde_json::from_value(serde_json::json!({"order_id": order, "seq": seq, "op": "pay"}))
                .unwrap();
        OutgoingMessage::new(&Arc::from("ledgers/x.jsonl"), seq, &txn).unwrap()
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

    /// Every call fails as a whole.
    struct Down;
    impl TransactionPublisher for Down {
        async fn send_batch(
            &self,
            _batch: &[OutgoingMessage],
        ) -> Result<Vec<EntryFailure>, PublishError> {
            Err(PublishError("connection refused".into()))
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
        // One in flight (one group), `window` waiting, the channel full, one being sent.
        let held = produced.load(Ordering::Relaxed);
        assert!(held <= 1 + 50 + 8 + 1, "{held} messages taken in");
        assert_eq!(sent.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_call_stops_sending_with_its_cause() {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tx.send(message("a", 1)).await.unwrap();
        drop(tx);
        let sent = AtomicU64::new(0);
        let err = send_all(&Down, rx, SenderOptions::default(), &sent)
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Publish(_)));
        assert_eq!(
            convoy_core::chain(&err),
            "sending to the transactions queue failed: SendMessageBatch failed: connection refused"
        );
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
