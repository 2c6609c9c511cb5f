//! What the fault-injection suite counts: against the model, how many transactions were
//! lost, applied twice or applied out of order, from every commit the consumer made.

use crate::stores::Commit;
use convoy_core::sequencer::StoredOrder;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The suite's three counts (all must be 0), with the size of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub transactions: usize,
    pub orders: usize,
    /// Transactions the model processed (or holds parked) that the store did not.
    pub lost: u64,
    /// `seq`s whose history entry was written more than once.
    pub applied_twice: u64,
    /// `seq`s processed before the one before them.
    pub out_of_order: u64,
}

impl Tally {
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.applied_twice == 0 && self.out_of_order == 0
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "transactions={} orders={} lost={} applied_twice={} out_of_order={}",
            self.transactions, self.orders, self.lost, self.applied_twice, self.out_of_order
        )
    }
}

/// Prints a suite's result line where CI shows it: straight to the process's stderr, which
/// the test harness's output capture (it captures `print!` and `eprint!`) leaves alone.
pub fn announce(line: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    // A line the log could not take is not a test failure; the assertions are.
    let _ = writeln!(err, "{line}");
}

/// Counts, from `commits` (every successful commit, in the order they succeeded) and the
/// final `views`, what differs from the model's final `states`.
pub fn tally(
    transactions: usize,
    commits: &[Commit],
    want: &BTreeMap<String, StoredOrder>,
    views: &BTreeMap<String, Value>,
) -> Tally {
    let mut t = Tally {
        transactions,
        orders: want.len(),
        ..Tally::default()
    };
    let mut recorded: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for c in commits {
        let seen = recorded.entry(&c.order_id).or_default();
        let prev = last.entry(&c.order_id).or_default();
        for &seq in &c.recorded {
            if !seen.insert(seq) {
                t.applied_twice += 1;
            } else if seq != *prev + 1 {
                t.out_of_order += 1;
            }
            *prev = (*prev).max(seq);
        }
    }
    for (id, state) in want {
        let done = recorded.get(id.as_str());
        let processed = (1..state.state.next_seq).filter(|s| !done.is_some_and(|d| d.contains(s)));
        t.lost += processed.count() as u64;
        let parked: BTreeSet<u64> = views
            .get(id)
            .and_then(|v| v["parked"].as_array())
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        t.lost += state.parked.keys().filter(|s| !parked.contains(s)).count() as u64;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use convoy_core::OrderId;
    use convoy_core::OrderState;
    use tokio::time::Instant;

    fn commit(id: &str, recorded: &[u64]) -> Commit {
        Commit {
            order_id: id.into(),
            at: Instant::now(),
            state: OrderState::new(OrderId::parse(id).unwrap_or_else(|e| panic!("{e}"))),
            recorded: recorded.to_vec(),
        }
    }

    fn want(id: &str, next_seq: u64, parked: &[u64]) -> BTreeMap<String, StoredOrder> {
        let oid = OrderId::parse(id).unwrap_or_else(|e| panic!("{e}"));
        let mut s = crate::model::states([]).remove(id).unwrap_or(StoredOrder {
            state: OrderState::new(oid.clone()),
            items: Default::default(),
            processed: Default::default(),
            parked: Default::default(),
            conflicts: Default::default(),
            paid: None,
        });
        s.state.next_seq = next_seq;
        for &p in parked {
            let t = format!(r#"{{"order_id":"{id}","seq":{p},"op":"pay"}}"#);
            s.parked.insert(
                p,
                serde_json::from_str(&t).unwrap_or_else(|e| panic!("{e}")),
            );
        }
        BTreeMap::from([(id.to_owned(), s)])
    }

    #[test]
    fn each_count_sees_its_fault() {
        let views = BTreeMap::from([("A".to_owned(), serde_json::json!({"parked": [9]}))]);
        let want = want("A", 5, &[9]);
        let clean = tally(
            5,
            &[commit("A", &[1, 2]), commit("A", &[3, 4])],
            &want,
            &views,
        );
        assert!(clean.clean(), "{clean}");
        let lost = tally(5, &[commit("A", &[1, 2, 3])], &want, &views);
        assert_eq!((lost.lost, lost.clean()), (1, false));
        let twice = tally(
            5,
            &[commit("A", &[1, 2]), commit("A", &[2, 3, 4])],
            &want,
            &views,
        );
        assert_eq!(twice.applied_twice, 1);
        let swapped = tally(
            5,
            &[commit("A", &[1, 3]), commit("A", &[2, 4])],
            &want,
            &views,
        );
        assert_eq!(swapped.out_of_order, 2, "3 came early and 2 late");
        let unparked = tally(5, &[commit("A", &[1, 2, 3, 4])], &want, &BTreeMap::new());
        assert_eq!(unparked.lost, 1);
    }
}
