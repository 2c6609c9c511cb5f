//! The ledger function's metric document (its own test binary: the metrics recorder is one
//! per process).

// A test file throughout: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use ledger::emf;
use ledger::status::{LedgerStatus, State};
use std::time::Duration;

fn status(state: State, lines_read: u64, sent: u64, refused: u64) -> LedgerStatus {
    serde_json::from_value(serde_json::json!({
        "bucket": "b", "key": "ledgers/x.jsonl", "version_id": null, "etag": null,
        "size": null, "sequencer": null, "state": state, "lines_read": lines_read,
        "sent": sent, "refused": refused, "error": null, "rejects_key": null,
        "started_at": "2026-12-03T10:00:00Z", "updated_at": "2026-12-03T10:00:02Z"
    }))
    .unwrap()
}

#[test]
fn a_done_and_a_failed_ledger_are_counted_with_their_lines_and_durations() {
    let metrics = emf::install("LedgerConvoy/test".into()).unwrap();
    emf::record_ledger(&status(State::Done, 1_000, 990, 10), Duration::from_secs(2));
    emf::record_ledger(&status(State::Failed, 500, 400, 0), Duration::from_secs(1));
    let mut doc = Vec::new();
    metrics.flush(&mut doc).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    for (name, value) in [
        (emf::LEDGERS_DONE, 1.0),
        (emf::LEDGERS_FAILED, 1.0),
        (emf::TRANSACTIONS_SENT, 1_390.0),
        (emf::LINES_READ, 1_500.0),
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
    assert_eq!(values(emf::LEDGER_DURATION), vec![1_000.0, 2_000.0]);
    assert_eq!(values(emf::LEDGER_LINES_PER_SECOND), vec![500.0, 500.0]);
}
