//! SQS adapter: one `SendMessageBatch` to the FIFO transactions queue per batch.

use crate::message::OutgoingMessage;
use crate::ports::{EntryFailure, PublishError, TransactionPublisher};
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use aws_sdk_sqs::Client;

/// Publishes transactions to the transactions queue.
#[derive(Debug, Clone)]
pub struct SqsPublisher {
    client: Client,
    queue_url: String,
}

impl SqsPublisher {
    pub fn new(client: Client, queue_url: String) -> Self {
        Self { client, queue_url }
    }
}

fn attribute(data_type: &str, value: String) -> Result<MessageAttributeValue, PublishError> {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .map_err(|e| PublishError(Box::new(e)))
}

fn entry(index: usize, m: &OutgoingMessage) -> Result<SendMessageBatchRequestEntry, PublishError> {
    SendMessageBatchRequestEntry::builder()
        .id(index.to_string())
        .message_body(&m.body)
        .message_group_id(&m.group_id)
        .message_deduplication_id(&m.dedup_id)
        .message_attributes("ledger", attribute("String", m.ledger.to_string())?)
        .message_attributes("line", attribute("Number", m.line.to_string())?)
        .build()
        .map_err(|e| PublishError(Box::new(e)))
}

impl TransactionPublisher for SqsPublisher {
    async fn send_batch(
        &self,
        batch: &[OutgoingMessage],
    ) -> Result<Vec<EntryFailure>, PublishError> {
        let entries = batch
            .iter()
            .enumerate()
            .map(|(i, m)| entry(i, m))
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| PublishError(Box::new(e)))?;
        out.failed()
            .iter()
            .map(|f| {
                let index = f.id().parse::<usize>().ok().filter(|i| *i < batch.len());
                let index = index.ok_or_else(|| {
                    PublishError(
                        format!("SendMessageBatch reported an unknown entry id {:?}", f.id())
                            .into(),
                    )
                })?;
                Ok(EntryFailure {
                    index,
                    sender_fault: f.sender_fault(),
                    code: f.code().to_owned(),
                    message: f.message().unwrap_or_default().to_owned(),
                })
            })
            .collect()
    }
}
