//! One ledger, end to end in constant memory: chunks → decoder → (bounded channel) →
//! sender, and refused lines → rejects spool. The decoder takes each chunk a bounded step
//! at a time ([`Decoder::feed`]), and each step's output is handed on — transactions into
//! the channel, waiting while it is full; refused lines into the spool — before the next
//! step is decoded, so a gzip bomb never inflates ahead of its consumers. The counters live
//! outside so that a caller that stops the pipeline at a deadline still knows how far it
//! got. A ledger runs in segments: each stops where the decoder has settled once its time
//! is up, and waits until what it decoded is sent, so its end is a checkpoint from which a
//! later invocation resumes ([`Decoder::resume`]).

use crate::message::OutgoingMessage;
use crate::ports::{ChunkStream, SourceError, TransactionPublisher};
use crate::rejects::{RejectsSpool, SpoolError};
use crate::sender::{send_all, SendError, SenderOptions};
use bytes::Bytes;
use ledger_format::{DecodeError, Decoder, Parsed, Settled};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tempfile::TempPath;
use tokio::sync::mpsc::{self, Sender};
use tokio::time::Instant;

/// How far a ledger got in this invocation; updated as it goes.
#[derive(Debug, Default)]
pub struct Progress {
    /// The decoder's line count (from the object's start, also when resumed).
    pub lines_read: AtomicU64,
    pub sent: AtomicU64,
    pub refused: AtomicU64,
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
}

/// The most bytes one feed takes where the byte offset of a checkpoint is kept (plain JSON
/// Lines): about a hundred lines, handed on whole before a segment may end.
const OFFSET_FEED_BYTES: usize = 8 * 1024;

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

/// One ledger being processed, segment after segment ([`Pipeline::segment`]): the
/// object's chunks, the decoder, and what is left of the chunk being decoded.
pub struct Pipeline<C> {
    chunks: C,
    decoder: Decoder,
    pending: Bytes,
    /// What the decoder gave and was not handed on yet (a segment's time ran out while the
    /// channel was full), in line order.
    out: VecDeque<Parsed>,
    finished: bool,
    ledger: Arc<str>,
}

/// What one segment did: every line up to `settled` is sent or refused.
#[derive(Debug)]
pub struct Segment {
    pub settled: Settled,
    /// Whether that was the ledger's last line.
    pub finished: bool,
    /// The segment's refused lines, at most the cap, in line order; `None` when none was.
    pub rejects: Option<TempPath>,
    /// Refused lines in the segment, listed or not.
    pub refused: u64,
    /// Refused lines listed in `rejects`.
    pub listed: u64,
}

impl<C: ChunkStream> Pipeline<C> {
    /// `chunks` of the ledger `ledger` (its key), read from `decoder.input_offset()` on.
    pub fn new(chunks: C, decoder: Decoder, ledger: Arc<str>) -> Self {
        Self {
            chunks,
            decoder,
            pending: Bytes::new(),
            out: VecDeque::new(),
            finished: false,
            ledger,
        }
    }

    /// Decodes and sends until the ledger ends or `until` has passed, then stops where the
    /// decoder has settled and waits until everything decoded is sent (or refused): what
    /// it returns is a checkpoint. Refused lines go to the segment's rejects part, of at
    /// most `cap` lines (the rest only counted).
    pub async fn segment<P: TransactionPublisher>(
        &mut self,
        publisher: &P,
        options: PipelineOptions,
        progress: &Progress,
        until: Instant,
        cap: u64,
    ) -> Result<Segment, PipelineError> {
        let (tx, rx) = mpsc::channel(options.channel.max(1));
        let mut spool = RejectsSpool::with_cap(cap);
        let produce = self.decode_until(until, tx, &mut spool, progress);
        let send = async {
            send_all(publisher, rx, options.sender, &progress.sent)
                .await
                .map_err(PipelineError::from)
        };
        let ((), late) = tokio::try_join!(produce, send)?;
        for e in &late {
            spool.write(e)?;
        }
        progress
            .refused
            .fetch_add(late.len() as u64, Ordering::Relaxed);
        Ok(Segment {
            settled: self.settled(),
            finished: self.finished && self.out.is_empty(),
            refused: spool.count(),
            listed: spool.listed(),
            rejects: spool.finish()?,
        })
    }

    /// How far the ledger is settled once what was handed on is sent: where the decoder
    /// has settled, or, while some of its output waits, just before the first of that (no
    /// byte offset then: a resumed run reads from the start and skips).
    fn settled(&self) -> Settled {
        match self.out.front() {
            None => self.decoder.settled(),
            Some(first) => Settled {
                line: first.line().saturating_sub(1),
                offset: None,
            },
        }
    }

    /// The producer: decodes chunk after chunk, step after step, until the end or `until`;
    /// transactions go to `tx` (waiting while the channel is full, but not past `until`),
    /// refused lines to `spool`.
    async fn decode_until(
        &mut self,
        until: Instant,
        tx: Sender<OutgoingMessage>,
        spool: &mut RejectsSpool,
        progress: &Progress,
    ) -> Result<(), PipelineError> {
        let mut out = Vec::new();
        loop {
            let stop_at = match self.decoder.settled().offset {
                Some(_) => None,
                None => Some(until),
            };
            if !self.forward(stop_at, &tx, spool, progress).await? {
                return Ok(()); // out of time with output waiting
            }
            if self.finished || Instant::now() >= until {
                return Ok(());
            }
            if self.pending.is_empty() {
                match self.chunks.next_chunk().await? {
                    Some(chunk) => self.pending = chunk,
                    None => {
                        let after_line = self.decoder.lines_read();
                        self.decoder
                            .finish(&mut out)
                            .map_err(|source| PipelineError::Decode { after_line, source })?;
                        self.finished = true;
                    }
                }
            } else {
                // Where a byte offset is kept (plain JSON Lines), a feed is small and its
                // output is always handed on whole, so a segment ends between feeds.
                let by_offset = self.decoder.settled().offset.is_some();
                let input = match by_offset {
                    true => &self.pending[..self.pending.len().min(OFFSET_FEED_BYTES)],
                    false => &self.pending[..],
                };
                let taken =
                    self.decoder
                        .feed(input, &mut out)
                        .map_err(|source| PipelineError::Decode {
                            after_line: self.decoder.lines_read(),
                            source,
                        })?;
                self.pending = self.pending.slice(taken..);
            }
            self.out.extend(out.drain(..));
            progress
                .lines_read
                .store(self.decoder.lines_read(), Ordering::Relaxed);
        }
    }

    /// Hands on the decoder's output in order: transactions into the channel, refused lines
    /// into the spool. Returns `false` if `until` passed while the channel was full (the
    /// rest waits for the next segment); without `until`, it waits for room.
    async fn forward(
        &mut self,
        until: Option<Instant>,
        tx: &Sender<OutgoingMessage>,
        spool: &mut RejectsSpool,
        progress: &Progress,
    ) -> Result<bool, PipelineError> {
        while let Some(parsed) = self.out.front() {
            match parsed {
                Parsed::Txn { line, txn } => {
                    let line = *line;
                    let message = OutgoingMessage::new(&self.ledger, line, txn)
                        .map_err(|source| PipelineError::Encode { line, source })?;
                    let permit = match until {
                        Some(until) => match tokio::time::timeout_at(until, tx.reserve()).await {
                            Err(_elapsed) => return Ok(false),
                            Ok(permit) => permit,
                        },
                        None => tx.reserve().await,
                    }
                    .map_err(|_| PipelineError::SenderGone)?;
                    permit.send(message);
                }
                Parsed::Refused(e) => {
                    tracing::debug!(line = e.line, field = ?e.field, reason = %e.reason, "line refused");
                    spool.write(e)?;
                    progress.refused.fetch_add(1, Ordering::Relaxed);
                }
            }
            self.out.pop_front();
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
