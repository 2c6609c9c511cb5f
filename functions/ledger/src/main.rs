//! The ledger Lambda: wiring only; the logic is in [`ledger::handler`].

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // RUST_LOG as `target=level` directives (default `info`): the plain `Targets` filter,
    // not `EnvFilter`, whose regex engine would add to the package (and its cold start).
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .without_time(),
        )
        .with(filter)
        .init();
    let config = ledger::Config::from_env()?;
    let namespace =
        std::env::var("METRICS_NAMESPACE").map_err(|e| format!("METRICS_NAMESPACE: {e}"))?;
    let metrics = ledger::emf::install(namespace)?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let handler = ledger::build_handler(&sdk, &config);
    let handler = &handler;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        let deadline = ledger::deadline_from(event.context.deadline());
        // Boxed: the handler's future is deeply nested, and unboxed its layout inside the
        // runtime's own futures exceeds the compiler's default query depth.
        let response = Box::pin(handler.handle(event.payload, deadline)).await;
        // The invocation's counts, also when it failed.
        metrics.flush(std::io::stdout())?;
        response.map_err(Error::from)
    }))
    .await
}
