//! The status-record writes of one run of an object version. A run claims the record from
//! the owner it read; every later write is conditional on its ownership. The first write
//! the store refuses is the last one tried: a newer version of the key owns the record
//! ([`PutOutcome::Superseded`]: this version is still sent, but writes neither status nor
//! rejects report), or another run of this version took it over ([`PutOutcome::Taken`]:
//! this run stops, the ledger is the other's).

use super::{before, LedgerError};
use crate::ports::{PutOutcome, StatusStore};
use crate::status::{Guard, LedgerStatus, State};
use convoy_core::chain;
use tokio::time::Instant;

/// Writes the status record of one run until a newer version or another run owns it;
/// every write must be done by `finish_by`.
pub(super) struct StatusWriter<'a, T> {
    store: &'a T,
    /// The owner whose record the next write may replace; `None` before a claim (any).
    owner: Option<Option<String>>,
    superseded: bool,
    taken: bool,
    finish_by: Instant,
}

/// What a claim of the record did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Claim {
    /// The run owns the record.
    Owned,
    /// A newer version owns it: the run goes on without status or rejects report.
    Superseded,
    /// Another run claimed it first.
    Taken { by: Option<String> },
}

impl<'a, T: StatusStore> StatusWriter<'a, T> {
    pub(super) fn new(store: &'a T, finish_by: Instant) -> Self {
        Self {
            store,
            owner: None,
            superseded: false,
            taken: false,
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

    /// Whether another run of this version took the record over: this run must stop.
    pub(super) fn taken(&self) -> bool {
        self.taken
    }

    /// Writes `status` (its `owner` the claiming run) if the record's owner is still
    /// `from`, the owner read before (`None`: no run).
    pub(super) async fn claim(
        &mut self,
        status: &LedgerStatus,
        from: Option<&str>,
    ) -> Result<Claim, LedgerError> {
        self.owner = Some(from.map(str::to_owned));
        self.write(status).await?;
        Ok(if self.taken {
            Claim::Taken {
                by: self.owner.clone().flatten(),
            }
        } else if self.superseded {
            Claim::Superseded
        } else {
            Claim::Owned
        })
    }

    /// Writes `status`, unless a newer version of the key or another run owns the record:
    /// then nothing is written, now or later (logged the first time). A write not done by
    /// `finish_by` is [`LedgerError::OutOfTime`].
    pub(super) async fn write(&mut self, status: &LedgerStatus) -> Result<(), LedgerError> {
        if self.superseded || self.taken {
            return Ok(());
        }
        let guard = match &self.owner {
            None => Guard::Any,
            Some(owner) => Guard::Owner(owner.as_deref()),
        };
        let what = || format!("writing the status record ({})", status.state);
        match before(self.finish_by, what, self.store.put(status, guard)).await? {
            PutOutcome::Written => {
                if self.owner.is_some() {
                    self.owner = Some(status.owner.clone());
                }
            }
            PutOutcome::Superseded { current } => {
                self.superseded = true;
                tracing::warn!(
                    sequencer = status.sequencer.as_deref(),
                    newer_sequencer = current.as_deref(),
                    state = %status.state,
                    "a newer version of the key owns its status record; this version is still sent, but writes neither status nor rejects report"
                );
            }
            PutOutcome::Taken { current } if current.is_about_status(status) == Some(false) => {
                // Another version of the key whose order is unknown (no sequencer): as if
                // it were newer.
                self.superseded = true;
                tracing::warn!(
                    other_version = current.version_id.as_deref(),
                    other_etag = current.etag.as_deref(),
                    "another version of the key (not ordered by sequencer) owns its status record; this version is still sent, but writes neither status nor rejects report"
                );
            }
            PutOutcome::Taken { current } => {
                self.taken = true;
                self.owner = Some(current.owner.clone());
                tracing::warn!(
                    owner = current.owner.as_deref(),
                    line = current.checkpoint.map(|c| c.settled.line),
                    "another run of this version owns the ledger now (a redelivery or a takeover); this run stops and leaves it to that one"
                );
            }
        }
        Ok(())
    }

    /// Whether this version may write the rejects report: the record may have been taken
    /// over since the last write, so the store is asked (by a write of the final counts in
    /// `status`, still `processing`) right before. Without a sequencer there is no owner to
    /// ask about.
    pub(super) async fn owns_report(
        &mut self,
        status: &mut LedgerStatus,
    ) -> Result<bool, LedgerError> {
        if !self.superseded && !self.taken {
            status.touch();
            self.write(status).await?;
        }
        Ok(!self.superseded && !self.taken)
    }

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
