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
    /// Where its services answer: the emulator's endpoint, or `None` for AWS's own.
    pub endpoint_url: Option<String>,
    pub region: String,
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
mod tests {
    use super::*;

    fn emulator() -> Emulator {
        Emulator {
            endpoint_url: "http://127.0.0.1:4566".into(),
            region: "us-east-1".into(),
        }
    }

    const AT: Option<&str> = Some("http://127.0.0.1:4566");

    /// The outputs as DescribeStacks reports them for the stack of template.yaml.
    fn outputs() -> HashMap<String, String> {
        let q = "http://127.0.0.1:4566/000000000000";
        let arn = "arn:aws:sqs:us-east-1:000000000000";
        [
            (
                "BucketName",
                "ledger-convoy-ledgers-000000000000".to_owned(),
            ),
            ("LedgerQueueUrl", format!("{q}/ledger-convoy-ledgers")),
            ("LedgerQueueArn", format!("{arn}:ledger-convoy-ledgers")),
            (
                "LedgerDeadLetterQueueUrl",
                format!("{q}/ledger-convoy-ledgers-dlq"),
            ),
            (
                "TransactionsQueueUrl",
                format!("{q}/ledger-convoy-transactions.fifo"),
            ),
            (
                "TransactionsQueueArn",
                format!("{arn}:ledger-convoy-transactions.fifo"),
            ),
            (
                "TransactionsDeadLetterQueueUrl",
                format!("{q}/ledger-convoy-transactions-dlq.fifo"),
            ),
            ("TableName", "ledger-convoy-orders".to_owned()),
            ("LedgerFunctionArn", "-".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    #[test]
    fn outputs_map_to_the_stack() {
        let s = Stack::from_outputs("ledger-convoy", AT, "us-east-1", &outputs()).unwrap();
        assert_eq!(s.name, "ledger-convoy");
        assert_eq!(s.bucket, "ledger-convoy-ledgers-000000000000");
        assert_eq!(
            s.ledger_queue_url,
            "http://127.0.0.1:4566/000000000000/ledger-convoy-ledgers"
        );
        assert_eq!(
            s.ledger_dlq_url,
            "http://127.0.0.1:4566/000000000000/ledger-convoy-ledgers-dlq"
        );
        assert_eq!(
            s.transactions_queue_arn,
            "arn:aws:sqs:us-east-1:000000000000:ledger-convoy-transactions.fifo"
        );
        assert_eq!(
            s.transactions_dlq_url,
            "http://127.0.0.1:4566/000000000000/ledger-convoy-transactions-dlq.fifo"
        );
        assert_eq!(s.table_name, "ledger-convoy-orders");
        assert_eq!(
            (s.endpoint_url.as_deref(), s.region.as_str()),
            (AT, "us-east-1")
        );
    }

    #[test]
    fn a_missing_output_is_named() {
        let mut o = outputs();
        o.remove("TableName");
        let e = Stack::from_outputs("s", AT, "us-east-1", &o).unwrap_err();
        assert_eq!(
            e.to_string(),
            "stack s has no output TableName: it is not a ledger convoy stack, or an older one (deploy template.yaml again)"
        );
    }

    #[test]
    fn a_queue_elsewhere_is_refused() {
        let mut o = outputs();
        o.insert(
            "TransactionsQueueUrl".into(),
            "https://sqs.us-east-1.amazonaws.com/1/q.fifo".into(),
        );
        let e = Stack::from_outputs("s", AT, "us-east-1", &o).unwrap_err();
        assert!(
            matches!(
                e,
                StackError::Elsewhere {
                    output: "TransactionsQueueUrl",
                    ..
                }
            ),
            "{e}"
        );
        // On AWS (no endpoint) the queues are AWS's own.
        let s = Stack::from_outputs("s", None, "eu-west-1", &o).unwrap();
        assert_eq!(
            s.transactions_queue_url,
            "https://sqs.us-east-1.amazonaws.com/1/q.fifo"
        );
        assert_eq!(s.endpoint_url, None);
    }

    #[test]
    fn not_found_says_what_to_run() {
        let e = StackError::NotFound {
            stack: "ledger-convoy".into(),
            place: format!("at {DEFAULT_ENDPOINT}"),
        };
        assert_eq!(
            e.to_string(),
            "stack ledger-convoy not found at http://127.0.0.1:4566: deploy it (sam deploy --guided; on the emulator: convoy local up), or name another with --stack"
        );
        assert!(is_missing_stack(
            "Stack with id ledger-convoy does not exist"
        ));
    }

    #[test]
    fn emulator_from_the_environment_or_the_defaults() {
        assert_eq!(Emulator::from_vars(|_| None), emulator());
        let vars = |name: &str| match name {
            "AWS_ENDPOINT_URL" => Some("http://localhost:4567".to_owned()),
            "AWS_REGION" => Some(String::new()),
            "AWS_DEFAULT_REGION" => Some("eu-west-1".to_owned()),
            _ => None,
        };
        assert_eq!(
            Emulator::from_vars(vars),
            Emulator {
                endpoint_url: "http://localhost:4567".into(),
                region: "eu-west-1".into()
            }
        );
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(
            shell_quote("http://127.0.0.1:4566/0/q.fifo"),
            "http://127.0.0.1:4566/0/q.fifo"
        );
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r#"'it'"'"'s'"#);
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote("a\nb"), "'a\nb'");
    }

    #[test]
    fn exports_every_variable_quoted() {
        let mut s = Stack::from_outputs("ledger-convoy", AT, "us-east-1", &outputs()).unwrap();
        s.table_name = "odd name".into();
        let text = s.exports();
        assert!(
            text.starts_with("export CONVOY_STACK_NAME=ledger-convoy\n"),
            "{text}"
        );
        assert!(
            text.contains("export CONVOY_TABLE_NAME='odd name'\n"),
            "{text}"
        );
        assert!(
            text.contains("export AWS_ENDPOINT_URL=http://127.0.0.1:4566\n"),
            "{text}"
        );
        assert!(text.contains("export AWS_ACCESS_KEY_ID=test\n"), "{text}");
        assert_eq!(text.lines().count(), 16);
        assert!(text.lines().all(|l| l.starts_with("export ")));
    }
}
