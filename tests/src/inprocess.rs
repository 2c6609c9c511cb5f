//! The two functions called in-process, with the same events and responses as over the
//! Invoke API (for tests that inject faults into a function's ports).

use aws_lambda_events::sqs::SqsEvent;
use consumer::resume::DrainQueue;
use consumer::sqs::SqsDrainQueue;
use convoy_core::chain;
use convoy_local::function::{InvokeError, LambdaFunction};
use convoy_store::OrderStore;
use ledger::{ObjectSource, RejectsSink, StatusStore, TransactionPublisher};
use serde_json::Value;
use std::time::Duration;

fn parse_event(function: &str, event: Value) -> Result<SqsEvent, InvokeError> {
    serde_json::from_value(event).map_err(|e| InvokeError::InProcess {
        function: function.to_owned(),
        message: format!("event is not an SQS event: {e}"),
    })
}

fn to_value(function: &str, response: impl serde::Serialize) -> Result<Value, InvokeError> {
    serde_json::to_value(response).map_err(|e| InvokeError::InProcess {
        function: function.to_owned(),
        message: format!("response does not serialize: {e}"),
    })
}

/// The ledger function's handler, with a Lambda-like timeout per invocation.
pub struct InProcessLedger<S, P, R, T, C> {
    pub handler: ledger::Handler<S, P, R, T, C>,
    pub timeout: Duration,
}

impl<S, P, R, T, C> LambdaFunction for InProcessLedger<S, P, R, T, C>
where
    S: ObjectSource + Send + Sync,
    P: TransactionPublisher + Send + Sync,
    R: RejectsSink + Send + Sync,
    T: StatusStore + Send + Sync,
    C: ledger::ports::Continuations + Send + Sync,
{
    fn name(&self) -> &str {
        "ledger"
    }

    async fn invoke(&self, event: Value) -> Result<Value, InvokeError> {
        let event = parse_event("ledger", event)?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        match self.handler.handle(event, deadline).await {
            Ok(response) => to_value("ledger", response),
            Err(e) => Err(InvokeError::InProcess {
                function: "ledger".into(),
                message: chain(&e),
            }),
        }
    }
}

/// The consumer function's timeout (`ConsumerFunctionTimeout`'s default in `template.yaml`).
pub const CONSUMER_TIMEOUT: Duration = Duration::from_secs(30);

/// The consumer function's handler over any order store (e.g. one that injects faults)
/// and the transactions queue for its resume messages, with a Lambda-like time limit per
/// invocation.
pub struct InProcessConsumer<S, Q = SqsDrainQueue> {
    pub store: S,
    pub queue: Q,
    pub timeout: Duration,
    /// The handler's settings (the production ones, or a test's: its clock, say).
    pub settings: consumer::Settings,
}

impl<S> InProcessConsumer<S> {
    /// With the template's default timeout.
    pub fn new(store: S, queue: SqsDrainQueue) -> Self {
        Self {
            store,
            queue,
            timeout: CONSUMER_TIMEOUT,
            settings: consumer::Settings::default(),
        }
    }
}

impl<S: OrderStore + Send + Sync, Q: DrainQueue> LambdaFunction for InProcessConsumer<S, Q> {
    fn name(&self) -> &str {
        "consumer"
    }

    async fn invoke(&self, event: Value) -> Result<Value, InvokeError> {
        let event = parse_event("consumer", event)?;
        let deadline = tokio::time::Instant::now() + self.timeout
            - consumer::handler::RESPONSE_MARGIN.min(self.timeout / 4);
        match consumer::handle_with(&self.store, &self.queue, event, &self.settings, deadline).await
        {
            Ok(response) => to_value("consumer", response),
            Err(e) => Err(InvokeError::InProcess {
                function: "consumer".into(),
                message: chain(&e),
            }),
        }
    }
}
