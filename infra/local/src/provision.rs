//! Provisioning the stack of `template.yaml` on the emulator (resources only) with
//! `sam deploy`: failed stacks deleted first, the artifacts bucket created, the deploy skipped
//! when template and parameters are those of the last one, S3's test event drained after it.

use crate::notify::{self, NotifyError};
use crate::stack::{is_missing_stack, Emulator, Stack, StackError};
use aws_sdk_cloudformation::types::StackStatus;
use convoy_core::BoxError;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What to provision, and how.
#[derive(Debug, Clone, clap::Args)]
pub struct ProvisionArgs {
    /// Also verify the S3 → ledger queue notification: an object under ledgers/ notifies,
    /// one under rejects/ does not. Needs an idle ledger queue (no driver polling it).
    #[arg(long)]
    pub check: bool,
    /// Run `sam deploy` even when the stack is up to date.
    #[arg(long)]
    pub force: bool,
    /// Ledger queue visibility timeout, seconds.
    #[arg(long, env = "CONVOY_LEDGER_VISIBILITY_TIMEOUT", default_value_t = 60)]
    pub ledger_visibility_timeout: u32,
    /// Transactions queue visibility timeout, seconds.
    #[arg(
        long,
        env = "CONVOY_TRANSACTIONS_VISIBILITY_TIMEOUT",
        default_value_t = 10
    )]
    pub transactions_visibility_timeout: u32,
    /// Redrive to the dead-letter queues after this many receives.
    #[arg(long, env = "CONVOY_MAX_RECEIVE_COUNT", default_value_t = 5)]
    pub max_receive_count: u32,
    /// More `Key=Value` template parameters, separated by spaces.
    #[arg(long, env = "CONVOY_PARAMETER_OVERRIDES", default_value = "")]
    pub parameter_overrides: String,
    /// The SAM CLI.
    #[arg(long, env = "CONVOY_SAM", default_value = "sam")]
    pub sam: PathBuf,
    /// Where stamps and logs go (`.local/`).
    #[arg(long, env = "CONVOY_LOCAL_DIR")]
    pub local_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("CloudFormation {action} of {stack}")]
    CloudFormation {
        action: &'static str,
        stack: String,
        #[source]
        source: BoxError,
    },
    #[error("stack {stack} is still {status} after {waited:?}")]
    Stuck {
        stack: String,
        status: String,
        waited: Duration,
    },
    #[error("creating the artifacts bucket {bucket}")]
    Bucket {
        bucket: String,
        #[source]
        source: BoxError,
    },
    #[error("{what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid stack name {name}: {why}")]
    StackName { name: String, why: String },
    #[error("sam deploy failed ({status}); full log: {log}")]
    Deploy { status: String, log: PathBuf },
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
}

/// A stack name that also fits in the bucket's name.
pub fn parse_stack_name(name: &str) -> Result<String, String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.len() <= 26;
    if ok {
        Ok(name.to_owned())
    } else {
        Err("lower-case letters, digits and '-', starting with a letter, at most 26 characters (it is part of the bucket name)".into())
    }
}

impl ProvisionArgs {
    /// The template parameters, in the order `sam deploy` gets them.
    pub fn parameters(&self) -> Vec<String> {
        let mut params = vec![
            "DeployFunctions=false".to_owned(),
            format!(
                "LedgerQueueVisibilityTimeout={}",
                self.ledger_visibility_timeout
            ),
            format!(
                "TransactionsQueueVisibilityTimeout={}",
                self.transactions_visibility_timeout
            ),
            format!("MaxReceiveCount={}", self.max_receive_count),
        ];
        params.extend(
            self.parameter_overrides
                .split_whitespace()
                .map(str::to_owned),
        );
        params
    }

    fn local_dir(&self) -> PathBuf {
        self.local_dir
            .clone()
            .unwrap_or_else(|| crate::stack::repo_root().join(".local"))
    }
}

/// What a deployed stack's template and parameters hash to: skip `sam deploy` when unchanged.
pub fn deploy_key(parameters: &[String], template: &[u8]) -> String {
    let mut hash = Sha256::new();
    for p in parameters {
        hash.update(p.as_bytes());
        hash.update(b"\n");
    }
    hash.update(template);
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether a stack in this state must be deleted before it can be deployed again.
pub fn must_delete(status: &StackStatus) -> bool {
    matches!(
        status,
        StackStatus::RollbackComplete
            | StackStatus::RollbackFailed
            | StackStatus::CreateFailed
            | StackStatus::DeleteFailed
    )
}

/// Whether a stack in this state is deployed and stable.
pub fn is_deployed(status: &StackStatus) -> bool {
    status.as_str().ends_with("_COMPLETE") && *status != StackStatus::DeleteComplete
}

/// Deploys (or skips), checks the outputs, drains S3's test event, runs `--check`.
pub async fn provision(
    args: &ProvisionArgs,
    name: &str,
    emulator: &Emulator,
) -> Result<Stack, ProvisionError> {
    let started = Instant::now();
    let name = &parse_stack_name(name).map_err(|why| ProvisionError::StackName {
        name: name.to_owned(),
        why,
    })?;
    let sdk = emulator.sdk_config().await;
    let cf = aws_sdk_cloudformation::Client::new(&sdk);
    let s3 = ledger::aws::s3_client(&sdk);
    let root = crate::stack::repo_root();
    let template_path = root.join("template.yaml");
    let template = std::fs::read(&template_path).map_err(io("reading", &template_path))?;
    let parameters = args.parameters();
    let key = deploy_key(&parameters, &template);
    let stamps = args.local_dir().join("stamps");
    std::fs::create_dir_all(&stamps).map_err(io("creating", &stamps))?;
    let stamp = stamps.join(format!("provision-{name}"));

    let status = usable_status(&cf, name).await?;
    let state = status.as_ref().map_or("NONE", StackStatus::as_str);
    let stamped = std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == key);
    let deployed = if !args.force && stamped && status.as_ref().is_some_and(is_deployed) {
        log(format!(
            "stack {name} is up to date ({state}); skipping sam deploy"
        ));
        false
    } else {
        let _ = std::fs::remove_file(&stamp);
        log(format!(
            "deploying stack {name} ({state}) with {}",
            parameters.join(" ")
        ));
        let deploy_started = Instant::now();
        let bucket = format!("{name}-sam-artifacts");
        create_bucket(&s3, &bucket).await?;
        let log_path = args.local_dir().join("sam-deploy.log");
        sam_deploy(args, name, emulator, &root, &bucket, &parameters, &log_path).await?;
        std::fs::write(&stamp, format!("{key}\n")).map_err(io("writing", &stamp))?;
        log(format!(
            "deployed in {} s",
            deploy_started.elapsed().as_secs()
        ));
        true
    };

    let stack = Stack::describe(&sdk, name).await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    if deployed {
        // S3 sends an s3:TestEvent when the notification is configured; tests expect a
        // quiet queue.
        notify::drop_test_events(&sqs, &stack).await?;
    }
    if args.check {
        log("checking S3 notifications (ledgers/ notifies, rejects/ does not)".into());
        notify::check(&s3, &sqs, &stack).await?;
        log("notification check passed".into());
    }
    log(format!(
        "done in {} s; its settings: eval \"$(infra/convoy local env)\"",
        started.elapsed().as_secs()
    ));
    Ok(stack)
}

fn log(line: String) {
    eprintln!("[provision] {line}");
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ProvisionError {
    let path = path.to_owned();
    move |source| ProvisionError::Io { what, path, source }
}

fn cf_error<E: std::error::Error + Send + Sync + 'static>(
    action: &'static str,
    stack: &str,
) -> impl FnOnce(E) -> ProvisionError {
    let stack = stack.to_owned();
    move |e| ProvisionError::CloudFormation {
        action,
        stack,
        source: Box::new(e),
    }
}

/// The stack's status, `None` when there is none; a stack that cannot be updated is deleted
/// (and then `None`).
async fn usable_status(
    cf: &aws_sdk_cloudformation::Client,
    name: &str,
) -> Result<Option<StackStatus>, ProvisionError> {
    let Some(status) = stack_status(cf, name).await? else {
        return Ok(None);
    };
    if !must_delete(&status) {
        return Ok(Some(status));
    }
    log(format!("deleting stack {name} ({})", status.as_str()));
    cf.delete_stack()
        .stack_name(name)
        .send()
        .await
        .map_err(cf_error("DeleteStack", name))?;
    let started = Instant::now();
    let limit = Duration::from_secs(120);
    loop {
        match stack_status(cf, name).await? {
            None | Some(StackStatus::DeleteComplete) => return Ok(None),
            Some(s) if started.elapsed() > limit => {
                return Err(ProvisionError::Stuck {
                    stack: name.to_owned(),
                    status: s.as_str().to_owned(),
                    waited: started.elapsed(),
                })
            }
            Some(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

async fn stack_status(
    cf: &aws_sdk_cloudformation::Client,
    name: &str,
) -> Result<Option<StackStatus>, ProvisionError> {
    match cf.describe_stacks().stack_name(name).send().await {
        Ok(out) => Ok(out.stacks().first().and_then(|s| s.stack_status()).cloned()),
        Err(e)
            if e.as_service_error()
                .and_then(|s| s.meta().message())
                .is_some_and(is_missing_stack) =>
        {
            Ok(None)
        }
        Err(e) => Err(cf_error("DescribeStacks", name)(e)),
    }
}

async fn create_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<(), ProvisionError> {
    let failed = |e: BoxError| ProvisionError::Bucket {
        bucket: bucket.to_owned(),
        source: e,
    };
    let listed = s3
        .list_buckets()
        .send()
        .await
        .map_err(|e| failed(Box::new(e)))?;
    if listed.buckets().iter().any(|b| b.name() == Some(bucket)) {
        return Ok(());
    }
    s3.create_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| failed(Box::new(e)))?;
    Ok(())
}

/// Runs `sam deploy` of the template, resources only, its output to `log_path`; on failure
/// the log's last lines go to stderr.
async fn sam_deploy(
    args: &ProvisionArgs,
    name: &str,
    emulator: &Emulator,
    root: &Path,
    bucket: &str,
    parameters: &[String],
    log_path: &Path,
) -> Result<(), ProvisionError> {
    let log_file = std::fs::File::create(log_path).map_err(io("creating", log_path))?;
    let log_err = log_file.try_clone().map_err(io("opening", log_path))?;
    let mut command = Command::new(&args.sam);
    command
        .current_dir(root)
        .args(["deploy", "--config-env", "local", "--template-file"])
        .arg(root.join("template.yaml"))
        .args(["--stack-name", name, "--region", &emulator.region])
        .args(["--s3-bucket", bucket, "--s3-prefix", name])
        .args(["--capabilities", "CAPABILITY_IAM", "--parameter-overrides"])
        .args(parameters)
        .args([
            "--no-confirm-changeset",
            "--no-fail-on-empty-changeset",
            "--no-progressbar",
        ])
        .env("AWS_ENDPOINT_URL", &emulator.endpoint_url)
        .env("AWS_REGION", &emulator.region)
        .env("AWS_DEFAULT_REGION", &emulator.region)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("SAM_CLI_TELEMETRY", "0")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err);
    if std::env::var_os("SAM_CLI_POLL_DELAY").is_none() {
        command.env("SAM_CLI_POLL_DELAY", "0.5");
    }
    let sam = args.sam.clone();
    let status = tokio::task::spawn_blocking(move || command.status())
        .await
        .map_err(|e| ProvisionError::Deploy {
            status: e.to_string(),
            log: log_path.to_owned(),
        })?
        .map_err(io("running", &sam))?;
    if status.success() {
        return Ok(());
    }
    if let Ok(text) = std::fs::read_to_string(log_path) {
        let lines: Vec<&str> = text.lines().collect();
        for line in &lines[lines.len().saturating_sub(40)..] {
            eprintln!("{line}");
        }
    }
    Err(ProvisionError::Deploy {
        status: status.to_string(),
        log: log_path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ProvisionArgs,
    }

    fn parse(argv: &[&str]) -> Result<ProvisionArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("provision").chain(argv.iter().copied()))
            .map(|c| c.args)
    }

    #[test]
    fn stack_names_fit_in_a_bucket_name() {
        assert!(parse_stack_name("ledger-convoy").is_ok());
        assert!(parse_stack_name("a").is_ok());
        assert!(parse_stack_name(&"a".repeat(26)).is_ok());
        for bad in ["", "Ledger", "1ledger", "ledger_convoy", &"a".repeat(27)] {
            assert!(parse_stack_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parameters_from_flags_and_overrides() {
        let args = parse(&[
            "--ledger-visibility-timeout",
            "30",
            "--transactions-visibility-timeout",
            "5",
            "--max-receive-count",
            "5",
            "--parameter-overrides",
            " LogLevel=debug  Architecture=arm64 ",
        ])
        .unwrap();
        assert_eq!(
            args.parameters(),
            [
                "DeployFunctions=false",
                "LedgerQueueVisibilityTimeout=30",
                "TransactionsQueueVisibilityTimeout=5",
                "MaxReceiveCount=5",
                "LogLevel=debug",
                "Architecture=arm64",
            ]
        );
        assert!(parse(&["--stack-name", "Bad_Name"]).is_err());
        assert!(parse(&["--max-receive-count", "x"]).is_err());
    }

    #[test]
    fn the_key_changes_with_template_and_parameters() {
        let p = vec!["A=1".to_owned()];
        let key = deploy_key(&p, b"template");
        assert_eq!(key.len(), 16);
        assert_eq!(key, deploy_key(&p, b"template"));
        assert_ne!(key, deploy_key(&p, b"template2"));
        assert_ne!(key, deploy_key(&["A=2".to_owned()], b"template"));
    }

    #[test]
    fn stack_states() {
        assert!(must_delete(&StackStatus::RollbackComplete));
        assert!(must_delete(&StackStatus::CreateFailed));
        assert!(!must_delete(&StackStatus::UpdateComplete));
        assert!(is_deployed(&StackStatus::CreateComplete));
        assert!(is_deployed(&StackStatus::UpdateRollbackComplete));
        assert!(!is_deployed(&StackStatus::DeleteComplete));
        assert!(!is_deployed(&StackStatus::UpdateInProgress));
    }
}
