//! The status-record writes of one object version. The first write the store refuses
//! ([`PutOutcome::Superseded`]: a newer version of the key owns the record) is the last
//! one tried: from then on this version writes neither status nor rejects report.

use super::{before, LedgerError};
use crate::pipeline::Progress;
use crate::ports::{PutOutcome, StatusStore};
use crate::status::{LedgerStatus, State};
use convoy_core::chain;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Writes the status record of one object version until a newer version owns it; every
/// write must be done by `finish_by`.
pub(super) struct StatusWriter<'a, T> {
    store: &'a T,
    superseded: bool,
    finish_by: Instant,
}

impl<'a, T: StatusStore> StatusWriter<'a, T> {
    pub(super) fn new(store: &'a T, finish_by: Instant) -> Self {
        Self {
            store,
            superseded: false,
            finish_by,
        }
    }

    /// When the ledger's last write must be done.
    pub(super) fn finish_by(&self) -> Instant {
        self.finish_by
    }

    /// Whether a newer version of the key owns the record (and the rejects report).
    pub(super) fn superseded(&self) -> bool {
        self.superseded
    }

    /// Writes `status`, unless a newer version of the key owns the record: then nothing is
    /// written, now or later (logged the first time). A write not done by `finish_by` is
    /// [`LedgerError::OutOfTime`].
    pub(super) async fn write(&mut self, status: &LedgerStatus) -> Result<(), LedgerError> {
        if self.superseded {
            return Ok(());
        }
        let what = || format!("writing the status record ({})", status.state);
        match before(self.finish_by, what, self.store.put(status)).await? {
            PutOutcome::Written => {}
            PutOutcome::Superseded { current } => {
                self.superseded = true;
                tracing::warn!(
                    sequencer = status.sequencer.as_deref(),
                    newer_sequencer = current.as_deref(),
                    state = %status.state,
                    "a newer version of the key owns its status record; this version is still sent, but writes neither status nor rejects report"
                );
            }
        }
        Ok(())
    }

    /// Runs `work`, writing the progress to the status record every `every`.
    pub(super) async fn with_progress<F: Future>(
        &mut self,
        work: F,
        status: &LedgerStatus,
        progress: &Progress,
        every: Duration,
    ) -> F::Output {
        let every = every.max(Duration::from_millis(1));
        let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
        let mut current = status.clone();
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                _ = ticks.tick(), if !self.superseded => {
                    (current.lines_read, current.sent, current.refused) = progress.snapshot();
                    current.rejects_truncated = progress.rejects_truncated();
                    current.touch();
                    if let Err(e) = self.write(&current).await {
                        tracing::warn!(error = %chain(&e), "progress update failed");
                    }
                }
            }
        }
    }

    /// Whether this version may write the rejects report: the record may have been taken
    /// over since the last write, so the store is asked (by a write of the final counts in
    /// `status`, still `processing`) right before. Without a sequencer there is no owner to
    /// ask about.
    pub(super) async fn owns_report(
        &mut self,
        status: &mut LedgerStatus,
    ) -> Result<bool, LedgerError> {
        if !self.superseded && status.sequencer.is_some() {
            status.touch();
            self.write(status).await?;
        }
        Ok(!self.superseded)
    }

    /// Records `error` as the ledger's failure (unless a newer version of the key owns the
    /// record) and returns it.
    /// Records `error` as the ledger's failure; the record is then retried (`Err`) unless
    /// the failure is permanent ([`LedgerError::is_permanent`]).
    pub(super) async fn fail(
        &mut self,
        mut status: LedgerStatus,
        error: LedgerError,
    ) -> Result<(), LedgerError> {
        status.state = State::Failed;
        status.error = Some(chain(&error));
        status.touch();
        if let Err(e) = self.write(&status).await {
            tracing::error!(error = %chain(&e), "could not record the failure in the status record");
        }
        if error.is_permanent() {
            // A retry would read the same bytes: the status is final, the record is not
            // retried (a corrected upload is a new version with its own notification).
            tracing::error!(state = "failed", error = %chain(&error), lines_read = status.lines_read, sent = status.sent, "ledger failed for good: not retried");
            return Ok(());
        }
        tracing::error!(state = "failed", error = %chain(&error), lines_read = status.lines_read, sent = status.sent, "ledger failed");
        Err(error)
    }
}
