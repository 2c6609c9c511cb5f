//! Scenario 1: each conformance vector alone through the whole pipeline — the orders, the
//! rejects report and the status record are what the vector says.

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

use convoy_tests::{check, vectors, Harness};
use std::slice;

async fn vector(name: &str) {
    let h = Harness::start().await.unwrap();
    let v = vectors::load(name, &h.prefix()).unwrap();
    let running = h.start_in_process().await.unwrap();
    h.with_running(running, async |running| {
        let upload = h.upload(&v.name, v.ledger.clone()).await.unwrap();
        let key = upload.key.clone();
        let statuses = h.settle(running, slice::from_ref(&upload)).await.unwrap();

        let refused = v.rejects.len() as u64;
        check::status(
            &statuses[0],
            &check::Expected::done(&key, &v.ledger, refused),
        )
        .unwrap();
        let report = h
            .pipeline
            .read_object(&check::rejects_key(&key))
            .await
            .unwrap();
        match report {
            Some(report) => check::report(&key, &v.ledger, &report, &v.rejects).unwrap(),
            None => assert!(v.rejects.is_empty(), "no rejects report for {key}"),
        }
        check::views(&h.views().await.unwrap(), &v.expected).unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v1_interleaved() {
    vector(vectors::ALL[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v2_reordered() {
    vector(vectors::ALL[1]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v3_gap_dup_conflict() {
    vector(vectors::ALL[2]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v4_quoted_csv() {
    vector(vectors::ALL[3]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v5_edges() {
    vector(vectors::ALL[4]).await;
}
