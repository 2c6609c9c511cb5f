//! Where the provisioned resources are: read from the environment or `.local/stack.env`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The resources of one provisioned stack (the outputs of `infra/provision.sh`).
#[derive(Debug, Clone)]
pub struct Stack {
    pub bucket: String,
    pub ledger_queue_url: String,
    pub transactions_queue_url: String,
    pub transactions_dlq_url: String,
    pub ledger_dlq_url: String,
    pub table_name: String,
    pub endpoint_url: String,
    pub region: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("cannot read {path}: run `bash infra/provision.sh` first")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{name} is not set in the environment nor in {path}")]
    Missing { name: &'static str, path: PathBuf },
}

impl Stack {
    /// Reads the stack from the process environment, falling back to the env file.
    pub fn load(env_file: &Path) -> Result<Stack, StackError> {
        let file = if env_file.exists() {
            parse_env_file(&std::fs::read_to_string(env_file).map_err(|source| {
                StackError::Read {
                    path: env_file.to_owned(),
                    source,
                }
            })?)
        } else {
            HashMap::new()
        };
        let get = |name: &'static str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| file.get(name).cloned())
                .ok_or_else(|| StackError::Missing {
                    name,
                    path: env_file.to_owned(),
                })
        };
        Ok(Stack {
            bucket: get("CONVOY_BUCKET")?,
            ledger_queue_url: get("CONVOY_LEDGER_QUEUE_URL")?,
            transactions_queue_url: get("CONVOY_TRANSACTIONS_QUEUE_URL")?,
            transactions_dlq_url: get("CONVOY_TRANSACTIONS_DLQ_URL")?,
            ledger_dlq_url: get("CONVOY_LEDGER_DLQ_URL")?,
            table_name: get("CONVOY_TABLE_NAME")?,
            endpoint_url: get("CONVOY_ENDPOINT_URL")?,
            region: get("CONVOY_REGION")?,
        })
    }

    /// The default env file: `.local/stack.env` at the repository root.
    pub fn default_env_file() -> PathBuf {
        repo_root().join(".local").join("stack.env")
    }
}

/// The repository root: `CONVOY_ROOT` if set, else two levels above this crate.
pub fn repo_root() -> PathBuf {
    std::env::var_os("CONVOY_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(".."))
}

/// Parses `NAME=value` lines (optionally `export`ed, optionally quoted); ignores the rest.
pub fn parse_env_file(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let line = line.strip_prefix("export ").unwrap_or(line);
            if line.starts_with('#') {
                return None;
            }
            let (k, v) = line.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_owned(), v.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_forms() {
        let m = parse_env_file(
            "# stack\nexport CONVOY_BUCKET=\"b-1\"\nCONVOY_TABLE_NAME='t'\nCONVOY_X=a=b\n\n",
        );
        assert_eq!(m["CONVOY_BUCKET"], "b-1");
        assert_eq!(m["CONVOY_TABLE_NAME"], "t");
        assert_eq!(m["CONVOY_X"], "a=b");
        assert_eq!(m.len(), 3);
    }
}
