//! One record of an SQS FIFO batch, parsed: its transaction, a resume message, or why it
//! has neither.

use crate::error::Poison;
use crate::resume::Resume;
use aws_lambda_events::sqs::SqsMessage;
use convoy_core::Transaction;

/// What a record carries.
#[derive(Debug)]
pub enum Body {
    Txn(Transaction),
    /// A drain to go on with ([`crate::resume`]).
    Resume(Resume),
}

/// One record of a group: its message id and what it carries, or why it carries nothing.
#[derive(Debug)]
pub struct Record {
    pub message_id: String,
    /// `ApproximateReceiveCount`: how often SQS has delivered this message.
    pub receive_count: Option<u32>,
    pub body: Result<Body, Poison>,
}

impl Record {
    /// The transaction, if the record carries one.
    pub fn txn(&self) -> Option<&Transaction> {
        match &self.body {
            Ok(Body::Txn(t)) => Some(t),
            _ => None,
        }
    }

    pub fn is_resume(&self) -> bool {
        matches!(self.body, Ok(Body::Resume(_)))
    }
}

/// Parses `message` of message group `group` (`None`: the record has no group).
pub fn parse(message: &SqsMessage, group: Option<&str>) -> Record {
    let message_id = message.message_id.clone().unwrap_or_default();
    let receive_count = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok());
    let body = match (message.body.as_deref(), group) {
        (_, None) => Err(Poison::NoGroup),
        (None, _) => Err(Poison::NoBody),
        (Some(body), Some(group)) => parse_body(body, group),
    };
    Record {
        message_id,
        receive_count,
        body,
    }
}

fn parse_body(body: &str, group: &str) -> Result<Body, Poison> {
    let (body, order) = match serde_json::from_str::<Resume>(body) {
        Ok(r) => {
            let order = r.resume_drain.to_string();
            (Body::Resume(r), order)
        }
        // Not a resume message: the transaction's own error says what is wrong.
        Err(_) => {
            let t = serde_json::from_str::<Transaction>(body).map_err(Poison::Body)?;
            let order = t.order_id.to_string();
            (Body::Txn(t), order)
        }
    };
    if order != group {
        return Err(Poison::WrongGroup {
            group: group.to_owned(),
            body_order: order,
        });
    }
    Ok(body)
}
