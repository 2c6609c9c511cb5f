//! Where the provisioned resources are: the emulator's endpoint and the outputs of the
//! CloudFormation stack that `infra/provision.sh` deployed there.

use aws_config::{BehaviorVersion, SdkConfig};
use convoy_core::BoxError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The emulator's endpoint when `AWS_ENDPOINT_URL` is not set.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4566";
/// The region when neither `AWS_REGION` nor `AWS_DEFAULT_REGION` is set.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The stack's name when `CONVOY_STACK_NAME` is not set.
pub const DEFAULT_STACK_NAME: &str = "ledger-convoy";

/// The emulator: where it answers and in which region. Credentials are always dummy ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emulator {
    pub endpoint_url: String,
    pub region: String,
}

impl Emulator {
    /// From `AWS_ENDPOINT_URL` and `AWS_REGION` / `AWS_DEFAULT_REGION`, with the local defaults.
    pub fn from_env() -> Emulator {
        Emulator::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Emulator {
        let set = |name: &str| var(name).filter(|v| !v.is_empty());
        Emulator {
            endpoint_url: set("AWS_ENDPOINT_URL").unwrap_or_else(|| DEFAULT_ENDPOINT.into()),
            region: set("AWS_REGION")
                .or_else(|| set("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| DEFAULT_REGION.into()),
        }
    }

    /// SDK configuration for the emulator (dummy credentials; never real ones).
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint_url)
            .region(aws_config::Region::new(self.region.clone()))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "emulator",
            ))
            .load()
            .await
    }
}

/// The stack's name: `CONVOY_STACK_NAME`, default `ledger-convoy`.
pub fn stack_name_from_env() -> String {
    std::env::var("CONVOY_STACK_NAME")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_STACK_NAME.into())
}

/// The resources of one provisioned stack (its CloudFormation outputs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub name: String,
    pub bucket: String,
    pub ledger_queue_url: String,
    pub ledger_queue_arn: String,
    pub ledger_dlq_url: String,
    pub transactions_queue_url: String,
    pub transactions_queue_arn: String,
    pub transactions_dlq_url: String,
    pub table_name: String,
    /// How it cuts batches (issue 13).
    pub batch: BatchConfig,
    /// Where its services answer: the emulator's endpoint, or `None` for AWS's own.
    pub endpoint_url: Option<String>,
    pub region: String,
}

/// How a stack cuts batches: its outputs `CutoffTime`, `CutoffTimeZone`,
/// `BatchSettleSeconds` and `ConsumerTimeoutSeconds` as written (checked by
/// [`batch::settings::Settings::from_values`] where they are used). A stack older than these
/// outputs has the defaults: 14:00 UTC, 960 and 900.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchConfig {
    pub cutoff_time: String,
    pub cutoff_time_zone: String,
    pub settle_seconds: String,
    pub consumer_timeout_seconds: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(
        "stack {stack} not found {place}: deploy it (sam deploy --guided; on the emulator: convoy local up), or name another with --stack"
    )]
    NotFound { stack: String, place: String },
    #[error(
        "cannot describe stack {stack} {place} (on the emulator: is it up? convoy local status)"
    )]
    Describe {
        stack: String,
        place: String,
        #[source]
        source: BoxError,
    },
    #[error("stack {stack} has no output {output}: it is not a ledger convoy stack, or an older one (deploy template.yaml again)")]
    MissingOutput { stack: String, output: &'static str },
    #[error("stack {stack}: {output} {url} is not served at {endpoint}")]
    Elsewhere {
        stack: String,
        output: &'static str,
        url: String,
        endpoint: String,
    },
}

/// Whether a CloudFormation error says that the stack does not exist.
pub fn is_missing_stack(message: &str) -> bool {
    message.contains("does not exist")
}

impl Stack {
    /// Describes the stack named by `CONVOY_STACK_NAME` on the emulator of the environment.
    pub async fn load() -> Result<Stack, StackError> {
        let emulator = Emulator::from_env();
        let sdk = emulator.sdk_config().await;
        Stack::describe(&sdk, &stack_name_from_env()).await
    }

    /// The outputs of stack `name`, read with DescribeStacks where `sdk` points: AWS, or an
    /// emulator (its endpoint), which must then serve every queue of the stack.
    pub async fn describe(sdk: &SdkConfig, name: &str) -> Result<Stack, StackError> {
        let cf = aws_sdk_cloudformation::Client::new(sdk);
        let endpoint = sdk.endpoint_url();
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let place = match endpoint {
            Some(url) => format!("at {url}"),
            None => format!("in {region}"),
        };
        let not_found = || StackError::NotFound {
            stack: name.to_owned(),
            place: place.clone(),
        };
        let out = match cf.describe_stacks().stack_name(name).send().await {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .and_then(|s| s.meta().message())
                    .is_some_and(is_missing_stack) =>
            {
                return Err(not_found())
            }
            Err(e) => {
                return Err(StackError::Describe {
                    stack: name.to_owned(),
                    place: place.clone(),
                    source: Box::new(e),
                })
            }
        };
        let stack = out.stacks().first().ok_or_else(not_found)?;
        let outputs: HashMap<String, String> = stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect();
        Stack::from_outputs(name, endpoint, &region, &outputs)
    }

    /// The stack from its outputs (`OutputKey` → `OutputValue`); with an `endpoint` (an
    /// emulator) every queue must be served there.
    pub fn from_outputs(
        name: &str,
        endpoint: Option<&str>,
        region: &str,
        outputs: &HashMap<String, String>,
    ) -> Result<Stack, StackError> {
        let get = |output: &'static str| {
            outputs
                .get(output)
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| StackError::MissingOutput {
                    stack: name.to_owned(),
                    output,
                })
        };
        let optional = |output: &'static str, default: &str| {
            get(output).unwrap_or_else(|_| default.to_owned())
        };
        let queue = |output: &'static str| {
            let url = get(output)?;
            match endpoint {
                Some(at) if !url.starts_with(&format!("{}/", at.trim_end_matches('/'))) => {
                    Err(StackError::Elsewhere {
                        stack: name.to_owned(),
                        output,
                        url,
                        endpoint: at.to_owned(),
                    })
                }
                _ => Ok(url),
            }
        };
        Ok(Stack {
            name: name.to_owned(),
            bucket: get("BucketName")?,
            ledger_queue_url: queue("LedgerQueueUrl")?,
            ledger_queue_arn: get("LedgerQueueArn")?,
            ledger_dlq_url: queue("LedgerDeadLetterQueueUrl")?,
            transactions_queue_url: queue("TransactionsQueueUrl")?,
            transactions_queue_arn: get("TransactionsQueueArn")?,
            transactions_dlq_url: queue("TransactionsDeadLetterQueueUrl")?,
            table_name: get("TableName")?,
            batch: BatchConfig {
                cutoff_time: optional("CutoffTime", batch::window::Cutoff::DEFAULT_TIME),
                cutoff_time_zone: optional("CutoffTimeZone", batch::window::Cutoff::DEFAULT_ZONE),
                settle_seconds: optional("BatchSettleSeconds", "960"),
                consumer_timeout_seconds: optional("ConsumerTimeoutSeconds", "900"),
            },
            endpoint_url: endpoint.map(str::to_owned),
            region: region.to_owned(),
        })
    }

    /// The emulator the stack is on (the default one for a stack on AWS: the local driver
    /// never runs against AWS).
    pub fn emulator(&self) -> Emulator {
        Emulator {
            endpoint_url: self
                .endpoint_url
                .clone()
                .unwrap_or_else(|| DEFAULT_ENDPOINT.into()),
            region: self.region.clone(),
        }
    }

    /// The stack and the emulator as shell variables, for `eval "$(convoy local env)"`.
    pub fn variables(&self) -> Vec<(&'static str, &str)> {
        let endpoint = self.endpoint_url.as_deref().unwrap_or(DEFAULT_ENDPOINT);
        vec![
            ("CONVOY_STACK_NAME", &self.name),
            ("CONVOY_ENDPOINT_URL", endpoint),
            ("CONVOY_REGION", &self.region),
            ("CONVOY_BUCKET", &self.bucket),
            ("CONVOY_LEDGER_QUEUE_URL", &self.ledger_queue_url),
            ("CONVOY_LEDGER_QUEUE_ARN", &self.ledger_queue_arn),
            ("CONVOY_LEDGER_DLQ_URL", &self.ledger_dlq_url),
            (
                "CONVOY_TRANSACTIONS_QUEUE_URL",
                &self.transactions_queue_url,
            ),
            (
                "CONVOY_TRANSACTIONS_QUEUE_ARN",
                &self.transactions_queue_arn,
            ),
            ("CONVOY_TRANSACTIONS_DLQ_URL", &self.transactions_dlq_url),
            ("CONVOY_TABLE_NAME", &self.table_name),
            // The emulator (dummy credentials; never real ones).
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_REGION", &self.region),
            ("AWS_DEFAULT_REGION", &self.region),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ]
    }

    /// `export NAME=value` lines, every value shell-quoted.
    pub fn exports(&self) -> String {
        self.variables()
            .iter()
            .map(|(name, value)| format!("export {name}={}\n", shell_quote(value)))
            .collect()
    }
}

/// `value` as one shell word: unchanged when it is plain, else in single quotes.
pub fn shell_quote(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r#"'"'"'"#))
    }
}

/// The repository root: `CONVOY_ROOT` if set, else two levels above this crate.
pub fn repo_root() -> PathBuf {
    let root = std::env::var_os("CONVOY_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(".."));
    root.canonicalize().unwrap_or(root)
}

#[cfg(test)]
mod tests;
