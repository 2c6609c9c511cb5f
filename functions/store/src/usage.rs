//! What a store's requests cost, counted as AWS bills them: requests by operation, and the
//! write and read units each one consumes by the item-size rules of [`crate::capacity`].
//! Beside them, the units DynamoDB itself reported (`ConsumedCapacity`), to cross-check.

use crate::capacity::Units;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Requests and units per operation (`PutItem`, `Query`, …).
#[derive(Debug, Default)]
pub struct Usage {
    by_operation: Mutex<BTreeMap<&'static str, Tally>>,
}

/// One operation's tally.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    pub requests: u64,
    /// By AWS's rules, from the items' sizes.
    pub units: Units,
    /// As the backend reported them (`ConsumedCapacity`), where it does.
    pub reported: Units,
}

impl Usage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one request of `operation` consuming `units`.
    pub fn record(&self, operation: &'static str, units: Units) {
        let mut map = self.lock();
        let t = map.entry(operation).or_default();
        t.requests += 1;
        t.units += units;
    }

    /// Adds what the backend reported for a request of `operation`.
    pub fn reported(&self, operation: &'static str, units: Units) {
        self.lock().entry(operation).or_default().reported += units;
    }

    /// Every operation's tally so far.
    pub fn snapshot(&self) -> BTreeMap<&'static str, Tally> {
        self.lock().clone()
    }

    /// The sum over every operation.
    pub fn total(&self) -> Tally {
        self.lock().values().fold(Tally::default(), |mut a, t| {
            a.requests += t.requests;
            a.units += t.units;
            a.reported += t.reported;
            a
        })
    }

    /// Starts counting from zero again.
    pub fn reset(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Tally>> {
        // Counters only: a panic mid-update leaves at worst one request uncounted.
        self.by_operation.lock().unwrap_or_else(|e| e.into_inner())
    }
}
