//! An event source mapping as Lambda runs it: poll a queue, invoke, delete only successes.

use crate::event::{sqs_event, QueueIdentity};
use crate::function::LambdaFunction;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("SQS {action} on {queue} failed")]
    Sqs {
        action: &'static str,
        queue: String,
        #[source]
        source: convoy_core::BoxError,
    },
    #[error("queue {0} has no QueueArn attribute")]
    NoArn(String),
}

/// Counters of one mapping, shared with whoever waits for the pipeline to settle.
#[derive(Debug, Default)]
pub struct Stats {
    pub invocations: AtomicU64,
    pub records: AtomicU64,
    pub deleted: AtomicU64,
    pub failed_records: AtomicU64,
    pub function_errors: AtomicU64,
    pub in_flight: AtomicU64,
    /// ReceiveMessage calls that returned messages (idle long polls are not counted).
    pub receives: AtomicU64,
    /// DeleteMessageBatch calls.
    pub delete_calls: AtomicU64,
}

/// How a mapping polls: Lambda's settings for the event source.
#[derive(Debug, Clone)]
pub struct MappingConfig {
    pub batch_size: i32,
    /// Concurrent pollers (Lambda scales FIFO consumers by message group).
    pub pollers: usize,
    /// Long-poll wait per receive, in seconds (short, so a stop is seen quickly).
    pub wait_seconds: i32,
}

pub struct Mapping<F> {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue: QueueIdentity,
    config: MappingConfig,
    function: F,
    pub stats: Arc<Stats>,
}

/// What became of one batch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchResult {
    pub received: usize,
    pub deleted: usize,
    pub failed: usize,
}

impl<F: LambdaFunction> Mapping<F> {
    pub async fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: &str,
        config: MappingConfig,
        function: F,
    ) -> Result<Self, MappingError> {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| sqs_error("GetQueueAttributes", queue_url, e))?;
        let arn = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .ok_or_else(|| MappingError::NoArn(queue_url.to_owned()))?;
        let region = arn.split(':').nth(3).unwrap_or("us-east-1").to_owned();
        Ok(Self {
            sqs,
            queue_url: queue_url.to_owned(),
            queue: QueueIdentity { arn, region },
            config,
            function,
            stats: Arc::new(Stats::default()),
        })
    }

    /// Polls until `stop` turns true, with the configured number of concurrent pollers.
    pub async fn run(&self, stop: watch::Receiver<bool>) {
        let pollers = (0..self.config.pollers.max(1)).map(|_| {
            let mut stop = stop.clone();
            async move {
                while !*stop.borrow() {
                    match self.poll_once().await {
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(queue = %self.queue_url, error = %e, "poll failed; retrying");
                            tokio::select! {
                                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                                _ = stop.changed() => {}
                            }
                        }
                    }
                }
            }
        });
        futures::future::join_all(pollers).await;
    }

    /// One receive → invoke → delete round.
    pub async fn poll_once(&self) -> Result<BatchResult, MappingError> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.config.batch_size.clamp(1, 10))
            .wait_time_seconds(self.config.wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| sqs_error("ReceiveMessage", &self.queue_url, e))?;
        let messages = received.messages();
        if messages.is_empty() {
            return Ok(BatchResult::default());
        }
        self.stats.receives.fetch_add(1, Ordering::SeqCst);
        self.stats.in_flight.fetch_add(1, Ordering::SeqCst);
        let result = self.invoke_and_settle(messages).await;
        self.stats.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }

    async fn invoke_and_settle(&self, messages: &[Message]) -> Result<BatchResult, MappingError> {
        let stats = &self.stats;
        stats.invocations.fetch_add(1, Ordering::SeqCst);
        stats
            .records
            .fetch_add(messages.len() as u64, Ordering::SeqCst);
        let event = sqs_event(&self.queue, messages);
        let succeeded: Vec<&Message> = match self.function.invoke(event).await {
            Ok(response) => {
                let ids: Vec<&str> = messages.iter().filter_map(|m| m.message_id()).collect();
                match failed_ids(&response, &ids) {
                    Some(failed) => messages
                        .iter()
                        .filter(|m| !m.message_id().is_some_and(|id| failed.contains(id)))
                        .collect(),
                    None => {
                        tracing::warn!(function = self.function.name(), %response,
                            "batchItemFailures names an unknown or empty itemIdentifier: the whole batch fails");
                        Vec::new()
                    }
                }
            }
            Err(e) => {
                stats.function_errors.fetch_add(1, Ordering::SeqCst);
                tracing::warn!(function = self.function.name(), error = %e, records = messages.len(),
                    "invocation failed: the whole batch returns to the queue");
                Vec::new()
            }
        };
        let failed = messages.len() - succeeded.len();
        stats
            .failed_records
            .fetch_add(failed as u64, Ordering::SeqCst);
        self.delete(&succeeded).await?;
        stats
            .deleted
            .fetch_add(succeeded.len() as u64, Ordering::SeqCst);
        Ok(BatchResult {
            received: messages.len(),
            deleted: succeeded.len(),
            failed,
        })
    }

    async fn delete(&self, messages: &[&Message]) -> Result<(), MappingError> {
        for chunk in messages.chunks(10) {
            let entries: Vec<DeleteMessageBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .build()
                        .ok()
                })
                .collect();
            self.stats.delete_calls.fetch_add(1, Ordering::SeqCst);
            let out = self
                .sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sqs_error("DeleteMessageBatch", &self.queue_url, e))?;
            for f in out.failed() {
                tracing::warn!(queue = %self.queue_url, id = f.id(), code = f.code(),
                    "delete failed: the message will be delivered again");
            }
        }
        Ok(())
    }
}

/// The ids a response reports as failed, or `None` when an identifier is empty or unknown
/// (Lambda then fails the whole batch). A response without `batchItemFailures` fails none.
pub fn failed_ids(response: &Value, ids: &[&str]) -> Option<HashSet<String>> {
    let Some(failures) = response.get("batchItemFailures") else {
        return Some(HashSet::new());
    };
    if failures.is_null() {
        return Some(HashSet::new());
    }
    let known: HashSet<&str> = ids.iter().copied().collect();
    let mut failed = HashSet::new();
    for f in failures.as_array()? {
        let id = f.get("itemIdentifier")?.as_str()?;
        if id.is_empty() || !known.contains(id) {
            return None;
        }
        failed.insert(id.to_owned());
    }
    Some(failed)
}

fn sqs_error<E>(action: &'static str, queue: &str, e: E) -> MappingError
where
    E: std::error::Error + Send + Sync + 'static,
{
    MappingError::Sqs {
        action,
        queue: queue.to_owned(),
        source: Box::new(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batch_item_failures_follow_lambda_rules() {
        let ids = ["a", "b", "c"];
        assert_eq!(failed_ids(&json!({}), &ids), Some(HashSet::new()));
        assert_eq!(
            failed_ids(&json!({"batchItemFailures": []}), &ids),
            Some(HashSet::new())
        );
        assert_eq!(
            failed_ids(
                &json!({"batchItemFailures": [{"itemIdentifier": "b"}]}),
                &ids
            ),
            Some(HashSet::from(["b".to_owned()]))
        );
        assert_eq!(
            failed_ids(
                &json!({"batchItemFailures": [{"itemIdentifier": ""}]}),
                &ids
            ),
            None
        );
        assert_eq!(
            failed_ids(
                &json!({"batchItemFailures": [{"itemIdentifier": "zz"}]}),
                &ids
            ),
            None
        );
        assert_eq!(failed_ids(&json!({"batchItemFailures": [{}]}), &ids), None);
    }
}
