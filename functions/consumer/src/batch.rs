//! An SQS FIFO batch split into message groups (one per order), each record parsed.

use crate::error::Poison;
use aws_lambda_events::sqs::SqsMessage;
use convoy_core::Transaction;
use std::collections::HashMap;

/// The attribute SQS FIFO sets to the message group (here: the order id).
pub const GROUP_ATTRIBUTE: &str = "MessageGroupId";

/// One record of a batch: its message id and its transaction, or why it has none.
#[derive(Debug)]
pub struct Record {
    /// Empty only if Lambda sent a record without one (then it cannot be reported alone).
    pub message_id: String,
    /// `ApproximateReceiveCount`: how often SQS has delivered this message.
    pub receive_count: Option<u32>,
    pub txn: Result<Transaction, Poison>,
}

/// The records of one message group, in arrival order.
#[derive(Debug)]
pub struct Group {
    pub key: String,
    pub records: Vec<Record>,
}

/// Splits a batch into groups (in order of first appearance), keeping arrival order within
/// each. A record without a group forms a group of its own.
pub fn group(messages: Vec<SqsMessage>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for message in messages {
        let group = message.attributes.get(GROUP_ATTRIBUTE).cloned();
        let record = parse(message, group.as_deref());
        let key = match group {
            Some(g) => g,
            None => {
                groups.push(Group {
                    key: String::new(),
                    records: vec![record],
                });
                continue;
            }
        };
        match index.get(&key) {
            Some(&i) => groups[i].records.push(record),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push(Group {
                    key,
                    records: vec![record],
                });
            }
        }
    }
    groups
}

fn parse(message: SqsMessage, group: Option<&str>) -> Record {
    let message_id = message.message_id.unwrap_or_default();
    let receive_count = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok());
    let txn = match (message.body, group) {
        (_, None) => Err(Poison::NoGroup),
        (None, _) => Err(Poison::NoBody),
        (Some(body), Some(group)) => match serde_json::from_str::<Transaction>(&body) {
            Err(e) => Err(Poison::Body(e)),
            Ok(t) if t.order_id.as_str() != group => Err(Poison::WrongGroup {
                group: group.to_owned(),
                body_order: t.order_id.to_string(),
            }),
            Ok(t) => Ok(t),
        },
    };
    Record {
        message_id,
        receive_count,
        txn,
    }
}
