//! The conformance vectors of `fixtures/vectors/` (read-only), rewritten for one run: the
//! ledger with its order ids prefixed, the expected orders likewise, the expected rejects.

use crate::check::Reject;
use crate::rewrite::{prefix_csv, prefix_jsonl, prefix_view, RewriteError};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The vectors, by file name.
pub const ALL: [&str; 5] = [
    "v1-interleaved.jsonl",
    "v2-reordered.jsonl",
    "v3-gap-dup-conflict.jsonl",
    "v4-quoted.csv",
    "v5-edges.jsonl",
];

#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: not the expected JSON")]
    Json {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}:{line}: no line number")]
    NoLine { path: PathBuf, line: usize },
    #[error("rewriting {name}")]
    Rewrite {
        name: String,
        #[source]
        source: RewriteError,
    },
}

/// One vector, ready to upload.
#[derive(Debug, Clone)]
pub struct Vector {
    /// The file name, e.g. `v4-quoted.csv` (its extension is the format).
    pub name: String,
    /// The ledger with its order ids prefixed.
    pub ledger: Vec<u8>,
    /// The expected orders (section 4), by prefixed `order_id`.
    pub expected: BTreeMap<String, Value>,
    /// The expected rejects report: line and field, in line order.
    pub rejects: Vec<Reject>,
}

/// Where the vectors are.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("vectors")
}

fn read(path: &Path) -> Result<Vec<u8>, VectorError> {
    std::fs::read(path).map_err(|source| VectorError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Loads vector `name` with its order ids prefixed by `prefix`.
pub fn load(name: &str, prefix: &str) -> Result<Vector, VectorError> {
    let dir = dir();
    let raw = read(&dir.join(name))?;
    let rewritten = if name.ends_with(".csv") {
        prefix_csv(&raw, prefix)
    } else {
        prefix_jsonl(&raw, prefix)
    };
    let ledger = rewritten.map_err(|source| VectorError::Rewrite {
        name: name.to_owned(),
        source,
    })?;

    let path = dir.join(format!("{name}.expected"));
    let text = String::from_utf8_lossy(&read(&path)?).into_owned();
    let mut expected = BTreeMap::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let view = prefix_view(line, prefix).map_err(|source| VectorError::Json {
            path: path.clone(),
            line: i + 1,
            source,
        })?;
        let id = view["order_id"].as_str().unwrap_or_default().to_owned();
        expected.insert(id, view);
    }

    let path = dir.join(format!("{name}.rejects"));
    let text = String::from_utf8_lossy(&read(&path)?).into_owned();
    let mut rejects = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let entry: Value = serde_json::from_str(line).map_err(|source| VectorError::Json {
            path: path.clone(),
            line: i + 1,
            source,
        })?;
        let line_no = entry["line"].as_u64().ok_or_else(|| VectorError::NoLine {
            path: path.clone(),
            line: i + 1,
        })?;
        rejects.push(Reject::new(line_no, entry["field"].as_str()));
    }
    Ok(Vector {
        name: name.to_owned(),
        ledger,
        expected,
        rejects,
    })
}

/// Runs vector `name` (rewritten for `h`'s run) alone through the running pipeline and
/// checks the status record, the rejects report and every order of the run.
pub async fn check(
    h: &crate::Harness,
    running: &convoy_local::pipeline::Running,
    name: &str,
) -> Result<(), crate::BoxError> {
    check_as(h, running, name, false).await
}

/// [`check`], the ledger uploaded gzip-compressed (three members) as `<name>.gz` when
/// `gzip` is set.
pub async fn check_as(
    h: &crate::Harness,
    running: &convoy_local::pipeline::Running,
    name: &str,
    gzip: bool,
) -> Result<(), crate::BoxError> {
    let v = load(name, &h.prefix())?;
    let (object, body) = if gzip {
        (
            format!("{name}.gz"),
            crate::rewrite::gzip_members(&v.ledger, 3)?,
        )
    } else {
        (name.to_owned(), v.ledger.clone())
    };
    let upload = h.upload(&object, body).await?;
    let key = upload.key.clone();
    let statuses = h.settle(running, std::slice::from_ref(&upload)).await?;
    let status = statuses.first().ok_or("no status record")?;

    let refused = v.rejects.len() as u64;
    crate::check::status(
        status,
        &crate::check::Expected::done(&key, &v.ledger, refused),
    )?;
    let report_key = crate::check::rejects_key(&key);
    match h.pipeline.read_object(&report_key).await? {
        Some(report) => crate::check::report(&key, &v.ledger, &report, &v.rejects)?,
        None if v.rejects.is_empty() => {}
        None => return Err(format!("no rejects report at {report_key}").into()),
    }
    crate::check::views(&h.views().await?, &v.expected)?;
    Ok(())
}
