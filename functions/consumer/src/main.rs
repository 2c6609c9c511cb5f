//! The `consumer` Lambda: wiring only; the work is in [`consumer::handle`].

use aws_lambda_events::sqs::SqsEvent;
use convoy_store::DynamoOrderStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_current_span(false)
        .with_span_list(true)
        .without_time()
        .init();
    let table = std::env::var("TABLE_NAME").map_err(|e| format!("TABLE_NAME: {e}"))?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoOrderStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let store = store.clone();
        let deadline = consumer::invocation_deadline(event.context.deadline());
        async move { Ok::<_, Error>(consumer::handle(&store, event.payload, deadline).await?) }
    }))
    .await
}
