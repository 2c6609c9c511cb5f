//! The status record of a ledger (contract section 5): which object version, how far it
//! got, and how it ended.

use crate::notification::ObjectRef;
use aws_smithy_types::date_time::{DateTime, Format};
use ledger_format::Settled;
use std::fmt;
use std::time::SystemTime;

/// Where a ledger's processing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Processing,
    Done,
    Unsupported,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Processing => "processing",
            State::Done => "done",
            State::Unsupported => "unsupported",
            State::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        [
            State::Processing,
            State::Done,
            State::Unsupported,
            State::Failed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status record of one ledger object. Stored under `pk` = [`LedgerStatus::pk`],
/// `sk` = `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LedgerStatus {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    pub size: Option<u64>,
    /// The normalized S3 event sequencer of the version ([`ObjectRef::sequencer`]): orders
    /// the versions of the key, so an older version never overwrites a newer one's record.
    pub sequencer: Option<String>,
    pub state: State,
    pub lines_read: u64,
    pub sent: u64,
    /// Lines refused, all of them, listed in the rejects report or not.
    pub refused: u64,
    /// Whether the rejects report leaves refused lines out: it lists the first
    /// [`MAX_REPORTED_REJECTS`](crate::rejects::MAX_REPORTED_REJECTS) only. Absent from
    /// records written before it existed: `false`.
    #[serde(default)]
    pub rejects_truncated: bool,
    /// Why it failed or is unsupported.
    pub error: Option<String>,
    /// The rejects report, when at least one line was refused.
    pub rejects_key: Option<String>,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
    /// The run in charge of this version: the id of the ledger-queue message it handles
    /// (the S3 notification, or a continuation). Absent in older records.
    #[serde(default)]
    pub owner: Option<String>,
    /// How many times the ledger was handed on to a new invocation.
    #[serde(default)]
    pub continuations: u64,
    /// How far the ledger is durably done: a crashed or continued run resumes here.
    #[serde(default)]
    pub checkpoint: Option<Checkpoint>,
}

/// A ledger's progress that survives its invocation: every line up to `settled.line` is
/// sent or refused, and refused ones are in the rejects parts written so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub settled: Settled,
    pub sent: u64,
    pub refused: u64,
    /// Refused lines listed in the parts of the rejects report (at most
    /// [`MAX_REPORTED_REJECTS`](crate::rejects::MAX_REPORTED_REJECTS)).
    pub listed: u64,
}

/// Whose record a status write may replace, besides an older version's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard<'a> {
    /// Any run's: a write that takes no part in a run (unsupported, missing object).
    Any,
    /// Only the record of this owner (`None`: of no run): a run claiming the ledger from
    /// the owner it read, or writing as the owner it is.
    Owner(Option<&'a str>),
}

impl LedgerStatus {
    /// The partition key of a ledger's status record.
    pub fn pk_for(bucket: &str, key: &str) -> String {
        format!("ledger#{bucket}/{key}")
    }

    /// The sort key of the status record.
    pub const SK: &'static str = "status";

    /// A fresh record for `object` in `state`, started now.
    pub fn start(object: &ObjectRef, state: State) -> Self {
        let now = now_rfc3339();
        Self {
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            version_id: object.version_id.clone(),
            etag: object.etag.clone(),
            size: object.size,
            sequencer: object.sequencer.clone(),
            state,
            lines_read: 0,
            sent: 0,
            refused: 0,
            rejects_truncated: false,
            error: None,
            rejects_key: None,
            started_at: now.clone(),
            updated_at: now,
            owner: None,
            continuations: 0,
            checkpoint: None,
        }
    }

    pub fn pk(&self) -> String {
        Self::pk_for(&self.bucket, &self.key)
    }

    /// Whether this record says `object` (same version, else same ETag) was fully processed.
    pub fn is_done_for(&self, object: &ObjectRef) -> bool {
        self.state == State::Done && self.is_about(object) == Some(true)
    }

    /// Whether this record is about `object`'s version (compared by version id, else by
    /// ETag); `None` if neither pair is known.
    pub fn is_about(&self, object: &ObjectRef) -> Option<bool> {
        match (&object.version_id, &self.version_id) {
            (Some(a), Some(b)) => Some(a == b),
            _ => match (&object.etag, &self.etag) {
                (Some(a), Some(b)) => Some(a.trim_matches('"') == b.trim_matches('"')),
                _ => None,
            },
        }
    }

    /// Whether this record is about the same version as `other` (by version id, else by
    /// ETag); `None` if neither pair is known.
    pub fn is_about_status(&self, other: &LedgerStatus) -> Option<bool> {
        self.is_about(&ObjectRef {
            bucket: other.bucket.clone(),
            key: other.key.clone(),
            version_id: other.version_id.clone(),
            etag: other.etag.clone(),
            size: other.size,
            sequencer: other.sequencer.clone(),
        })
    }

    /// Whether this record may replace `stored`, the key's current record: unless both
    /// carry a sequencer and the stored one is greater (a newer version owns the record).
    /// An equal sequencer is the same version again (a redelivery or a retry): allowed.
    ///
    /// A record without a sequencer (an event from an emulator that sends none) is written
    /// unconditionally, as before sequencers were used; a stored record without one cannot
    /// be ordered, so any write replaces it. The DynamoDB adapter's condition expression
    /// says the same; the in-memory store of the tests uses this.
    pub fn may_replace(&self, stored: Option<&LedgerStatus>) -> bool {
        match (&self.sequencer, stored.and_then(|s| s.sequencer.as_ref())) {
            (Some(new), Some(current)) => current <= new,
            _ => true,
        }
    }

    /// Whether this record may replace `stored` under `guard`: [`may_replace`] and, unless
    /// `stored` is of an older version, it has the guard's owner. The DynamoDB adapter's
    /// condition says the same.
    ///
    /// [`may_replace`]: LedgerStatus::may_replace
    pub fn may_replace_under(&self, stored: Option<&LedgerStatus>, guard: Guard<'_>) -> bool {
        let Some(stored) = stored else {
            return true;
        };
        if !self.may_replace(Some(stored)) {
            return false;
        }
        let older =
            matches!((&self.sequencer, &stored.sequencer), (Some(new), Some(old)) if old < new);
        match guard {
            Guard::Any => true,
            Guard::Owner(owner) => older || stored.owner.as_deref() == owner,
        }
    }

    /// Marks the record as updated now.
    pub fn touch(&mut self) {
        self.updated_at = now_rfc3339();
    }
}

/// The current time as RFC 3339 in UTC, e.g. `2026-11-24T09:00:00Z`.
pub fn now_rfc3339() -> String {
    DateTime::from(SystemTime::now())
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(version: Option<&str>, etag: Option<&str>) -> ObjectRef {
        ObjectRef {
            bucket: "b".into(),
            key: "ledgers/x.jsonl".into(),
            version_id: version.map(str::to_owned),
            etag: etag.map(str::to_owned),
            size: Some(3),
            sequencer: None,
        }
    }

    fn sequenced(version: &str, sequencer: Option<&str>) -> LedgerStatus {
        let mut o = object(Some(version), None);
        o.sequencer = sequencer.map(|s| crate::notification::normalize_sequencer(s).unwrap());
        LedgerStatus::start(&o, State::Processing)
    }

    #[test]
    fn only_an_older_sequencer_may_not_replace_the_record() {
        let old = sequenced("v1", Some("0055AED6DCD90281E5"));
        let new = sequenced("v2", Some("0055AED6DCD90281F0"));
        let unordered = sequenced("v3", None);
        assert!(old.may_replace(None) && new.may_replace(None));
        assert!(new.may_replace(Some(&old)), "newer over older");
        assert!(!old.may_replace(Some(&new)), "older over newer");
        assert!(old.may_replace(Some(&old.clone())), "same version again");
        assert!(
            unordered.may_replace(Some(&new)),
            "no sequencer: unconditional"
        );
        assert!(
            old.may_replace(Some(&unordered)),
            "a record that cannot be ordered"
        );
    }

    #[test]
    fn done_matches_the_same_version_else_the_same_etag() {
        let mut st = LedgerStatus::start(&object(Some("v1"), Some("e1")), State::Done);
        assert!(st.is_done_for(&object(Some("v1"), Some("e1"))));
        assert!(!st.is_done_for(&object(Some("v2"), Some("e1"))));
        st.version_id = None;
        assert!(st.is_done_for(&object(None, Some("\"e1\""))));
        assert!(!st.is_done_for(&object(None, Some("e2"))));
        assert!(!st.is_done_for(&object(None, None)));
        assert_eq!(st.is_about(&object(None, None)), None, "cannot tell");
        assert_eq!(st.is_about(&object(Some("v9"), Some("e2"))), Some(false));
        st.state = State::Failed;
        assert!(!st.is_done_for(&object(None, Some("e1"))));
    }

    #[test]
    fn keys_and_times_have_their_shape() {
        assert_eq!(
            LedgerStatus::pk_for("b", "ledgers/a b.csv"),
            "ledger#b/ledgers/a b.csv"
        );
        let now = now_rfc3339();
        assert!(now.ends_with('Z') && now.contains('T'), "{now}");
        for st in [
            State::Processing,
            State::Done,
            State::Unsupported,
            State::Failed,
        ] {
            assert_eq!(State::parse(st.as_str()), Some(st));
        }
    }
}
