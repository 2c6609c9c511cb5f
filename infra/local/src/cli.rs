//! The command line: `convoy <command>`, each command parsed into its arguments and run.

use crate::deadletter::Dlq;
use crate::demo::{self, DemoArgs, DemoError};
use crate::local::{self, LocalError};
use crate::localstack::{self, LocalStackError};
use crate::ops::batches::BatchOpsError;
use crate::ops::{dlq, ledgers, orders, upload, OpsError, Target};
use crate::output::Output;
use crate::provision::{self, ProvisionArgs, ProvisionError};
use crate::stack::{Emulator, Stack, StackError};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

mod batches;
pub use batches::BatchCommand;

/// Operate ledger convoy: upload ledgers, follow them, look at orders, fix what is stuck —
/// on AWS or on the Docker-less emulator of this machine.
///
/// The stack is found by its name (--stack) from its CloudFormation outputs. AWS is reached
/// as the AWS CLI reaches it (AWS_PROFILE, AWS_REGION, credentials, AWS_ENDPOINT_URL);
/// --local means the emulator at AWS_ENDPOINT_URL (default http://127.0.0.1:4566) with
/// dummy credentials.
///
/// Exit codes: 0 done; 1 failed (a missing stack, ledger, order, message or batch, missing
/// credentials, a window not settled yet; `upload --wait` and `local demo`: a ledger that
/// ended failed or unsupported; `local demo`: a message in a dead-letter queue); 2 usage
/// error; 3 `upload --wait` ran out of time while a ledger still processes.
#[derive(Debug, clap::Parser)]
#[command(name = "convoy", version, max_term_width = 100)]
pub struct Cli {
    /// The stack's name.
    #[arg(
        long,
        global = true,
        env = "CONVOY_STACK_NAME",
        default_value = crate::stack::DEFAULT_STACK_NAME
    )]
    pub stack: String,
    /// Work on the local emulator (dummy credentials) instead of AWS.
    #[arg(long, global = true, env = "CONVOY_LOCAL")]
    pub local: bool,
    /// Print JSON Lines (one object per line) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Upload ledger files under ledgers/ (in parts when large), optionally following each
    /// to its final status.
    Upload(upload::UploadArgs),
    /// Ledgers: their status records and rejects reports.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// One order: its state and history; voiding a seq that will never arrive.
    #[command(subcommand)]
    Order(OrderCommand),
    /// All orders, or those stalled behind a missing seq.
    #[command(subcommand)]
    Orders(OrdersCommand),
    /// The dead-letter queues (transactions, ledger): what waits there and why, and
    /// sending it back.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// The cutoff batches: each window's paid orders in receipt order, one file a window
    /// (batches/<window>.jsonl); listing, checking and writing them.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// The Docker-less stack on this machine: LocalStack, the template's resources, the
    /// function binaries and the event source mappings.
    #[command(subcommand)]
    Local(LocalCommand),
    /// Print a shell completion script (e.g. convoy completions bash > /etc/bash_completion.d/convoy).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum LedgerCommand {
    /// Every ledger under ledgers/ (the first 1,000 in key order) with its state and
    /// counts.
    List {
        /// Only keys under ledgers/PREFIX.
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// A ledger's status record: state, lines read, sent, refused, continuations,
    /// checkpoint, error.
    Status {
        /// The ledger's key (ledgers/ may be left out).
        key: String,
    },
    /// A ledger's refused lines: line, field, reason and text of each.
    Rejects {
        /// The ledger's key (ledgers/ may be left out).
        key: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum OrderCommand {
    /// The order as the contract shows it (section 4); --history adds what became of
    /// every seq (applied, rejected and why, voided by whom), the parked transactions and
    /// the conflicts.
    Show {
        order_id: String,
        #[arg(long)]
        history: bool,
    },
    /// Void a seq of an order that will never arrive, the compensating action for a
    /// stalled order: recorded in the order's history with who (the caller's AWS
    /// identity), when and why; the order drains on from it. A seq ahead of the order's
    /// next waits for it. Refused, changing nothing, when a transaction holds that seq.
    Void {
        order_id: String,
        /// The missing sequence number.
        #[arg(long)]
        seq: u64,
        /// Why it will never arrive (kept in the order's history).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum OrdersCommand {
    /// Every order (a scan of the table), optionally only those in one status.
    List {
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(orders::statuses()))]
        status: Option<String>,
    },
    /// One pass of the watchdog: orders waiting behind a missing seq for longer than
    /// --after are recorded as stalled on their waiting entry and listed; a due drain
    /// nothing drives is resumed. Fails when some orders could not be checked.
    Stalled {
        /// Waiting longer than this many seconds is stalled.
        #[arg(long, value_name = "SECONDS", default_value_t = 900)]
        after: u64,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum DlqCommand {
    /// Every waiting message in the queue's order (what it is, receives, the consumer's
    /// last error); nothing is taken. A FIFO queue shows at most 10 of a group at a time.
    List {
        #[arg(long, value_enum, default_value = "transactions")]
        queue: Dlq,
    },
    /// One message, whole: its body and why it failed.
    Show {
        message_id: String,
        #[arg(long, value_enum, default_value = "transactions")]
        queue: Dlq,
    },
    /// Send messages back to their source queue (each group's in order, with a fresh
    /// deduplication id) and delete them from the dead-letter queue.
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
        body: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum LocalCommand {
    /// Start what is not running: installs the tools (once, into .local/), starts
    /// LocalStack, provisions template.yaml, runs the function binaries behind Lambda's
    /// Invoke API and the event source mappings in the background.
    Up(ProvisionArgs),
    /// Stop the mappings, the function binaries and LocalStack.
    Down,
    /// What runs (exit 0 when all of it does).
    Status,
    /// The main job: one ledger through the whole pipeline (what is not running is
    /// started, and stopped after); every order it reached printed as one JSON line.
    Demo {
        #[command(flatten)]
        demo: DemoArgs,
        #[command(flatten)]
        provision: ProvisionArgs,
    },
    /// Deploy template.yaml's resources (DeployFunctions=false) with `sam deploy`.
    Provision(ProvisionArgs),
    /// Print the stack's outputs and the emulator's settings as shell `export` lines:
    /// eval "$(convoy local env)".
    Env,
    /// Succeed when LocalStack reports every service available or running.
    Health(HealthArgs),
    /// A DynamoDB round trip through the emulator; prints how long it took, in seconds.
    Smoke {
        /// Fail after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        timeout: u64,
    },
    /// Play Lambda's event source mappings (ledger queue → ledger, transactions queue →
    /// consumer) against the Invoke API until SIGTERM or Ctrl-C (`local up` runs it).
    Mappings {
        #[arg(long, default_value_t = local::lambda_endpoint())]
        lambda_endpoint: String,
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
    Ops(#[from] OpsError),
    #[error(transparent)]
    Batch(#[from] BatchOpsError),
    #[error(transparent)]
    Demo(#[from] DemoError),
    #[error(transparent)]
    Local(#[from] LocalError),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    #[error(transparent)]
    LocalStack(#[from] LocalStackError),
    #[error("not running: {0} (convoy local up starts them)")]
    NotAllUp(String),
    #[error("writing the output")]
    Write(#[from] std::io::Error),
}

impl CommandError {
    /// Whether the reader of the output went away (`convoy … | head`): not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        let io = match self {
            CommandError::Write(e)
            | CommandError::Ops(OpsError::Write(e))
            | CommandError::Batch(BatchOpsError::Write(e))
            | CommandError::Batch(BatchOpsError::Ops(OpsError::Write(e))) => e,
            _ => return false,
        };
        io.kind() == std::io::ErrorKind::BrokenPipe
    }

    /// The process's exit code (see [`Cli`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Ops(e) => e.exit_code(),
            _ => 1,
        }
    }
}

impl Cli {
    /// Runs the command; its results to `out`, progress to stderr.
    pub async fn run(&self, out: &mut dyn Write) -> Result<(), CommandError> {
        let mut output = Output::new(self.json, out);
        let out = &mut output;
        let target = || Target::connect(&self.stack, self.local);
        match &self.command {
            Command::Upload(args) => upload::run(&target().await?, args, out).await?,
            Command::Ledger(c) => {
                let t = target().await?;
                match c {
                    LedgerCommand::List { prefix } => ledgers::list(&t, prefix, out).await?,
                    LedgerCommand::Status { key } => {
                        let status = ledgers::status(&t, key).await?;
                        ledgers::print_status(&status, out)?;
                    }
                    LedgerCommand::Rejects { key } => ledgers::rejects(&t, key, out).await?,
                }
            }
            Command::Order(c) => {
                let t = target().await?;
                match c {
                    OrderCommand::Show { order_id, history } => {
                        orders::show(&t, order_id, *history, out).await?
                    }
                    OrderCommand::Void {
                        order_id,
                        seq,
                        reason,
                    } => orders::void(&t, order_id, *seq, reason, out).await?,
                }
            }
            Command::Orders(c) => {
                let t = target().await?;
                match c {
                    OrdersCommand::List { status } => {
                        orders::list(&t, status.as_deref(), out).await?
                    }
                    OrdersCommand::Stalled { after } => {
                        orders::stalled(&t, Duration::from_secs(*after), out).await?
                    }
                }
            }
            Command::Dlq(c) => {
                let t = target().await?;
                match c {
                    DlqCommand::List { queue } => dlq::list(&t, *queue, out).await?,
                    DlqCommand::Show { message_id, queue } => {
                        dlq::show(&t, *queue, message_id, out).await?
                    }
                    DlqCommand::Redrive {
                        queue,
                        group,
                        message_id,
                        body,
                    } => {
                        let selection = dlq::Selection {
                            group: group.as_deref(),
                            message_id: message_id.as_deref(),
                            body: body.as_deref(),
                        };
                        dlq::redrive(&t, *queue, &selection, out).await?
                    }
                }
            }
            Command::Batch(c) => c.run(&target().await?, out).await?,
            Command::Local(c) => self.local(c, out).await?,
            Command::Completions { shell } => {
                let mut command = <Cli as clap::CommandFactory>::command();
                let mut buf = Vec::new();
                clap_complete::generate(*shell, &mut command, "convoy", &mut buf);
                out.text(String::from_utf8_lossy(&buf).trim_end())?;
            }
        }
        Ok(())
    }

    async fn local(
        &self,
        command: &LocalCommand,
        out: &mut Output<'_>,
    ) -> Result<(), CommandError> {
        let emulator = Emulator::from_env();
        match command {
            LocalCommand::Up(args) => {
                local::up(args, &self.stack, true).await?;
                let status = local::status(&self.stack).await?;
                print_status(&status, out)?;
            }
            LocalCommand::Down => local::down(local::Started {
                localstack: true,
                functions: true,
                mappings: true,
            })?,
            LocalCommand::Status => {
                let status = local::status(&self.stack).await?;
                print_status(&status, out)?;
                let down = status.down();
                if !down.is_empty() {
                    return Err(CommandError::NotAllUp(down.join(", ")));
                }
            }
            LocalCommand::Demo { demo, provision } => {
                let started = local::up(provision, &self.stack, false).await?;
                let result = demo::run(demo, &self.stack, out.writer()).await;
                let stopped = local::down(started);
                // The demo's own failure first; a failed stop is then logged, not lost.
                result?;
                stopped?;
            }
            LocalCommand::Provision(args) => {
                provision::provision(args, &self.stack, &emulator).await?;
            }
            LocalCommand::Env => {
                let sdk = emulator.sdk_config().await;
                let exports = Stack::describe(&sdk, &self.stack).await?.exports();
                out.text(exports.trim_end())?;
            }
            LocalCommand::Health(args) => {
                let wanted: Vec<&str> = args.services.iter().map(String::as_str).collect();
                let wait = Duration::from_secs(args.wait);
                let took = localstack::wait_healthy(&emulator, &wanted, wait, args.pid).await?;
                out.text(&took.as_secs().to_string())?;
            }
            LocalCommand::Smoke { timeout } => {
                let limit = Duration::from_secs(*timeout);
                let took = localstack::dynamodb_smoke(&emulator, limit).await?;
                out.text(&format!("{:.2}", took.as_secs_f64()))?;
            }
            LocalCommand::Mappings { lambda_endpoint } => {
                local::run_mappings(&self.stack, lambda_endpoint).await?
            }
        }
        Ok(())
    }
}

fn print_status(status: &local::Status, out: &mut Output<'_>) -> std::io::Result<()> {
    if out.json() {
        return out.line(status);
    }
    let up = |b: bool| if b { "running" } else { "stopped" }.to_owned();
    out.fields(&[
        ("LocalStack", up(status.localstack)),
        (
            "stack",
            status
                .stack
                .clone()
                .unwrap_or_else(|| "not provisioned".into()),
        ),
        ("function binaries", up(status.functions)),
        (
            "event source mappings",
            status
                .mappings
                .map_or_else(|| "stopped".into(), |pid| format!("running (pid {pid})")),
        ),
    ])
}

#[cfg(test)]
mod tests;
