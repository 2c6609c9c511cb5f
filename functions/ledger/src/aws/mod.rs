//! AWS adapters of the ports (S3, SQS, DynamoDB) and the wiring a Lambda or a local driver
//! uses: [`build_handler`] and [`get_status`].

mod dynamodb;
mod s3;
mod sqs;

pub use dynamodb::DynamoStatusStore;
pub use s3::{S3Chunks, S3Rejects, S3Source};
pub use sqs::{SqsContinuations, SqsPublisher};

use crate::config::Config;
use crate::handler::{Handler, HandlerOptions};
use crate::ports::{StatusError, StatusStore};
use crate::status::LedgerStatus;
use aws_config::SdkConfig;

/// The handler wired to AWS.
pub type AwsHandler =
    Handler<S3Source, SqsPublisher, S3Rejects, DynamoStatusStore, SqsContinuations>;

/// An S3 client for `sdk`, with path-style addressing (so endpoints such as LocalStack on
/// 127.0.0.1 work; AWS accepts it too).
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Builds the handler from an SDK configuration (endpoints from `AWS_ENDPOINT_URL`) and the
/// function's configuration, with default options. Clients are built once, here.
pub fn build_handler(sdk: &SdkConfig, config: &Config) -> AwsHandler {
    build_handler_with(sdk, config, HandlerOptions::default())
}

/// [`build_handler`] with explicit options (deadline margin, batching, retries).
pub fn build_handler_with(sdk: &SdkConfig, config: &Config, options: HandlerOptions) -> AwsHandler {
    let s3 = s3_client(sdk);
    Handler::new(
        S3Source::new(s3.clone()),
        SqsPublisher::new(
            aws_sdk_sqs::Client::new(sdk),
            config.transactions_queue_url.clone(),
        ),
        S3Rejects::new(s3),
        DynamoStatusStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            config.table_name.clone(),
        ),
        SqsContinuations::new(
            aws_sdk_sqs::Client::new(sdk),
            config.ledger_queue_url.clone(),
        ),
        options,
    )
}

/// Reads the status record of the ledger `bucket`/`key` from `table`.
pub async fn get_status(
    sdk: &SdkConfig,
    table: &str,
    bucket: &str,
    key: &str,
) -> Result<Option<LedgerStatus>, StatusError> {
    DynamoStatusStore::new(aws_sdk_dynamodb::Client::new(sdk), table.to_owned())
        .get(bucket, key)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only if the handler's future is `Send`, so a driver may `tokio::spawn` it.
    #[allow(dead_code)]
    fn handle_is_send(
        h: &AwsHandler,
        event: aws_lambda_events::sqs::SqsEvent,
        deadline: tokio::time::Instant,
    ) -> impl std::future::Future<
        Output = Result<aws_lambda_events::sqs::SqsBatchResponse, crate::HandlerError>,
    > + Send
           + '_ {
        h.handle(event, deadline)
    }

    #[tokio::test]
    async fn the_handler_builds_from_an_sdk_config() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let config = Config {
            transactions_queue_url: "http://127.0.0.1:4566/queue/q.fifo".into(),
            table_name: "t".into(),
            ledger_queue_url: "http://127.0.0.1:4566/queue/ledgers".into(),
        };
        let _handler = build_handler(&sdk, &config);
    }
}
