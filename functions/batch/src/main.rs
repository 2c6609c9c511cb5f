//! The `batch` Lambda, run on a schedule: wiring only; the work is in
//! [`batch::run::write_window`]. The event may name a window (`{"window":"2026-12-07"}`);
//! otherwise the run writes the latest window settled by now, if it is not written yet.

use batch::s3::S3BatchBucket;
use batch::settings::Settings;
use convoy_store::DynamoOrderStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    convoy_logs::init(convoy_logs::Spans::List);
    let var = |name: &str| std::env::var(name).map_err(|e| format!("{name}: {e}"));
    let settings = Settings::from_values(
        &var("CUTOFF_TIME")?,
        &var("CUTOFF_TIME_ZONE")?,
        &var("SETTLE_SECONDS")?,
        &var("CONSUMER_TIMEOUT_SECONDS")?,
    )
    .inspect_err(|e| tracing::error!(error = %convoy_core::chain(e), "refusing to start"))?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoOrderStore::new(aws_sdk_dynamodb::Client::new(&config), var("TABLE_NAME")?);
    let bucket = S3BatchBucket::new(aws_sdk_s3::Client::new(&config), var("BUCKET_NAME")?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let (store, bucket, settings) = (store.clone(), bucket.clone(), settings.clone());
        async move {
            let named = match event.payload.get("window") {
                None => None,
                Some(serde_json::Value::String(w)) => Some(w.as_str()),
                Some(other) => {
                    let e = format!("the event's window {other} is not a date written YYYY-MM-DD");
                    tracing::error!(error = %e, "the batch was not written");
                    return Err(e.into());
                }
            };
            let report = batch::run::scheduled(
                &store,
                &bucket,
                &settings,
                named,
                jiff::Timestamp::now(),
            )
            .await
            .inspect_err(
                |e| tracing::error!(error = %convoy_core::chain(e), "the batch was not written"),
            )?;
            Ok::<_, Error>(report)
        }
    }))
    .await
}
