//! The SQS FIFO events of the handler tests, from fixtures, and the views a store ends
//! with. Shared by the unit tests and `tests/dynamodb.rs` (which includes this file).

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use convoy_core::OrderView;
use convoy_store::OrderReader;
use std::collections::BTreeMap;

/// The fixture event `fixtures/<name>.json`.
pub fn fixture(name: &str) -> SqsEvent {
    let text = match name {
        "mixed_groups" => include_str!("../fixtures/mixed_groups.json"),
        "poison" => include_str!("../fixtures/poison.json"),
        "parked_first" => include_str!("../fixtures/parked_first.json"),
        "gap_closed" => include_str!("../fixtures/gap_closed.json"),
        "single" => include_str!("../fixtures/single.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap()
}

/// An event of the given (group, body) records, each a copy of the fixture's record with
/// its own message id.
pub fn event_of(records: &[(String, String)]) -> SqsEvent {
    let mut event = fixture("single");
    let template: SqsMessage = event.records.remove(0);
    event.records = records
        .iter()
        .enumerate()
        .map(|(i, (group, body))| {
            let mut m = template.clone();
            m.message_id = Some(format!("{i:08}-{group}-{}", body.len()));
            m.attributes.insert("MessageGroupId".into(), group.clone());
            m.body = Some(body.clone());
            m
        })
        .collect();
    event
}

/// Every order in `store`, as the JSON a user sees, by `order_id`.
pub async fn views<S: OrderReader>(store: &S) -> BTreeMap<String, serde_json::Value> {
    let mut views = BTreeMap::new();
    for s in store.list_orders().await.unwrap() {
        let stored = store.load_stored_order(&s.order_id).await.unwrap().unwrap();
        let v = serde_json::to_value(OrderView::from(&stored)).unwrap();
        views.insert(s.order_id.to_string(), v);
    }
    views
}

/// The drain queue of tests that expect no resume message: one fails the test.
pub struct NoResume;

impl consumer::resume::DrainQueue for NoResume {
    async fn resume(
        &self,
        resume: &consumer::resume::Resume,
    ) -> Result<(), consumer::resume::ResumeError> {
        panic!("no resume message expected, got {resume:?}")
    }
}
