//! The `consumer` Lambda: wiring only; the work is in [`consumer::handle`].

use aws_lambda_events::sqs::SqsEvent;
use consumer::sqs::SqsDrainQueue;
use convoy_store::DynamoOrderStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    convoy_logs::init(convoy_logs::Spans::List);
    let var = |name: &str| std::env::var(name).map_err(|e| format!("{name}: {e}"));
    let table = var("TABLE_NAME")?;
    let queue_url = var("TRANSACTIONS_QUEUE_URL")?;
    let metrics = consumer::emf::install(var("METRICS_NAMESPACE")?)?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoOrderStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let queue = SqsDrainQueue::new(aws_sdk_sqs::Client::new(&config), queue_url);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (store, queue) = (store.clone(), queue.clone());
        let deadline = consumer::invocation_deadline(event.context.deadline());
        async move {
            let response = consumer::handle(&store, &queue, event.payload, deadline).await;
            // The invocation's counts, also when it failed as a whole.
            metrics.flush(std::io::stdout())?;
            Ok::<_, Error>(response?)
        }
    }))
    .await
}
