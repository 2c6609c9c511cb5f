//! One record of an SQS FIFO batch, parsed: its transaction, or why it has none.

use crate::error::Poison;
use aws_lambda_events::sqs::SqsMessage;
use convoy_core::Transaction;

/// One record of a group: its message id and its transaction, or why it has none.
#[derive(Debug)]
pub struct Record {
    pub message_id: String,
    /// `ApproximateReceiveCount`: how often SQS has delivered this message.
    pub receive_count: Option<u32>,
    pub txn: Result<Transaction, Poison>,
}

/// Parses `message` of message group `group` (`None`: the record has no group).
pub fn parse(message: &SqsMessage, group: Option<&str>) -> Record {
    let message_id = message.message_id.clone().unwrap_or_default();
    let receive_count = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok());
    let txn = match (message.body.as_deref(), group) {
        (_, None) => Err(Poison::NoGroup),
        (None, _) => Err(Poison::NoBody),
        (Some(body), Some(group)) => match serde_json::from_str::<Transaction>(body) {
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
