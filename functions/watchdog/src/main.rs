//! The `watchdog` Lambda, run on a schedule: wiring only; the work is in
//! [`watchdog::watch`], the metrics in [`watchdog::emf`].

use consumer::sqs::SqsDrainQueue;
use convoy_store::DynamoOrderStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    convoy_logs::init(convoy_logs::Spans::List);
    let var = |name: &str| std::env::var(name).map_err(|e| format!("{name}: {e}"));
    let table = var("TABLE_NAME")?;
    let queue_url = var("TRANSACTIONS_QUEUE_URL")?;
    let settings = watchdog::Settings::from_env_values(
        &var("STALL_AFTER_MINUTES")?,
        &var("STALL_AFTER_SECONDS")?,
    )?;
    let metrics = watchdog::emf::install(var("METRICS_NAMESPACE")?)?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoOrderStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let queue = SqsDrainQueue::new(aws_sdk_sqs::Client::new(&config), queue_url);
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let (store, queue) = (store.clone(), queue.clone());
        async move {
            let now = convoy_store::plan::now().millis;
            let report = watchdog::watch(&store, &queue, settings, now).await?;
            watchdog::emf::record(&report);
            metrics.flush(std::io::stdout())?;
            if report.failed > 0 {
                // The invocation fails, so the function's Errors metric shows it; the
                // next scheduled run checks those orders again.
                return Err(
                    format!("{} waiting orders could not be checked", report.failed).into(),
                );
            }
            Ok::<_, Error>(report)
        }
    }))
    .await
}
