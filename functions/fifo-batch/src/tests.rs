//! The crate on its own: a real SQS FIFO event (`fixtures/fifo-batch.json`) through both
//! modes, with tokio's paused clock for everything about time.

use crate::{for_each_group, for_each_record, BatchError, Group, GroupReport};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use proptest::prelude::*;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::{sleep, Instant};

/// Ten records: account-17 at 0, 2, 5, 8; account-42 at 1, 4, 7; account-99 at 3, 6, 9.
fn fixture() -> SqsEvent {
    serde_json::from_str(include_str!("fixtures/fifo-batch.json")).unwrap()
}

fn ids(event: &SqsEvent, positions: &[usize]) -> Vec<String> {
    positions
        .iter()
        .map(|p| event.records[*p].message_id.clone().unwrap())
        .collect()
}

fn failures(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

fn group_of(record: &SqsMessage) -> &str {
    &record.attributes["MessageGroupId"]
}

fn later() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

#[derive(Debug, thiserror::Error)]
#[error("refused")]
struct Refused;

#[tokio::test]
async fn groups_in_order_of_appearance_records_in_arrival_order() {
    let mut event = fixture();
    // Records without a group are groups of their own.
    event.records[4].attributes.remove("MessageGroupId");
    event.records[9].attributes.remove("MessageGroupId");
    let seen = Mutex::new(Vec::new());
    let response = for_each_group(&event.records, later(), |group: Group<'_>| {
        let ids: Vec<String> = (0..group.records.len())
            .map(|i| group.message_id(i).to_owned())
            .collect();
        seen.lock()
            .unwrap()
            .push((group.id.map(str::to_owned), ids));
        async { GroupReport::done() }
    })
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let want = vec![
        (Some("account-17".to_owned()), ids(&event, &[0, 2, 5, 8])),
        (Some("account-42".to_owned()), ids(&event, &[1, 7])),
        (Some("account-99".to_owned()), ids(&event, &[3, 6])),
        (None, ids(&event, &[4])),
        (None, ids(&event, &[9])),
    ];
    assert_eq!(seen.into_inner().unwrap(), want);
}

#[tokio::test(start_paused = true)]
async fn a_slow_group_does_not_delay_the_others() {
    let event = fixture();
    let start = Instant::now();
    let done = Mutex::new(Vec::new());
    let response = for_each_record(&event.records, later(), |record| {
        let done = &done;
        async move {
            let slow = group_of(record) == "account-17";
            sleep(Duration::from_secs(if slow { 100 } else { 1 })).await;
            let at = (Instant::now() - start).as_secs();
            done.lock()
                .unwrap()
                .push((record.message_id.clone().unwrap(), at));
            Ok::<_, Refused>(())
        }
    })
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let done = done.into_inner().unwrap();
    let at = |p: usize| {
        let id = event.records[p].message_id.clone().unwrap();
        done.iter().find(|(i, _)| *i == id).unwrap().1
    };
    // Each group's records one after the other; the groups side by side.
    assert_eq!([at(1), at(4), at(7)], [1, 2, 3]);
    assert_eq!([at(3), at(6), at(9)], [1, 2, 3]);
    assert_eq!([at(0), at(2), at(5), at(8)], [100, 200, 300, 400]);
    assert_eq!((Instant::now() - start).as_secs(), 400);
}

#[tokio::test]
async fn a_failure_skips_the_rest_of_its_group_only() {
    let event = fixture();
    let failing = event.records[4].message_id.clone();
    let called = Mutex::new(Vec::new());
    let response = for_each_record(&event.records, later(), |record| {
        called
            .lock()
            .unwrap()
            .push(record.message_id.clone().unwrap());
        let fails = record.message_id == failing;
        async move {
            match fails {
                true => Err(Refused),
                false => Ok(()),
            }
        }
    })
    .await
    .unwrap();
    // account-42: 1 done, 4 fails, 7 is not handled.
    assert_eq!(failures(&response), ids(&event, &[4, 7]));
    let mut called = called.into_inner().unwrap();
    called.sort();
    let mut want = ids(&event, &[0, 1, 2, 3, 4, 5, 6, 8, 9]);
    want.sort();
    assert_eq!(called, want);
}

#[tokio::test]
async fn a_group_processor_reports_exactly_the_records_it_names() {
    let event = fixture();
    let response = for_each_group(&event.records, later(), |group| async move {
        match group.id {
            // Not a suffix: the processor decides.
            Some("account-17") => [1, 3].into_iter().collect(),
            Some("account-99") => [0].into_iter().collect(),
            _ => GroupReport::done(),
        }
    })
    .await
    .unwrap();
    // In batch order.
    assert_eq!(failures(&response), ids(&event, &[2, 3, 8]));
}

#[tokio::test]
async fn a_report_naming_a_record_the_group_lacks_fails_the_whole_group() {
    let event = fixture();
    let response = for_each_group(&event.records, later(), |group| async move {
        match group.id {
            Some("account-42") => [0, 3].into_iter().collect(),
            _ => GroupReport::done(),
        }
    })
    .await
    .unwrap();
    assert_eq!(failures(&response), ids(&event, &[1, 4, 7]));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cancels_a_slow_group_and_reports_only_its_records() {
    let event = fixture();
    let deadline = Instant::now() + Duration::from_secs(5);
    // Per record: account-17's second record never ends; the others take a second each.
    let stuck_id = event.records[2].message_id.clone();
    let stuck_id = &stuck_id;
    let response = for_each_record(&event.records, deadline, |record| async move {
        let stuck = record.message_id == *stuck_id;
        sleep(Duration::from_secs(if stuck { 1000 } else { 1 })).await;
        Ok::<_, Refused>(())
    })
    .await
    .unwrap();
    assert_eq!(failures(&response), ids(&event, &[2, 5, 8]));
    assert_eq!(Instant::now(), deadline);
    // Per group: a cancelled group reports all of its records.
    let deadline = Instant::now() + Duration::from_secs(5);
    let response = for_each_group(&event.records, deadline, |group| async move {
        let slow = group.id == Some("account-99");
        sleep(Duration::from_secs(if slow { 1000 } else { 1 })).await;
        GroupReport::done()
    })
    .await
    .unwrap();
    assert_eq!(failures(&response), ids(&event, &[3, 6, 9]));
    assert_eq!(Instant::now(), deadline);
}

#[tokio::test(start_paused = true)]
async fn a_processor_can_stop_before_the_deadline_it_is_given() {
    let event = fixture();
    let deadline = Instant::now() + Duration::from_secs(5);
    let response = for_each_group(&event.records, deadline, |group| async move {
        let mut report = GroupReport::done();
        for i in 0..group.records.len() {
            if Instant::now() + Duration::from_secs(2) > group.deadline {
                report.extend(i..group.records.len());
                break;
            }
            sleep(Duration::from_secs(2)).await;
        }
        report
    })
    .await
    .unwrap();
    // Two records of each group fit (from 0 s and from 2 s); a third would end after 5 s.
    assert_eq!(failures(&response), ids(&event, &[5, 7, 8, 9]));
    assert!(Instant::now() < deadline);
}

#[tokio::test]
async fn a_record_without_a_message_id_fails_the_call_before_anything_runs() {
    for id in [None, Some(String::new())] {
        let mut event = fixture();
        event.records[6].message_id = id;
        let called = Mutex::new(0);
        let result = for_each_record(&event.records, later(), |_| {
            *called.lock().unwrap() += 1;
            async { Ok::<_, Refused>(()) }
        })
        .await;
        assert_eq!(result, Err(BatchError::MissingMessageId { index: 6 }));
        assert_eq!(*called.lock().unwrap(), 0);
    }
}

proptest! {
    /// Any batch, any failures: reported are exactly the records of each group at and after
    /// its first failure, in batch order, and no record after a failure is handled.
    #[test]
    fn failures_are_each_groups_records_from_its_first_failure_on(
        records in prop::collection::vec((prop::option::weighted(0.9, 0usize..4), any::<bool>()), 1..=10),
    ) {
        let template = fixture().records.remove(0);
        let mut event = fixture();
        event.records = records
            .iter()
            .enumerate()
            .map(|(i, (group, _))| {
                let mut m = template.clone();
                m.message_id = Some(format!("m-{i}"));
                match group {
                    Some(g) => m.attributes.insert("MessageGroupId".into(), format!("g-{g}")),
                    None => m.attributes.remove("MessageGroupId"),
                };
                m
            })
            .collect();
        let fails = |m: &SqsMessage| {
            let i: usize = m.message_id.as_deref().unwrap()[2..].parse().unwrap();
            records[i].1
        };
        let called = Mutex::new(Vec::new());
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let response = rt
            .block_on(for_each_record(&event.records, later_in(&rt), |m| {
                called.lock().unwrap().push(m.message_id.clone().unwrap());
                let failed = fails(m);
                async move { if failed { Err("refused") } else { Ok(()) } }
            }))
            .unwrap();
        let mut want = Vec::new();
        let mut handled = Vec::new();
        for (i, (group, _)) in records.iter().enumerate() {
            let earlier_failed = group.is_some()
                && records[..i].iter().any(|(g, failed)| g == group && *failed);
            if !earlier_failed {
                handled.push(format!("m-{i}"));
            }
            if earlier_failed || records[i].1 {
                want.push(format!("m-{i}"));
            }
        }
        prop_assert_eq!(failures(&response), want);
        let mut called = called.into_inner().unwrap();
        called.sort_by_key(|id| id[2..].parse::<usize>().unwrap());
        prop_assert_eq!(called, handled);
    }
}

fn later_in(rt: &tokio::runtime::Runtime) -> Instant {
    rt.block_on(async { later() })
}
