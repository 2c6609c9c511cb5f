//! SQS adapter of [`DrainQueue`]: one `SendMessage` to the FIFO transactions queue, in the
//! order's message group.

use crate::resume::{DrainQueue, Resume, ResumeError};
use aws_sdk_sqs::Client;

/// Sends resume messages to the transactions queue at `queue_url`.
#[derive(Debug, Clone)]
pub struct SqsDrainQueue {
    client: Client,
    queue_url: String,
}

impl SqsDrainQueue {
    pub fn new(client: Client, queue_url: String) -> Self {
        Self { client, queue_url }
    }
}

impl DrainQueue for SqsDrainQueue {
    async fn resume(&self, resume: &Resume) -> Result<(), ResumeError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_group_id(resume.resume_drain.as_str())
            .message_deduplication_id(resume.dedup_id())
            .message_body(resume.body())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ResumeError {
                order_id: resume.resume_drain.to_string(),
                source: Box::new(e),
            })
    }
}
