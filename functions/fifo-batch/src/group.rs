//! A batch split into message groups, in order of first appearance, arrival order kept
//! within each; every record's `messageId` checked first.

use crate::error::BatchError;
use aws_lambda_events::sqs::SqsMessage;
use std::collections::HashMap;
use tokio::time::Instant;

/// The attribute SQS FIFO sets to a message's group.
pub const GROUP_ATTRIBUTE: &str = "MessageGroupId";

/// The records of one message group, in arrival order, as a group processor gets them.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// The `MessageGroupId`; `None` for a record without one, which is a group of its own.
    pub id: Option<&'a str>,
    /// The group's records in arrival order; each has a non-empty `messageId`.
    pub records: Vec<&'a SqsMessage>,
    /// The invocation's deadline: start no work that cannot end before it.
    pub deadline: Instant,
}

impl<'a> Group<'a> {
    /// The `messageId` of record `index` (empty only past the end).
    pub fn message_id(&self, index: usize) -> &'a str {
        self.records
            .get(index)
            .and_then(|r| r.message_id.as_deref())
            .unwrap_or_default()
    }
}

/// A group and the position in the batch of each of its records.
pub(crate) struct Planned<'a> {
    pub(crate) group: Group<'a>,
    pub(crate) positions: Vec<usize>,
}

/// Splits `records` into groups; fails if any record lacks a `messageId`.
pub(crate) fn plan(
    records: &[SqsMessage],
    deadline: Instant,
) -> Result<Vec<Planned<'_>>, BatchError> {
    if let Some(index) = records
        .iter()
        .position(|r| r.message_id.as_deref().is_none_or(str::is_empty))
    {
        return Err(BatchError::MissingMessageId { index });
    }
    let mut planned: Vec<Planned<'_>> = Vec::new();
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for (position, record) in records.iter().enumerate() {
        let id = record.attributes.get(GROUP_ATTRIBUTE).map(String::as_str);
        let at = match id.and_then(|id| by_id.get(id)) {
            Some(&at) => at,
            None => {
                if let Some(id) = id {
                    by_id.insert(id, planned.len());
                }
                planned.push(Planned {
                    group: Group {
                        id,
                        records: Vec::new(),
                        deadline,
                    },
                    positions: Vec::new(),
                });
                planned.len() - 1
            }
        };
        planned[at].group.records.push(record);
        planned[at].positions.push(position);
    }
    Ok(planned)
}
