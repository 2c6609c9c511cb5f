//! Scenarios 2 and 3: orders whose transactions are spread over several ledgers — uploaded
//! together, or the later part first — end as the state machine applied in `seq` order.

// A test file throughout: a failed unwrap is a failed test, helpers included.
#![allow(clippy::unwrap_used)]

use convoy_local::pipeline::Upload;
use convoy_tests::{check, generate, model, Harness};
use serde_json::Value;

/// Each order's lines cut in `parts` consecutive runs (some may be empty), in `seq` order.
fn split(rng: &mut fastrand::Rng, lives: &[Vec<Value>], parts: usize) -> Vec<Vec<Vec<Value>>> {
    let mut out = vec![Vec::new(); parts];
    for life in lives {
        let mut cuts: Vec<usize> = (1..parts).map(|_| rng.usize(0..=life.len())).collect();
        cuts.sort_unstable();
        cuts.insert(0, 0);
        cuts.push(life.len());
        for (p, w) in cuts.windows(2).enumerate() {
            out[p].push(life[w[0]..w[1]].to_vec());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_spread_over_ledgers_uploaded_together_end_in_seq_order() {
    let h = Harness::start().await.unwrap();
    let ids: Vec<String> = (0..20).map(|i| h.order_id(&format!("I-{i}"))).collect();
    let lives = generate::orders(2, &ids);
    let mut rng = fastrand::Rng::with_seed(20);
    let ledgers: Vec<Vec<u8>> = split(&mut rng, &lives, 3)
        .into_iter()
        .map(|part| generate::jsonl(&generate::interleave(&mut rng, part)))
        .collect();
    let want = model::views(&generate::transactions(&lives.concat()).unwrap());
    assert_eq!(want.len(), 20);

    let running = h.start_in_process().await.unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        let uploads =
            futures::future::try_join_all(ledgers.iter().enumerate().map(|(i, l)| async move {
                h.upload(&format!("part-{i}.jsonl"), l.clone()).await
            }))
            .await
            .unwrap();
        let statuses = h.settle(running, &uploads).await.unwrap();
        for ((status, upload), ledger) in statuses.iter().zip(&uploads).zip(&ledgers) {
            check::status(status, &check::Expected::done(&upload.key, ledger, 0)).unwrap();
        }
        // Every transaction was sent once: no duplicate reached the consumer.
        check::views_except(&h.views().await.unwrap(), &want, &[]).unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn later_ledger_first_parks_then_the_earlier_one_drains() {
    let h = Harness::start().await.unwrap();
    let ids: Vec<String> = (0..8).map(|i| h.order_id(&format!("P-{i}"))).collect();
    let lives = generate::orders(3, &ids);
    let mut rng = fastrand::Rng::with_seed(30);
    // The earlier ledger has at least `seq` 1 of every order, the later one the rest.
    let (earlier, later): (Vec<_>, Vec<_>) = lives
        .iter()
        .map(|life| {
            let cut = rng.usize(1..=life.len().saturating_sub(1).max(1));
            (life[..cut].to_vec(), life[cut..].to_vec())
        })
        .unzip();
    let earlier = generate::interleave(&mut rng, earlier);
    let later = generate::interleave(&mut rng, later);
    assert!(later.len() >= 8, "the later ledger has something to park");

    let parked_only = model::views(&generate::transactions(&later).unwrap());
    let want = model::views(&generate::transactions(&lives.concat()).unwrap());

    let running = h.start_in_process().await.unwrap();
    h.with_running(running, async |running| {
        let settle = async |name: &str, lines: &[Value]| -> Upload {
            let bytes = generate::jsonl(lines);
            check::settled(&h, running, name, &bytes, 0).await.unwrap()
        };

        settle("later.jsonl", &later).await;
        let got = h.views().await.unwrap();
        for view in got.values() {
            assert_eq!(view["status"], "new", "{view}");
            assert_eq!(view["next_seq"], 1, "{view}");
            assert!(!view["parked"].as_array().unwrap().is_empty(), "{view}");
        }
        check::views_except(&got, &parked_only, &[]).unwrap();

        settle("earlier.jsonl", &earlier).await;
        let got = h.views().await.unwrap();
        for view in got.values() {
            assert_eq!(view["parked"], serde_json::json!([]), "{view}");
        }
        check::views_except(&got, &want, &[]).unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_order_parked_whole_drains_in_many_commits() {
    const ADDS: usize = 260;
    let h = Harness::start().await.unwrap();
    let id = h.order_id("LONG");
    let mut life =
        vec![serde_json::json!({"order_id": id, "seq": 1, "op": "create", "currency": "EUR"})];
    for i in 0..ADDS {
        life.push(
            serde_json::json!({"order_id": id, "seq": i + 2, "op": "add",
            "txn_id": format!("t{i}"), "amount": format!("{i}.{:02}", i % 100)}),
        );
    }
    life.push(serde_json::json!({"order_id": id, "seq": ADDS + 2, "op": "pay"}));
    // seq 1 comes last: everything else is parked first, then drained at once (more
    // than one transactional write holds).
    let (first, rest) = life.split_at(1);
    let want = model::views(&generate::transactions(&life).unwrap());
    let parked_only = model::views(&generate::transactions(rest).unwrap());

    let running = h.start_in_process().await.unwrap();
    let h = &h;
    h.with_running(running, async |running| {
        for (name, lines, want) in [
            ("rest.jsonl", rest, &parked_only),
            ("first.jsonl", first, &want),
        ] {
            let bytes = generate::jsonl(lines);
            check::settled(h, running, name, &bytes, 0).await.unwrap();
            check::views_except(&h.views().await.unwrap(), want, &[]).unwrap();
        }
    })
    .await;
}
