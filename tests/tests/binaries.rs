//! Scenario 10: the real function binaries (behind Lambda's Invoke API, `cargo lambda
//! watch`, started by `infra/lambdas.sh`) run vector v1 through the pipeline.
//!
//! Needs `CONVOY_LAMBDA_ENDPOINT` (e.g. `http://127.0.0.1:9000`); `infra/test.sh` sets it.
//! Without it this test fails: a test that passes without running would hide a defect.

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

use convoy_local::function::{HttpFunction, LambdaFunction};
use convoy_tests::{chain, vectors, Harness};
use serde_json::json;
use std::time::Duration;

const HOW: &str =
    "run `bash infra/test.sh`, or start the binaries with `bash infra/lambdas.sh start` \
    and set CONVOY_LAMBDA_ENDPOINT=http://127.0.0.1:9000";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_real_binaries_run_vector_v1() {
    let endpoint = std::env::var("CONVOY_LAMBDA_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| panic!("CONVOY_LAMBDA_ENDPOINT is not set: {HOW}"));
    let h = Harness::start().await.unwrap();
    let timeout = Duration::from_secs(120);
    let ledger = HttpFunction::new(&endpoint, "ledger", timeout).unwrap();
    let consumer = HttpFunction::new(&endpoint, "consumer", timeout).unwrap();
    // Both answer an empty batch soon, or the mappings would only time out later.
    for name in ["ledger", "consumer"] {
        let probe = HttpFunction::new(&endpoint, name, Duration::from_secs(20)).unwrap();
        if let Err(e) = probe.invoke(json!({"Records": []})).await {
            panic!("{name} at {endpoint} does not answer: {}; {HOW}", chain(&e));
        }
    }

    let running = h.start_with(ledger, consumer).await.unwrap();
    let name = vectors::ALL[0].name;
    let outcome = h
        .with_running(running, async |running| {
            vectors::check(&h, running, name).await
        })
        .await;
    if let Err(e) = outcome {
        panic!("{name} through the real binaries: {}", chain(&*e));
    }
}
