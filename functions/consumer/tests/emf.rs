//! The consumer's metric document: what one invocation counted, in Embedded Metric Format
//! (its own test binary: the metrics recorder is one per process).

// A test file throughout: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use consumer::apply::Applied;
use consumer::emf;
use convoy_core::sequencer::{Disposition, VoidRefusal};
use convoy_core::{Rejection, Seq};

#[test]
fn an_invocation_s_counts_go_to_one_document_and_start_again_from_zero() {
    let metrics = emf::install("LedgerConvoy/test".into()).unwrap();
    let applied = Applied {
        results: vec![
            Ok(Disposition::Applied),
            Ok(Disposition::Applied),
            Ok(Disposition::Rejected(Rejection::NoItems)),
            Ok(Disposition::Parked),
            Ok(Disposition::Duplicate),
            Ok(Disposition::Conflict { counted: true }),
            Ok(Disposition::Voided),
            Ok(Disposition::VoidRefused(VoidRefusal::Processed)),
        ],
        drained: vec![Seq::new(9).unwrap(), Seq::new(10).unwrap()],
        ..Applied::default()
    };
    emf::record_group(&applied);
    emf::record_batch(10, 2);
    let mut doc = Vec::new();
    metrics.flush(&mut doc).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    let expected = [
        (emf::APPLIED, 2.0),
        (emf::REJECTED, 1.0),
        (emf::PARKED, 1.0),
        (emf::DRAINED, 2.0),
        (emf::DUPLICATES, 1.0),
        (emf::CONFLICTS, 1.0),
        (emf::VOIDED, 1.0),
        (emf::RECORDS, 10.0),
        (emf::RECORDS_FAILED, 2.0),
    ];
    for (name, value) in expected {
        assert_eq!(doc[name].as_f64(), Some(value), "{name} in {doc}");
    }
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "LedgerConvoy/test"
    );
    // The next invocation counts from zero, and says so.
    let mut next = Vec::new();
    metrics.flush(&mut next).unwrap();
    let next: serde_json::Value = serde_json::from_slice(&next).unwrap();
    assert_eq!(next[emf::APPLIED].as_f64(), Some(0.0), "{next}");
}
