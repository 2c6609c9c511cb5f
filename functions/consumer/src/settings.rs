//! `Settings`: the few knobs of the handler, with the production values as defaults.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the consumer reads the time it applies a payment (epoch milliseconds, UTC): the
/// system clock, or one a caller controls (a test putting payments either side of a cutoff).
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        }))
    }

    /// A clock reading `now`.
    pub fn new(now: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        Clock(Arc::new(now))
    }

    /// The time now (epoch ms).
    pub fn now_millis(&self) -> u64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock({})", self.now_millis())
    }
}

/// How the handler works through a batch.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Changes per step: its log item (head and changes) stays under DynamoDB's item limit.
    pub max_changes: usize,
    /// Reloads of an order after lost optimistic-lock races, per batch, before its
    /// records fail (and come back with the next receive).
    pub max_conflict_retries: usize,
    /// Pause before the n-th reload: n times this.
    pub conflict_backoff: Duration,
    /// No step (load, fetch, commit) is started closer than this to the deadline: what is
    /// not committed by then is reported, so the response is sent in time.
    pub deadline_margin: Duration,
    /// Kept free at the end of a group's time to send a resume message: a store call still
    /// running this close to the deadline is abandoned, and what was committed before it
    /// counts as progress (an abandoned commit that landed is found by the next load).
    pub resume_margin: Duration,
    /// The time a payment is applied (its receipt's `paid_at`, which decides its cutoff
    /// batch).
    pub clock: Clock,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_changes: convoy_store::MAX_CHANGES,
            max_conflict_retries: 5,
            conflict_backoff: Duration::from_millis(20),
            deadline_margin: Duration::from_millis(250),
            resume_margin: Duration::from_millis(500),
            clock: Clock::system(),
        }
    }
}
