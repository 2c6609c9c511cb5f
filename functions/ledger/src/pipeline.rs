//! One ledger, end to end in constant memory: chunks → decoder → (bounded channel) →
//! sender, and refused lines → rejects spool. The decoder takes each chunk a bounded step
//! at a time ([`Decoder::feed`]), and each step's output is handed on — transactions into
//! the channel, waiting while it is full; refused lines into the spool — before the next
//! step is decoded, so a gzip bomb never inflates ahead of its consumers. The counters live
//! outside so that a caller that stops the pipeline at a deadline still knows how far it
//! got.

use crate::message::OutgoingMessage;
use crate::ports::{ChunkStream, SourceError, TransactionPublisher};
use crate::rejects::{RejectsSpool, SpoolError};
use crate::sender::{send_all, SendError, SenderOptions};
use ledger_format::{DecodeError, Decoder, LedgerKind, Parsed};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tempfile::TempPath;
use tokio::sync::mpsc::{self, Sender};

/// How far a ledger got; updated as it goes.
#[derive(Debug, Default)]
pub struct Progress {
    pub lines_read: AtomicU64,
    pub sent: AtomicU64,
    pub refused: AtomicU64,
    /// More lines were refused than the rejects report lists.
    pub rejects_truncated: AtomicBool,
}

impl Progress {
    /// (lines read, sent, refused) now.
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.lines_read.load(Ordering::Relaxed),
            self.sent.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }

    /// Whether more lines were refused than the rejects report lists
    /// ([`MAX_REPORTED_REJECTS`](crate::rejects::MAX_REPORTED_REJECTS)).
    pub fn rejects_truncated(&self) -> bool {
        self.rejects_truncated.load(Ordering::Relaxed)
    }
}

/// Tuning of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineOptions {
    /// Messages buffered between decoder and sender.
    pub channel: usize,
    pub sender: SenderOptions,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self {
            channel: 256,
            sender: SenderOptions::default(),
        }
    }
}

/// A ledger could not be processed to the end.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("the ledger cannot be decoded after line {after_line}")]
    Decode {
        /// The last line read whole (what came before it was processed).
        after_line: u64,
        #[source]
        source: DecodeError,
    },
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("line {line}: the transaction cannot be encoded as a message")]
    Encode {
        line: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error("the sender stopped before the decoder finished")]
    SenderGone,
}

/// Streams `chunks` of the ledger `ledger` (its key) of `kind` through the decoder to
/// `publisher`; returns the rejects report, if any line was refused (it lists the first
/// [`MAX_REPORTED_REJECTS`](crate::rejects::MAX_REPORTED_REJECTS) refused lines; `progress`
/// counts them all and says whether some were left out).
pub async fn run<C: ChunkStream, P: TransactionPublisher>(
    chunks: C,
    kind: LedgerKind,
    ledger: Arc<str>,
    publisher: &P,
    options: PipelineOptions,
    progress: &Progress,
) -> Result<Option<TempPath>, PipelineError> {
    let (tx, rx) = mpsc::channel(options.channel.max(1));
    let mut spool = RejectsSpool::new();
    let produce = decode(chunks, kind, &ledger, tx, &mut spool, progress);
    let send = async {
        send_all(publisher, rx, options.sender, &progress.sent)
            .await
            .map_err(PipelineError::from)
    };
    let ((), late) = tokio::try_join!(produce, send)?;
    for e in &late {
        spool.write(e)?;
    }
    progress.refused.store(spool.count(), Ordering::Relaxed);
    progress
        .rejects_truncated
        .store(spool.truncated(), Ordering::Relaxed);
    Ok(spool.finish()?)
}

/// The producer: decodes chunk after chunk, step after step; transactions go to `tx`
/// (waiting while the channel is full), refused lines to `spool`.
async fn decode<C: ChunkStream>(
    mut chunks: C,
    kind: LedgerKind,
    ledger: &Arc<str>,
    tx: Sender<OutgoingMessage>,
    spool: &mut RejectsSpool,
    progress: &Progress,
) -> Result<(), PipelineError> {
    let mut decoder = Decoder::new(kind);
    let mut out = Vec::new();
    while let Some(chunk) = chunks.next_chunk().await? {
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let taken = decoder
                .feed(rest, &mut out)
                .map_err(|source| PipelineError::Decode {
                    after_line: decoder.lines_read(),
                    source,
                })?;
            rest = &rest[taken..];
            forward(&mut out, ledger, &tx, spool, progress).await?;
            progress
                .lines_read
                .store(decoder.lines_read(), Ordering::Relaxed);
        }
    }
    let after_line = decoder.lines_read();
    decoder
        .finish(&mut out)
        .map_err(|source| PipelineError::Decode { after_line, source })?;
    forward(&mut out, ledger, &tx, spool, progress).await?;
    progress
        .lines_read
        .store(decoder.lines_read(), Ordering::Relaxed);
    Ok(())
}

async fn forward(
    out: &mut Vec<Parsed>,
    ledger: &Arc<str>,
    tx: &Sender<OutgoingMessage>,
    spool: &mut RejectsSpool,
    progress: &Progress,
) -> Result<(), PipelineError> {
    for parsed in out.drain(..) {
        match parsed {
            Parsed::Txn { line, txn } => {
                let message = OutgoingMessage::new(ledger, line, &txn)
                    .map_err(|source| PipelineError::Encode { line, source })?;
                tx.send(message)
                    .await
                    .map_err(|_| PipelineError::SenderGone)?;
            }
            Parsed::Refused(e) => {
                tracing::debug!(line = e.line, field = ?e.field, reason = %e.reason, "line refused");
                spool.write(&e)?;
                progress.refused.fetch_add(1, Ordering::Relaxed);
                if spool.truncated() {
                    progress.rejects_truncated.store(true, Ordering::Relaxed);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
