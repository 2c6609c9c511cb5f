//! The `batch` Lambda, run on a schedule: wiring only; the work is in
//! [`batch::run::write_window`]. The event may name a window (`{"window":"2026-12-07"}`);
//! otherwise the run writes the latest window settled by now, if it is not written yet.

use batch::s3::S3BatchBucket;
use batch::settings::Settings;
use convoy_store::DynamoOrderStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // RUST_LOG as `target=level` directives (default `info`), as the other functions.
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(false)
                .with_span_list(true)
                .without_time(),
        )
        .with(filter)
        .init();
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
