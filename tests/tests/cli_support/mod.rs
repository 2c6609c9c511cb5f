//! What the CLI's emulator tests share: running the `convoy` binary, golden files.
// Each test file uses some of these.
#![allow(dead_code)]

use convoy_local::pipeline::Upload;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/debug/convoy`, beside this test's own directory (`target/debug/deps`).
pub fn convoy_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).unwrap().join("convoy");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build --workspace --bins --tests` (infra/test.sh does)",
        bin.display()
    );
    bin
}

/// What a run of the CLI gave.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// The JSON lines of stdout.
    pub fn lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    pub fn ok(self, what: &str) -> Ran {
        assert_eq!(self.code, 0, "{what}: {}", self.stderr);
        self
    }

    /// Fails with `code`, saying `says` in one line on stderr (no SDK debug dump, no panic).
    pub fn fails(&self, code: i32, says: &str) {
        assert_eq!(
            self.code, code,
            "stdout {} stderr {}",
            self.stdout, self.stderr
        );
        let line = self.stderr.trim_end();
        assert!(line.starts_with("convoy: "), "{line}");
        assert!(line.contains(says), "{line}");
        for dump in ["panicked", "Error {", "ServiceError {", "WARN"] {
            assert!(!line.contains(dump), "{line}");
        }
    }
}

pub fn convoy(args: &[&str]) -> Ran {
    let out = Command::new(convoy_binary())
        .arg("--local")
        .args(args)
        .env_remove("CONVOY_LOG")
        .output()
        .unwrap();
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The upload `convoy upload --json` printed.
pub fn upload_of(line: &Value) -> Upload {
    Upload {
        key: line["key"].as_str().unwrap().to_owned(),
        version_id: line["version_id"].as_str().map(str::to_owned),
        etag: line["etag"].as_str().map(str::to_owned),
    }
}

/// Fields that differ from run to run.
pub const VOLATILE: &[&str] = &[
    "version_id",
    "etag",
    "started_at",
    "updated_at",
    "owner",
    "at",
    "since",
    "stalled_at",
    "last_modified",
    "message_id",
    "sequencer",
    "bucket",
    "file",
    // An order's payment: its number depends on the payments before it, its time and
    // window on the clock.
    "receipt",
    "paid_at",
    "batch",
];

/// `value` with this run's id as `RUN` and volatile fields as `"<field>"`.
pub fn normalize(value: &Value, run: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace(run, "RUN")),
        Value::Array(a) => Value::Array(a.iter().map(|v| normalize(v, run)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let v = if VOLATILE.contains(&k.as_str()) && !v.is_null() {
                        Value::String(format!("<{k}>"))
                    } else {
                        normalize(v, run)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Compares `lines` (normalized) with `tests/fixtures/cli/<name>.json`.
pub fn golden(name: &str, lines: &[Value], run: &str) {
    let got = Value::Array(lines.iter().map(|l| normalize(l, run)).collect());
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/cli")
        .join(format!("{name}.json"));
    if std::env::var_os("CONVOY_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (CONVOY_BLESS=1 writes it)", path.display())),
    )
    .unwrap();
    assert_eq!(
        got,
        want,
        "{name}: got\n{}",
        serde_json::to_string_pretty(&got).unwrap()
    );
}

/// This run's lines only (the table is shared with other tests' orders).
pub fn mine(lines: Vec<Value>, field: &str, prefix: &str) -> Vec<Value> {
    lines
        .into_iter()
        .filter(|l| l[field].as_str().is_some_and(|v| v.contains(prefix)))
        .collect()
}
