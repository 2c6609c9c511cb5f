//! Tests of the scheduler: examples, and a property test over random streams and failures.

use super::*;
use proptest::prelude::*;
use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Msg {
    group: String,
    /// Position within its group, from 0.
    ordinal: usize,
}

impl Grouped for Msg {
    fn group(&self) -> &str {
        &self.group
    }
}

fn msg(group: &str, ordinal: usize) -> Msg {
    Msg {
        group: group.to_owned(),
        ordinal,
    }
}

fn options(max_in_flight: usize, max_attempts: u32) -> SchedulerOptions {
    SchedulerOptions {
        max_in_flight,
        max_batch: 10,
        backoff: Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            max_attempts,
        },
    }
}

fn groups_of(batch: &Batch<Msg>) -> Vec<(&str, usize)> {
    batch
        .items
        .iter()
        .map(|m| (m.group.as_str(), m.ordinal))
        .collect()
}

#[test]
fn a_batch_holds_each_group_s_first_messages_in_order_oldest_group_first() {
    let mut s = Scheduler::new(options(8, 5), 1);
    for (g, n) in [("a", 0), ("a", 1), ("b", 0), ("c", 0), ("b", 1)] {
        s.push(msg(g, n));
    }
    let first = s.next_batch(Duration::ZERO).unwrap();
    assert_eq!(
        groups_of(&first),
        vec![("a", 0), ("a", 1), ("b", 0), ("b", 1), ("c", 0)]
    );
    // a, b and c are in flight: what comes next of them waits.
    s.push(msg("a", 2));
    s.push(msg("d", 0));
    assert_eq!(
        groups_of(&s.next_batch(Duration::ZERO).unwrap()),
        vec![("d", 0)]
    );
    let done = s.complete(first.id, &[], Duration::ZERO);
    assert_eq!(done.delivered.len(), 5);
    assert_eq!(
        groups_of(&s.next_batch(Duration::ZERO).unwrap()),
        vec![("a", 2)]
    );
}

#[test]
fn one_group_goes_ten_to_a_batch_one_batch_at_a_time() {
    let mut s = Scheduler::new(options(8, 5), 1);
    for n in 0..25 {
        s.push(msg("a", n));
    }
    let mut sizes = Vec::new();
    while let Some(b) = s.next_batch(Duration::ZERO) {
        assert!(
            s.next_batch(Duration::ZERO).is_none(),
            "a second batch of a"
        );
        let ordinals: Vec<usize> = b.items.iter().map(|m| m.ordinal).collect();
        let from = sizes.iter().sum::<usize>();
        assert_eq!(ordinals, (from..from + b.items.len()).collect::<Vec<_>>());
        sizes.push(b.items.len());
        s.complete(b.id, &[], Duration::ZERO);
    }
    assert_eq!(sizes, vec![10, 10, 5]);
}

#[test]
fn a_full_batch_leaves_the_rest_of_a_group_for_the_next_batch_of_it() {
    let mut s = Scheduler::new(options(8, 5), 1);
    for n in 0..8 {
        s.push(msg("a", n));
    }
    for n in 0..4 {
        s.push(msg("b", n));
    }
    let first = s.next_batch(Duration::ZERO).unwrap();
    assert_eq!(first.items.len(), 10);
    assert_eq!(&groups_of(&first)[7..], &[("a", 7), ("b", 0), ("b", 1)]);
    // b is in flight with two of its messages still waiting.
    assert!(s.next_batch(Duration::ZERO).is_none());
    s.complete(first.id, &[], Duration::ZERO);
    assert_eq!(
        groups_of(&s.next_batch(Duration::ZERO).unwrap()),
        vec![("b", 2), ("b", 3)]
    );
}

#[test]
fn a_batch_never_exceeds_ten_and_in_flight_is_bounded() {
    let mut s = Scheduler::new(options(2, 5), 1);
    for g in 0..35 {
        s.push(msg(&g.to_string(), 0));
    }
    let b1 = s.next_batch(Duration::ZERO).unwrap();
    let b2 = s.next_batch(Duration::ZERO).unwrap();
    assert_eq!((b1.items.len(), b2.items.len()), (10, 10));
    assert!(
        s.next_batch(Duration::ZERO).is_none(),
        "two in flight at most"
    );
    s.complete(b1.id, &[], Duration::ZERO);
    assert_eq!(s.next_batch(Duration::ZERO).unwrap().items.len(), 10);
}

fn retryable(index: usize) -> Failure {
    Failure {
        index,
        retryable: true,
        reason: "InternalError".into(),
    }
}

#[test]
fn a_retried_entry_goes_first_in_its_group_after_its_backoff() {
    let mut s = Scheduler::new(options(8, 5), 7);
    s.push(msg("a", 0));
    s.push(msg("a", 1));
    s.push(msg("b", 0));
    let b = s.next_batch(Duration::ZERO).unwrap();
    s.push(msg("a", 2));
    let done = s.complete(b.id, &[retryable(0)], Duration::ZERO);
    // a#1 was in the call with a#0, so SQS enqueued it: the consumer parks it until a#0.
    assert_eq!(done.delivered, vec![msg("a", 1), msg("b", 0)]);
    // a#2 must not overtake the failed a#0, even though a is not in flight.
    assert!(s.next_batch(Duration::ZERO).is_none());
    let wake = s.next_wake().unwrap();
    assert!(wake >= Duration::from_millis(50) && wake <= Duration::from_millis(100));
    let retry = s.next_batch(wake).unwrap();
    assert_eq!(groups_of(&retry), vec![("a", 0), ("a", 2)]);
}

#[test]
fn failed_entries_of_a_group_go_back_first_in_their_order() {
    let mut s = Scheduler::new(options(8, 5), 7);
    for n in 0..12 {
        s.push(msg("a", n));
    }
    let b = s.next_batch(Duration::ZERO).unwrap();
    let done = s.complete(
        b.id,
        &[retryable(1), retryable(3), retryable(9)],
        Duration::ZERO,
    );
    let delivered: Vec<usize> = done.delivered.iter().map(|m| m.ordinal).collect();
    assert_eq!(delivered, vec![0, 2, 4, 5, 6, 7, 8]);
    assert_eq!(s.waiting(), 5);
    let retry = s.next_batch(s.next_wake().unwrap()).unwrap();
    let ordinals: Vec<usize> = retry.items.iter().map(|m| m.ordinal).collect();
    assert_eq!(ordinals, vec![1, 3, 9, 10, 11]);
}

#[test]
fn a_batch_failed_as_a_whole_goes_back_first_in_every_group() {
    // How the sender handles a throttled call: every entry fails, retryably.
    let mut s = Scheduler::new(options(8, 5), 7);
    for (g, n) in [("a", 0), ("b", 0), ("a", 1), ("b", 1)] {
        s.push(msg(g, n));
    }
    let b = s.next_batch(Duration::ZERO).unwrap();
    let all: Vec<Failure> = (0..b.items.len())
        .map(|index| Failure {
            index,
            retryable: true,
            reason: "RequestThrottled".into(),
        })
        .collect();
    let done = s.complete(b.id, &all, Duration::ZERO);
    assert!(done.delivered.is_empty() && done.refused.is_empty() && done.gave_up.is_none());
    assert_eq!(s.waiting(), 4);
    // Nothing goes before the backoff, and then each group's failed run goes first again.
    assert!(s.next_batch(Duration::ZERO).is_none());
    let mut resent = Vec::new();
    while resent.len() < 4 {
        let now = s.next_wake().unwrap();
        let retry = s.next_batch(now).unwrap();
        resent.extend(
            groups_of(&retry)
                .into_iter()
                .map(|(g, n)| (g.to_owned(), n)),
        );
        s.complete(retry.id, &[], now);
    }
    let of = |g: &str| -> Vec<usize> {
        resent
            .iter()
            .filter(|(r, _)| r == g)
            .map(|(_, n)| *n)
            .collect()
    };
    assert_eq!((of("a"), of("b")), (vec![0, 1], vec![0, 1]));
}

#[test]
fn a_sender_fault_is_refused_not_retried() {
    let mut s = Scheduler::new(options(8, 5), 7);
    s.push(msg("a", 0));
    s.push(msg("a", 1));
    let b = s.next_batch(Duration::ZERO).unwrap();
    let fail = Failure {
        index: 0,
        retryable: false,
        reason: "too big".into(),
    };
    let done = s.complete(b.id, &[fail], Duration::ZERO);
    assert_eq!(done.refused, vec![(msg("a", 0), "too big".to_owned())]);
    assert_eq!(done.delivered, vec![msg("a", 1)]);
    assert!(s.is_idle(), "nothing is sent again");
}

#[test]
fn attempts_are_bounded() {
    let mut s = Scheduler::new(options(8, 3), 7);
    s.push(msg("a", 0));
    let fail = Failure {
        index: 0,
        retryable: true,
        reason: "ServiceUnavailable".into(),
    };
    let mut now = Duration::ZERO;
    for _ in 0..2 {
        let b = s.next_batch(now).unwrap();
        assert!(s
            .complete(b.id, std::slice::from_ref(&fail), now)
            .gave_up
            .is_none());
        now = s.next_wake().unwrap();
    }
    let b = s.next_batch(now).unwrap();
    let gave_up = s.complete(b.id, &[fail], now).gave_up.unwrap();
    assert_eq!((gave_up.item, gave_up.attempts), (msg("a", 0), 3));
}

#[test]
fn backoff_grows_exponentially_up_to_the_cap() {
    let b = Backoff {
        base: Duration::from_millis(100),
        cap: Duration::from_secs(1),
        max_attempts: 10,
    };
    let mut rng = fastrand::Rng::with_seed(3);
    for (attempts, full) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (9, 1000)] {
        let d = b.delay(attempts, &mut rng);
        let full = Duration::from_millis(full);
        assert!(d >= full / 2 && d <= full, "attempt {attempts}: {d:?}");
    }
}

#[test]
fn finished_groups_are_forgotten() {
    let mut s = Scheduler::new(options(8, 3), 7);
    for g in 0..100 {
        s.push(msg(&g.to_string(), 0));
    }
    while let Some(b) = s.next_batch(Duration::ZERO) {
        s.complete(b.id, &[], Duration::ZERO);
    }
    assert!(s.is_idle());
    assert!(s.groups.is_empty() && s.ready.is_empty() && s.backing_off.is_empty());
}

/// One step of a simulated sender.
#[derive(Debug, Clone)]
enum Step {
    /// Queue the next message of the stream.
    Push,
    /// Hand out batches while the scheduler gives any.
    Dispatch,
    /// Complete the in-flight batch at this position (modulo their number), each entry
    /// failing per the codes: 0–5 delivered, 6–8 retryable failure, 9 sender fault.
    Complete(usize, Vec<u8>),
    /// Let time pass (milliseconds).
    Advance(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Push),
        2 => Just(Step::Dispatch),
        2 => (any::<usize>(), prop::collection::vec(0u8..10, 10)).prop_map(|(i, f)| Step::Complete(i, f)),
        1 => (0u64..3000).prop_map(Step::Advance),
    ]
}

/// The simulated world: what was sent, what is in flight, what each group resolved.
struct Sim {
    s: Scheduler<Msg>,
    now: Duration,
    in_flight: Vec<Batch<Msg>>,
    groups_in_flight: HashSet<String>,
    /// Per group, how many messages were pushed.
    pushed: HashMap<String, usize>,
    /// Per group, the ordinals resolved (delivered or refused), in resolution order.
    resolved: HashMap<String, Vec<usize>>,
    /// Messages that failed retryably at least once.
    failed: HashSet<(String, usize)>,
    delivered: usize,
    gave_up: bool,
    max_in_flight: usize,
}

impl Sim {
    fn push(&mut self, m: Msg) {
        *self.pushed.entry(m.group.clone()).or_default() += 1;
        self.s.push(m);
    }

    /// The group's messages pushed and not resolved, in order.
    fn unresolved(&self, group: &str) -> Vec<usize> {
        let done: HashSet<usize> = self
            .resolved
            .get(group)
            .map(|r| r.iter().copied().collect())
            .unwrap_or_default();
        (0..self.pushed.get(group).copied().unwrap_or(0))
            .filter(|n| !done.contains(n))
            .collect()
    }

    fn dispatch(&mut self) {
        while let Some(batch) = self.s.next_batch(self.now) {
            assert!(!batch.items.is_empty() && batch.items.len() <= 10);
            let mut runs: Vec<(String, Vec<usize>)> = Vec::new();
            for m in &batch.items {
                match runs.last_mut() {
                    Some((g, run)) if *g == m.group => run.push(m.ordinal),
                    _ => runs.push((m.group.clone(), vec![m.ordinal])),
                }
            }
            for (group, run) in runs {
                assert!(
                    self.groups_in_flight.insert(group.clone()),
                    "group {group} already in flight, or in two runs of one batch"
                );
                // A run is the group's first unresolved messages, in order.
                let first = self.unresolved(&group);
                assert_eq!(run, first[..run.len()], "group {group} out of order");
            }
            self.in_flight.push(batch);
            assert!(self.in_flight.len() <= self.max_in_flight);
        }
    }

    fn complete(&mut self, pick: usize, codes: &[u8]) {
        if self.in_flight.is_empty() {
            return;
        }
        let batch = self.in_flight.remove(pick % self.in_flight.len());
        let failures: Vec<Failure> = codes
            .iter()
            .take(batch.items.len())
            .enumerate()
            .filter(|(_, c)| **c >= 6)
            .map(|(index, c)| Failure {
                index,
                retryable: *c < 9,
                reason: format!("code {c}"),
            })
            .collect();
        for m in &batch.items {
            self.groups_in_flight.remove(&m.group);
        }
        for f in failures.iter().filter(|f| f.retryable) {
            let m = &batch.items[f.index];
            self.failed.insert((m.group.clone(), m.ordinal));
        }
        let done = self.s.complete(batch.id, &failures, self.now);
        self.delivered += done.delivered.len();
        let resolved: Vec<Msg> = done
            .delivered
            .into_iter()
            .chain(done.refused.into_iter().map(|(m, _)| m))
            .collect();
        for m in &resolved {
            self.resolved
                .entry(m.group.clone())
                .or_default()
                .push(m.ordinal);
        }
        // Only a message that failed may be overtaken by a later one of its group.
        for m in &resolved {
            for earlier in self.unresolved(&m.group) {
                if earlier >= m.ordinal {
                    break;
                }
                assert!(
                    self.failed.contains(&(m.group.clone(), earlier)),
                    "{}#{} overtook {earlier}, which never failed",
                    m.group,
                    m.ordinal
                );
            }
        }
        self.gave_up |= done.gave_up.is_some();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn each_message_is_resolved_once_overtaken_only_after_a_failure_one_batch_per_group(
        stream in prop::collection::vec(0u8..12, 0..200),
        steps in prop::collection::vec(step(), 0..400),
        max_in_flight in 1usize..9,
        max_attempts in 1u32..6,
        seed in any::<u64>(),
    ) {
        let mut ordinals: HashMap<String, usize> = HashMap::new();
        let messages: Vec<Msg> = stream
            .iter()
            .map(|g| {
                let group = format!("order-{g}");
                let n = ordinals.entry(group.clone()).or_default();
                *n += 1;
                msg(&group, *n - 1)
            })
            .collect();
        let mut sim = Sim {
            s: Scheduler::new(options(max_in_flight, max_attempts), seed),
            now: Duration::ZERO,
            in_flight: Vec::new(),
            groups_in_flight: HashSet::new(),
            pushed: HashMap::new(),
            resolved: HashMap::new(),
            failed: HashSet::new(),
            delivered: 0,
            gave_up: false,
            max_in_flight,
        };
        let mut next = messages.iter();
        for step in steps {
            match step {
                Step::Push => if let Some(m) = next.next() { sim.push(m.clone()) },
                Step::Dispatch => sim.dispatch(),
                Step::Complete(pick, codes) => sim.complete(pick, &codes),
                Step::Advance(ms) => sim.now += Duration::from_millis(ms),
            }
            if sim.gave_up { break; }
        }
        // Never twice, whether or not sending stopped.
        for (group, got) in &sim.resolved {
            let once: HashSet<&usize> = got.iter().collect();
            prop_assert_eq!(once.len(), got.len(), "group {} resolved one twice", group);
        }
        // Drain: everything left is sent with no more failures.
        if !sim.gave_up {
            for m in next { sim.push(m.clone()); }
            let mut rounds = 0;
            while !sim.s.is_idle() {
                rounds += 1;
                prop_assert!(rounds < 10_000, "scheduler made no progress");
                sim.dispatch();
                if sim.in_flight.is_empty() {
                    let wake = sim.s.next_wake();
                    prop_assert!(wake.is_some(), "waiting messages but nothing due");
                    sim.now = sim.now.max(wake.unwrap_or_default());
                } else {
                    sim.complete(0, &[]);
                }
            }
            // Each message resolved exactly once.
            for (group, count) in &ordinals {
                let mut got = sim.resolved.get(group).cloned().unwrap_or_default();
                got.sort_unstable();
                let want: Vec<usize> = (0..*count).collect();
                prop_assert_eq!(got, want, "group {}", group);
            }
            prop_assert_eq!(sim.s.waiting(), 0);
        }
    }
}
