//! The ledger function's metric document (its own test binary: the metrics recorder is one
//! per process).

// A test file throughout: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use ledger::emf;
use ledger::status::State;
use std::time::Duration;

fn run(lines_read: u64, sent: u64, refused: u64, secs: u64) -> emf::Invocation {
    emf::Invocation {
        lines_read,
        sent,
        refused,
        took: Duration::from_secs(secs),
    }
}

#[test]
fn a_done_a_failed_and_a_continued_ledger_are_counted_with_their_lines_and_durations() {
    let metrics = emf::install("LedgerConvoy/test".into()).unwrap();
    emf::record_ledger(State::Done, run(1_000, 990, 10, 2));
    emf::record_ledger(State::Failed, run(500, 400, 0, 1));
    emf::record_ledger(State::Processing, run(300, 300, 0, 1));
    let mut doc = Vec::new();
    metrics.flush(&mut doc).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    for (name, value) in [
        (emf::LEDGERS_DONE, 1.0),
        (emf::LEDGERS_FAILED, 1.0),
        (emf::LEDGER_CONTINUATIONS, 1.0),
        (emf::TRANSACTIONS_SENT, 1_690.0),
        (emf::LINES_READ, 1_800.0),
        (emf::LINES_REFUSED, 10.0),
    ] {
        assert_eq!(doc[name].as_f64(), Some(value), "{name} in {doc}");
    }
    let values = |name: &str| -> Vec<f64> {
        let mut v: Vec<f64> = doc[name]
            .as_array()
            .unwrap_or_else(|| panic!("{name} in {doc}"))
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    assert_eq!(
        values(emf::LEDGER_DURATION),
        vec![1_000.0, 1_000.0, 2_000.0]
    );
    assert_eq!(
        values(emf::LEDGER_LINES_PER_SECOND),
        vec![300.0, 500.0, 500.0]
    );
}
