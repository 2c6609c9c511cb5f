//! The command line: `convoy-local <command>`, each command parsed into its arguments and run.

use crate::deadletter::{DeadLetterError, DeadLetterQueue, Dlq};
use crate::demo::{self, DemoArgs, DemoError};
use crate::localstack::{self, LocalStackError};
use crate::provision::{self, ProvisionArgs, ProvisionError};
use crate::stack::{Emulator, Stack, StackError};
use std::io::Write;
use std::time::Duration;

/// The local driver of ledger convoy: the emulator's stack and the pipeline on it.
///
/// The emulator is at `AWS_ENDPOINT_URL` (default http://127.0.0.1:4566), the stack is
/// `CONVOY_STACK_NAME` (default ledger-convoy); credentials are always dummy ones.
#[derive(Debug, clap::Parser)]
#[command(name = "convoy-local")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The main job: one ledger through the pipeline, against the real binaries behind
    /// Lambda's Invoke API; every order it reached printed as one JSON line.
    Demo(DemoArgs),
    /// Prints the stack's outputs and the emulator's settings as shell `export` lines:
    /// eval "$(target/debug/convoy-local env)".
    Env,
    /// Deploys template.yaml's resources (DeployFunctions=false) with `sam deploy`.
    Provision(ProvisionArgs),
    /// Succeeds when LocalStack reports every service available or running.
    Health(HealthArgs),
    /// The dead-letter queues: what waits there, and redriving it to its source queue.
    #[command(subcommand)]
    DeadLetters(DeadLetterCommand),
    /// One run of the watchdog against the stack's table: every order waiting behind a
    /// missing transaction for longer than --after is recorded as stalled and printed as
    /// one JSON line (order, missing seq, since, parked); a due drain nothing drives gets
    /// a resume message (`{"resumed": …}`).
    Stalled {
        /// Waiting longer than this many seconds is stalled.
        #[arg(long, value_name = "SECONDS", default_value_t = 900)]
        after: u64,
    },
    /// Voids a seq of an order that will never arrive, the compensating action for a
    /// stalled order: recorded in the order's history with who (the caller's AWS identity),
    /// when and why, the order drains on from it; a seq ahead of the order's next waits
    /// for it. Refused, changing nothing, when a transaction holds that seq. Prints the
    /// outcome as one JSON line.
    Void {
        /// The order.
        order_id: String,
        /// The missing sequence number.
        #[arg(long)]
        seq: u64,
        /// Why it will never arrive (kept in the order's history).
        #[arg(long)]
        reason: String,
    },
    /// A DynamoDB round trip through the emulator; prints how long it took, in seconds.
    Smoke {
        /// Fail after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        timeout: u64,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum DeadLetterCommand {
    /// Prints each waiting message as one JSON line (id, group, receive count, what it is,
    /// body), in the queue's order; nothing is taken.
    List {
        #[arg(long, value_enum, default_value = "transactions")]
        queue: Dlq,
    },
    /// Sends messages back to their source queue (each group's in order, with a fresh
    /// deduplication id) and deletes them from the dead-letter queue; prints the ids sent.
    Redrive {
        #[arg(long, value_enum, default_value = "transactions")]
        queue: Dlq,
        /// Only this group's messages (an order id).
        #[arg(long)]
        group: Option<String>,
        /// Only this message.
        #[arg(long)]
        message_id: Option<String>,
        /// The corrected body for --message-id, read from this file.
        #[arg(long, requires = "message_id")]
        body_file: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct HealthArgs {
    /// The services that must be up.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "s3,sqs,dynamodb,cloudformation,sts,iam,logs,ssm"
    )]
    pub services: Vec<String>,
    /// Wait up to this many seconds for them (0: look once).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub wait: u64,
    /// Fail at once when this process (LocalStack starting) has exited.
    #[arg(long)]
    pub pid: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Demo(#[from] DemoError),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    #[error(transparent)]
    LocalStack(#[from] LocalStackError),
    #[error(transparent)]
    DeadLetter(#[from] DeadLetterError),
    #[error(transparent)]
    Watchdog(#[from] watchdog::WatchError),
    #[error(transparent)]
    Void(#[from] Box<consumer::void::VoidError>),
    #[error("invalid {what}")]
    Argument {
        what: &'static str,
        #[source]
        source: convoy_core::FieldError,
    },
    #[error("finding the caller's AWS identity (sts:GetCallerIdentity) failed")]
    Identity(#[source] convoy_core::BoxError),
    #[error("reading the corrected body {path}")]
    BodyFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing the output")]
    Write(#[source] std::io::Error),
}

impl Command {
    /// Runs the command; its results to `out`, progress to stderr.
    pub async fn run(&self, out: &mut impl Write) -> Result<(), CommandError> {
        let emulator = Emulator::from_env();
        match self {
            Command::Demo(args) => demo::run(args, out).await?,
            Command::Env => {
                let exports = Stack::load().await?.exports();
                out.write_all(exports.as_bytes())
                    .map_err(CommandError::Write)?;
            }
            Command::Provision(args) => {
                provision::provision(args, &emulator).await?;
            }
            Command::Health(args) => {
                let wanted: Vec<&str> = args.services.iter().map(String::as_str).collect();
                let wait = Duration::from_secs(args.wait);
                let took = localstack::wait_healthy(&emulator, &wanted, wait, args.pid).await?;
                writeln!(out, "{}", took.as_secs()).map_err(CommandError::Write)?;
            }
            Command::DeadLetters(command) => dead_letters(command, &emulator, out).await?,
            Command::Stalled { after } => {
                stalled(Duration::from_secs(*after), &emulator, out).await?
            }
            Command::Void {
                order_id,
                seq,
                reason,
            } => void(order_id, *seq, reason, &emulator, out).await?,
            Command::Smoke { timeout } => {
                let limit = Duration::from_secs(*timeout);
                let took = localstack::dynamodb_smoke(&emulator, limit).await?;
                writeln!(out, "{:.2}", took.as_secs_f64()).map_err(CommandError::Write)?;
            }
        }
        Ok(())
    }
}

async fn dead_letters(
    command: &DeadLetterCommand,
    emulator: &Emulator,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let stack = Stack::load().await?;
    let sqs = aws_sdk_sqs::Client::new(&emulator.sdk_config().await);
    let orders = convoy_store::DynamoOrderStore::new(
        aws_sdk_dynamodb::Client::new(&emulator.sdk_config().await),
        stack.table_name.clone(),
    );
    let queue =
        |which: Dlq| DeadLetterQueue::of(sqs.clone(), &stack, which).with_failures(orders.clone());
    let line = |out: &mut dyn Write, v: serde_json::Value| {
        writeln!(out, "{v}").map_err(CommandError::Write)
    };
    match command {
        DeadLetterCommand::List { queue: which } => {
            for letter in queue(*which).list().await? {
                line(out, serde_json::json!(letter))?;
            }
        }
        DeadLetterCommand::Redrive {
            queue: which,
            group,
            message_id,
            body_file,
        } => {
            let mut corrections = std::collections::HashMap::new();
            if let (Some(id), Some(path)) = (message_id, body_file) {
                let body =
                    std::fs::read_to_string(path).map_err(|source| CommandError::BodyFile {
                        path: path.clone(),
                        source,
                    })?;
                corrections.insert(id.clone(), body.trim_end_matches('\n').to_owned());
            }
            let done = queue(*which)
                .redrive(
                    |l| {
                        group
                            .as_ref()
                            .is_none_or(|g| l.group_id.as_ref() == Some(g))
                            && message_id.as_ref().is_none_or(|m| &l.message_id == m)
                    },
                    &corrections,
                )
                .await?;
            line(
                out,
                serde_json::json!({"sent": done.sent, "corrected": done.corrected}),
            )?;
        }
    }
    Ok(())
}

async fn stalled(
    after: Duration,
    emulator: &Emulator,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let stack = Stack::load().await?;
    let sdk = emulator.sdk_config().await;
    let store = convoy_store::DynamoOrderStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        stack.table_name.clone(),
    );
    let queue = consumer::sqs::SqsDrainQueue::new(
        aws_sdk_sqs::Client::new(&sdk),
        stack.transactions_queue_url.clone(),
    );
    let now = convoy_store::plan::now().millis;
    let settings = watchdog::Settings { stall_after: after };
    let report = watchdog::watch(&store, &queue, settings, now).await?;
    for s in &report.stalled {
        writeln!(out, "{}", serde_json::json!(s)).map_err(CommandError::Write)?;
    }
    for id in &report.resumed {
        writeln!(out, "{}", serde_json::json!({ "resumed": id })).map_err(CommandError::Write)?;
    }
    Ok(())
}

async fn void(
    order_id: &str,
    seq: u64,
    reason: &str,
    emulator: &Emulator,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let argument = |what| move |source| CommandError::Argument { what, source };
    let order_id = convoy_core::OrderId::parse(order_id).map_err(argument("order id"))?;
    let seq = convoy_core::Seq::new(seq).map_err(argument("seq"))?;
    let stack = Stack::load().await?;
    let sdk = emulator.sdk_config().await;
    let identity = aws_sdk_sts::Client::new(&sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| CommandError::Identity(Box::new(e)))?;
    let arn = identity.arn().unwrap_or_default();
    let by = convoy_core::Principal::parse(arn).map_err(argument("caller identity"))?;
    let store = convoy_store::DynamoOrderStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        stack.table_name.clone(),
    );
    let request = consumer::void::VoidRequest {
        order_id,
        seq,
        reason: reason.to_owned(),
        by,
        at: convoy_store::plan::now().text,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    let settings = consumer::Settings::default();
    let outcome = consumer::void::void(&store, &request, &settings, deadline)
        .await
        .map_err(Box::new)?;
    // As the outcome orders its fields: `voided` (now, ahead, already) first.
    let line = serde_json::to_string(&outcome).unwrap_or_default();
    writeln!(out, "{line}").map_err(CommandError::Write)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(argv: &str) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("convoy-local").chain(argv.split_whitespace()))
            .map(|c| c.command)
    }

    #[test]
    fn demo_arguments() {
        let Ok(Command::Demo(args)) = parse(
            "demo my.jsonl --expect my.expected --timeout 30 --lambda-endpoint http://127.0.0.1:9001",
        ) else {
            panic!("not a demo");
        };
        assert_eq!(args.ledger(), std::path::Path::new("my.jsonl"));
        assert_eq!(
            args.expect.as_deref(),
            Some(std::path::Path::new("my.expected"))
        );
        assert_eq!(args.timeout, Duration::from_secs(30));
        assert_eq!(args.lambda_endpoint, "http://127.0.0.1:9001");
    }

    #[test]
    fn demo_defaults() {
        let Ok(Command::Demo(args)) = parse("demo") else {
            panic!("not a demo");
        };
        assert!(args.ledger().ends_with("infra/samples/demo.jsonl"));
        assert_eq!(args.expect, None);
        assert_eq!(args.timeout, Duration::from_secs(600));
        assert_eq!(args.lambda_endpoint, "http://127.0.0.1:9000");
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(parse("demo --timeout soon").is_err());
        assert!(parse("demo --env-file .local/stack.env").is_err());
        assert!(parse("demo a.jsonl b.jsonl").is_err());
        assert!(parse("").is_err());
        assert!(parse("env --extra").is_err());
    }

    #[test]
    fn dead_letter_arguments() {
        let Ok(Command::DeadLetters(DeadLetterCommand::List { queue })) =
            parse("dead-letters list --queue ledger")
        else {
            panic!("not a listing");
        };
        assert_eq!(queue, Dlq::Ledger);
        let Ok(Command::DeadLetters(DeadLetterCommand::Redrive {
            queue,
            group,
            message_id,
            body_file,
        })) = parse("dead-letters redrive --group A-1 --message-id m1 --body-file fixed.json")
        else {
            panic!("not a redrive");
        };
        assert_eq!(queue, Dlq::Transactions);
        assert_eq!(
            (group.as_deref(), message_id.as_deref()),
            (Some("A-1"), Some("m1"))
        );
        assert_eq!(body_file, Some(std::path::PathBuf::from("fixed.json")));
        // A corrected body names the message it corrects.
        assert!(parse("dead-letters redrive --body-file fixed.json").is_err());
        assert!(parse("dead-letters redrive --queue other").is_err());
    }

    #[test]
    fn health_arguments() {
        let Ok(Command::Health(args)) = parse("health --services s3,sqs --wait 90 --pid 42") else {
            panic!("not health");
        };
        assert_eq!(args.services, ["s3", "sqs"]);
        assert_eq!((args.wait, args.pid), (90, Some(42)));
        let Ok(Command::Health(args)) = parse("health") else {
            panic!("not health");
        };
        assert_eq!(args.services.len(), 8);
        assert_eq!((args.wait, args.pid), (0, None));
    }
}
