//! `convoy local up | down | status | mappings`: the Docker-less stack on this machine —
//! LocalStack, the template's resources, the real function binaries behind Lambda's Invoke
//! API, and the event source mappings that feed them.
//!
//! LocalStack and the function binaries are processes the scripts `infra/localstack.sh` and
//! `infra/lambdas.sh` start and stop (they know the installed tools' paths); the
//! provisioning and the mappings are this crate's own.

use crate::function::HttpFunction;
use crate::pipeline::Pipeline;
use crate::provision::{self, ProvisionArgs, ProvisionError};
use crate::stack::{repo_root, Emulator, Stack, StackError};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{what} failed ({status}); see the lines above")]
    Script { what: String, status: String },
    #[error("running {what}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
    #[error("building the Invoke API client")]
    Client(#[source] reqwest::Error),
    #[error("the event source mappings exited at start; see {log}")]
    MappingsExited { log: PathBuf },
}

/// Where the stack's local state lives (`CONVOY_LOCAL_DIR`, default `<repo>/.local`).
pub fn local_dir() -> PathBuf {
    std::env::var_os("CONVOY_LOCAL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".local"))
}

/// Lambda's Invoke API of `infra/lambdas.sh` (`CONVOY_LAMBDA_PORT`, default 9000).
pub fn lambda_endpoint() -> String {
    let port = std::env::var("CONVOY_LAMBDA_PORT").unwrap_or_else(|_| "9000".into());
    format!("http://127.0.0.1:{port}")
}

fn script(name: &str) -> PathBuf {
    repo_root().join("infra").join(name)
}

/// Runs `bash infra/<name> <args>`, its output to stderr; `Ok(false)` when it exits
/// non-zero and `quiet` (a status probe).
fn bash(name: &str, args: &[&str], quiet: bool) -> Result<bool, LocalError> {
    let what = format!("infra/{name} {}", args.join(" "));
    let mut command = Command::new("bash");
    command.arg(script(name)).args(args).stdin(Stdio::null());
    if quiet {
        command.stdout(Stdio::null()).stderr(Stdio::null());
    } else {
        command.stdout(Stdio::from(std::io::stderr()));
    }
    let status = command.status().map_err(|source| LocalError::Spawn {
        what: what.clone(),
        source,
    })?;
    if status.success() || quiet {
        Ok(status.success())
    } else {
        Err(LocalError::Script {
            what,
            status: status.to_string(),
        })
    }
}

/// What `up` found running and what it started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub localstack: bool,
    pub functions: bool,
    pub mappings: bool,
}

/// Brings the stack up, starting only what is not running: the tools (installed once),
/// LocalStack, the template's resources, the function binaries and, with `mappings`, the
/// event source mappings as a background process.
pub async fn up(args: &ProvisionArgs, stack: &str, mappings: bool) -> Result<Started, LocalError> {
    let mut started = Started::default();
    bash("install.sh", &[], false)?;
    if !bash("localstack.sh", &["status"], true)? {
        bash("localstack.sh", &["start"], false)?;
        started.localstack = true;
    }
    let mut args = args.clone();
    let tools = local_dir().join("venv/tools/bin/sam");
    if args.sam == Path::new("sam") && tools.exists() {
        args.sam = tools;
    }
    provision::provision(&args, stack, &Emulator::from_env()).await?;
    if !bash("lambdas.sh", &["status"], true)? {
        bash("lambdas.sh", &["start"], false)?;
        started.functions = true;
    }
    if mappings && mappings_pid().is_none() {
        start_mappings(stack)?;
        started.mappings = true;
    }
    Ok(started)
}

/// Stops what `started` says was started (all of it for `convoy local down`).
pub fn down(started: Started) -> Result<(), LocalError> {
    if started.mappings {
        stop_mappings()?;
    }
    if started.functions {
        bash("lambdas.sh", &["stop"], false)?;
    }
    if started.localstack {
        bash("localstack.sh", &["stop"], false)?;
    }
    Ok(())
}

/// What runs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub localstack: bool,
    pub stack: Option<String>,
    pub functions: bool,
    pub mappings: Option<u32>,
}

impl Status {
    /// What does not run (nothing when all of it does).
    pub fn down(&self) -> Vec<&'static str> {
        [
            (self.localstack, "LocalStack"),
            (self.stack.is_some(), "the stack (not provisioned)"),
            (self.functions, "the function binaries"),
            (self.mappings.is_some(), "the event source mappings"),
        ]
        .into_iter()
        .filter(|(up, _)| !up)
        .map(|(_, what)| what)
        .collect()
    }
}

pub async fn status(stack: &str) -> Result<Status, LocalError> {
    let localstack = bash("localstack.sh", &["status"], true)?;
    let stack = if localstack {
        let sdk = Emulator::from_env().sdk_config().await;
        Stack::describe(&sdk, stack).await.ok().map(|s| s.name)
    } else {
        None
    };
    Ok(Status {
        localstack,
        stack,
        functions: bash("lambdas.sh", &["status"], true)?,
        mappings: mappings_pid(),
    })
}

fn mappings_pid_file() -> PathBuf {
    local_dir().join("mappings.pid")
}

/// The pid of the running mappings process, if any: the pid file's process, whose command
/// line ends with `local mappings` (a recycled pid is not ours).
fn mappings_pid() -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(mappings_pid_file())
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    cmdline
        .strip_suffix(b"\0")
        .unwrap_or(&cmdline)
        .ends_with(b"local\0mappings")
        .then_some(pid)
}

/// Starts `convoy local mappings` in the background, in a process group of its own, its
/// log in `.local/mappings.log`.
fn start_mappings(stack: &str) -> Result<(), LocalError> {
    let dir = local_dir();
    let io = |what, path: &Path| {
        let path = path.to_owned();
        move |source| LocalError::Io { what, path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    let log_path = dir.join("mappings.log");
    let log = std::fs::File::create(&log_path).map_err(io("creating", &log_path))?;
    let err = log.try_clone().map_err(io("opening", &log_path))?;
    let exe = std::env::current_exe().map_err(io("finding", Path::new("this executable")))?;
    let child = {
        use std::os::unix::process::CommandExt;
        Command::new(exe)
            .args(["--stack", stack, "local", "mappings"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|source| LocalError::Spawn {
                what: "convoy local mappings".into(),
                source,
            })?
    };
    let pid_file = mappings_pid_file();
    std::fs::write(&pid_file, format!("{}\n", child.id())).map_err(io("writing", &pid_file))?;
    std::thread::sleep(Duration::from_millis(500));
    if mappings_pid().is_none() {
        return Err(LocalError::MappingsExited { log: log_path });
    }
    eprintln!(
        "[convoy] event source mappings running (pid {}, log {})",
        child.id(),
        log_path.display()
    );
    Ok(())
}

/// SIGTERM (batches in flight finish), then after 30 s SIGKILL: what a killed batch held
/// comes back to its queue after the visibility timeout, as in Lambda.
fn stop_mappings() -> Result<(), LocalError> {
    if let Some(pid) = mappings_pid() {
        let signal = |name: &str| {
            let _ = Command::new("kill").args([name, &pid.to_string()]).status();
        };
        signal("-TERM");
        for _ in 0..300 {
            if mappings_pid().is_none() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if mappings_pid().is_some() {
            eprintln!(
                "[convoy] the event source mappings (pid {pid}) did not stop in 30 s: SIGKILL"
            );
            signal("-KILL");
        }
        eprintln!("[convoy] stopped the event source mappings (pid {pid})");
    }
    let _ = std::fs::remove_file(mappings_pid_file());
    Ok(())
}

/// Plays Lambda's event source mappings against the function binaries behind the Invoke
/// API until SIGTERM or Ctrl-C; batches in flight finish first.
pub async fn run_mappings(stack: &str, endpoint: &str) -> Result<(), LocalError> {
    let sdk = Emulator::from_env().sdk_config().await;
    let stack = Stack::describe(&sdk, stack).await?;
    let pipeline = Pipeline::connect(stack).await;
    let timeout = Duration::from_secs(900);
    let ledger = HttpFunction::new(endpoint, "ledger", timeout).map_err(LocalError::Client)?;
    let consumer = HttpFunction::new(endpoint, "consumer", timeout).map_err(LocalError::Client)?;
    let running = pipeline.start(ledger, consumer, 4).await?;
    eprintln!(
        "[mappings] polling the ledger and transactions queues of {}",
        pipeline.stack.name
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|source| LocalError::Spawn {
            what: "SIGTERM handler".into(),
            source,
        })?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    eprintln!("[mappings] stopping: waiting for the batches in flight");
    running.stop().await;
    Ok(())
}
