//! The conformance vectors ([`convoy_core::vectors`], the one list of them), rewritten for
//! one run: the ledger with its order ids prefixed, the expected orders likewise, the
//! expected rejects.

use crate::check::Reject;
use crate::rewrite::{prefix_csv, prefix_jsonl, prefix_view, RewriteError};
use serde_json::Value;
use std::collections::BTreeMap;

pub use convoy_core::vectors::ALL;

#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    #[error("no vector {0}")]
    Unknown(String),
    #[error("{file}:{line}: not the expected JSON")]
    Json {
        file: String,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("{file}:{line}: no line number")]
    NoLine { file: String, line: usize },
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

/// The non-blank lines of `text`, numbered from 1.
fn numbered(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l))
}

/// Loads vector `name` with its order ids prefixed by `prefix`.
pub fn load(name: &str, prefix: &str) -> Result<Vector, VectorError> {
    let v = convoy_core::vectors::get(name).ok_or_else(|| VectorError::Unknown(name.into()))?;
    let raw = v.ledger.as_bytes();
    let rewritten = if name.ends_with(".csv") {
        prefix_csv(raw, prefix)
    } else {
        prefix_jsonl(raw, prefix)
    };
    let ledger = rewritten.map_err(|source| VectorError::Rewrite {
        name: name.to_owned(),
        source,
    })?;

    let file = format!("{name}.expected");
    let mut expected = BTreeMap::new();
    for (line, text) in numbered(v.expected) {
        let view = prefix_view(text, prefix).map_err(|source| VectorError::Json {
            file: file.clone(),
            line,
            source,
        })?;
        let id = view["order_id"].as_str().unwrap_or_default().to_owned();
        expected.insert(id, view);
    }

    let file = format!("{name}.rejects");
    let mut rejects = Vec::new();
    for (line, text) in numbered(v.rejects) {
        let entry: Value = serde_json::from_str(text).map_err(|source| VectorError::Json {
            file: file.clone(),
            line,
            source,
        })?;
        let line_no = entry["line"].as_u64().ok_or_else(|| VectorError::NoLine {
            file: file.clone(),
            line,
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
