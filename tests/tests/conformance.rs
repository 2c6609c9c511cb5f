//! Scenario 1: each conformance vector alone through the whole pipeline — the orders, the
//! rejects report and the status record are what the vector says; two of them gzipped too.

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

use convoy_tests::{vectors, Harness};

async fn vector(name: &str) {
    vector_as(name, false).await;
}

async fn vector_as(name: &str, gzip: bool) {
    let h = Harness::start().await.unwrap();
    let running = h.start_in_process().await.unwrap();
    let outcome = h
        .with_running(running, async |running| {
            vectors::check_as(&h, running, name, gzip).await
        })
        .await;
    if let Err(e) = outcome {
        panic!("{name} (gzip: {gzip}): {}", convoy_tests::chain(&*e));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v1_interleaved() {
    vector(vectors::ALL[0].name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v2_reordered() {
    vector(vectors::ALL[1].name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v3_gap_dup_conflict() {
    vector(vectors::ALL[2].name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v4_quoted_csv() {
    vector(vectors::ALL[3].name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v5_edges() {
    vector(vectors::ALL[4].name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v3_gap_dup_conflict_gzipped() {
    vector_as(vectors::ALL[2].name, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v4_quoted_csv_gzipped() {
    vector_as(vectors::ALL[3].name, true).await;
}
