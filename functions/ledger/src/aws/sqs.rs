//! SQS adapter: one `SendMessageBatch` to the FIFO transactions queue per batch.

use crate::message::{OutgoingMessage, LEDGER_ATTRIBUTE, LINE_ATTRIBUTE};
use crate::notification::Continuation;
use crate::ports::{
    Continuations, ContinueError, EntryFailure, PublishError, TransactionPublisher,
};
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchError;
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
        .map_err(PublishError::permanent)
}

fn entry(index: usize, m: &OutgoingMessage) -> Result<SendMessageBatchRequestEntry, PublishError> {
    SendMessageBatchRequestEntry::builder()
        .id(index.to_string())
        .message_body(&m.body)
        .message_group_id(&m.group_id)
        .message_deduplication_id(&m.dedup_id)
        .message_attributes(LEDGER_ATTRIBUTE, attribute("String", m.ledger.to_string())?)
        .message_attributes(LINE_ATTRIBUTE, attribute("Number", m.line.to_string())?)
        .build()
        .map_err(PublishError::permanent)
}

/// Hands ledgers on with `SendMessage` to the ledger queue (`LEDGER_QUEUE_URL`).
#[derive(Debug, Clone)]
pub struct SqsContinuations {
    client: Client,
    queue_url: String,
}

impl SqsContinuations {
    pub fn new(client: Client, queue_url: String) -> Self {
        Self { client, queue_url }
    }
}

impl Continuations for SqsContinuations {
    async fn send(&self, continuation: &Continuation) -> Result<(), ContinueError> {
        let body = continuation
            .to_body()
            .map_err(|e| ContinueError(Box::new(e)))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| ContinueError(Box::new(e)))?;
        Ok(())
    }
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
            .map_err(|e| {
                if retryable(&e) {
                    PublishError::transient(e)
                } else {
                    PublishError::permanent(e)
                }
            })?;
        out.failed()
            .iter()
            .map(|f| {
                let index = f.id().parse::<usize>().ok().filter(|i| *i < batch.len());
                let index = index.ok_or_else(|| {
                    PublishError::permanent(format!(
                        "SendMessageBatch reported an unknown entry id {:?}",
                        f.id()
                    ))
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

/// Whether a failed `SendMessageBatch` call may succeed if made again (the SDK has already
/// retried it): throttling, a server error, a timeout, a lost connection or an unreadable
/// response may pass; a request the SDK could not build, access denied, a missing queue or
/// a malformed or too-large batch will not.
fn retryable(e: &SdkError<SendMessageBatchError, HttpResponse>) -> bool {
    match e {
        SdkError::ConstructionFailure(_) => false,
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(d) => !d.is_user(),
        SdkError::ServiceError(s) => service_error_retryable(s.err(), s.raw().status().as_u16()),
        _ => false,
    }
}

/// The service's answer: throttling (SQS's or KMS's) and 5xx may pass, any other error not.
fn service_error_retryable(e: &SendMessageBatchError, status: u16) -> bool {
    /// The throttling and transient codes the SDK's own retry classifier knows.
    const TRANSIENT_CODES: &[&str] = &[
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "KMS.ThrottlingException",
        "AWS.SimpleQueueService.RequestThrottled",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
    ];
    match e {
        SendMessageBatchError::RequestThrottled(_) | SendMessageBatchError::KmsThrottled(_) => true,
        _ => {
            status == 429 || status >= 500 || e.code().is_some_and(|c| TRANSIENT_CODES.contains(&c))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_sqs::types::error::{KmsThrottled, QueueDoesNotExist, RequestThrottled};

    fn unhandled(code: &str) -> SendMessageBatchError {
        SendMessageBatchError::generic(ErrorMetadata::builder().code(code).build())
    }

    #[test]
    fn throttling_and_server_errors_are_retryable() {
        let throttled =
            SendMessageBatchError::RequestThrottled(RequestThrottled::builder().build());
        let kms = SendMessageBatchError::KmsThrottled(KmsThrottled::builder().build());
        assert!(service_error_retryable(&throttled, 400));
        assert!(service_error_retryable(&kms, 400));
        assert!(service_error_retryable(
            &unhandled("ThrottlingException"),
            400
        ));
        assert!(service_error_retryable(&unhandled("InternalError"), 500));
        assert!(service_error_retryable(&unhandled("Whatever"), 503));
        assert!(service_error_retryable(&unhandled("Whatever"), 429));
    }

    #[test]
    fn access_a_missing_queue_and_bad_batches_are_permanent() {
        let missing =
            SendMessageBatchError::QueueDoesNotExist(QueueDoesNotExist::builder().build());
        assert!(!service_error_retryable(&missing, 400));
        assert!(!service_error_retryable(&unhandled("AccessDenied"), 403));
        assert!(!service_error_retryable(
            &unhandled("AccessDeniedException"),
            400
        ));
        assert!(!service_error_retryable(
            &unhandled("BatchRequestTooLong"),
            400
        ));
        assert!(!service_error_retryable(
            &unhandled("InvalidParameterValue"),
            400
        ));
    }

    #[test]
    fn timeouts_and_lost_connections_are_retryable_a_request_never_built_is_not() {
        type E = SdkError<SendMessageBatchError, HttpResponse>;
        assert!(retryable(&E::timeout_error("operation timed out")));
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(retryable(&E::dispatch_failure(ConnectorError::io(
            reset.into()
        ))));
        assert!(retryable(&E::dispatch_failure(ConnectorError::timeout(
            "slow".into()
        ))));
        assert!(!retryable(&E::dispatch_failure(ConnectorError::user(
            "bad uri".into()
        ))));
        assert!(!retryable(&E::construction_failure("no queue url")));
    }
}
