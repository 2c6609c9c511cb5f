//! The functions the driver invokes: over Lambda's Invoke API, or in-process.

use serde_json::Value;
use std::future::Future;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("invoking {function} failed")]
    Transport {
        function: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{function} returned a function error: {payload}")]
    Function { function: String, payload: String },
    #[error("{function} failed: {message}")]
    InProcess { function: String, message: String },
}

/// A function the event source mappings can invoke with an event (synchronously).
pub trait LambdaFunction: Send + Sync {
    fn name(&self) -> &str;
    fn invoke(&self, event: Value) -> impl Future<Output = Result<Value, InvokeError>> + Send;
}

/// A function behind Lambda's Invoke API, e.g. the real binary under `cargo lambda watch`.
#[derive(Debug, Clone)]
pub struct HttpFunction {
    client: reqwest::Client,
    url: String,
    name: String,
}

impl HttpFunction {
    /// `endpoint` is the Invoke API's base URL, e.g. `http://127.0.0.1:9000`.
    pub fn new(endpoint: &str, name: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            client: reqwest::Client::builder().timeout(timeout).build()?,
            url: format!(
                "{}/2015-03-31/functions/{name}/invocations",
                endpoint.trim_end_matches('/')
            ),
            name: name.to_owned(),
        })
    }
}

impl LambdaFunction for HttpFunction {
    fn name(&self) -> &str {
        &self.name
    }

    async fn invoke(&self, event: Value) -> Result<Value, InvokeError> {
        let transport = |source| InvokeError::Transport {
            function: self.name.clone(),
            source,
        };
        let response = self
            .client
            .post(&self.url)
            .json(&event)
            .send()
            .await
            .map_err(transport)?;
        let failed = !response.status().is_success()
            || response.headers().contains_key("x-amz-function-error");
        let text = response.text().await.map_err(transport)?;
        let payload: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        let is_error_document =
            payload.get("errorType").is_some() && payload.get("errorMessage").is_some();
        if failed || is_error_document {
            return Err(InvokeError::Function {
                function: self.name.clone(),
                payload: text,
            });
        }
        Ok(payload)
    }
}

/// A shared function is a function (so a test can keep a handle on the one it gave away).
impl<F: LambdaFunction> LambdaFunction for std::sync::Arc<F> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn invoke(&self, event: Value) -> impl Future<Output = Result<Value, InvokeError>> + Send {
        (**self).invoke(event)
    }
}
