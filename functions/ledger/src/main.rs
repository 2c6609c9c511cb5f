//! The ledger Lambda: wiring only; the logic is in [`ledger::handler`].

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    convoy_logs::init(convoy_logs::Spans::ListAndCurrent);
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
