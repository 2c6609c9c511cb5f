//! `convoy batch list | show WINDOW | run [--window W]`: the cutoff batches (issue 13), a
//! file per window at `batches/<window>.jsonl` in the format of [`batch::file`].
//!
//! `run` writes a window's batch in-process with the operator's credentials, as the batch
//! function does ([`batch::run::write_window`]): once, and only after the window settled.

use super::{call, OpsError, Target};
use crate::output::{or_dash, Output};
use crate::stack::Stack;
use batch::file::{self, BatchHeader, FileError};
use batch::run::{BatchError, Outcome};
use batch::s3::S3BatchBucket;
use batch::settings::{Settings, SettingsError};
use batch::window::WindowError;
use futures::{StreamExt, TryStreamExt};
use jiff::civil::Date;
use serde_json::Value;

pub use super::MAX_LISTED;

/// Why a batch command failed; each says what is wrong, its causes follow.
#[derive(Debug, thiserror::Error)]
pub enum BatchOpsError {
    #[error(transparent)]
    Ops(#[from] OpsError),
    #[error(
        "no batch for window {window} in s3://{bucket}/{key} (convoy batch run --window {window} writes it once its window is settled)"
    )]
    NoBatch {
        window: String,
        bucket: String,
        key: String,
    },
    #[error("s3://{bucket}/{key} is not a valid batch file")]
    BadFile {
        bucket: String,
        key: String,
        #[source]
        source: Box<FileError>,
    },
    #[error(
        "the cutoff settings of stack {stack} (outputs CutoffTime, CutoffTimeZone, BatchSettleSeconds, ConsumerTimeoutSeconds)"
    )]
    Settings {
        stack: String,
        #[source]
        source: SettingsError,
    },
    #[error(transparent)]
    Window(#[from] WindowError),
    #[error(transparent)]
    Run(#[from] BatchError),
    #[error("writing the output")]
    Write(#[from] std::io::Error),
}

/// The stack's cutoff and settle delay (its outputs, or the defaults of an older stack).
pub fn settings(stack: &Stack) -> Result<Settings, BatchOpsError> {
    let b = &stack.batch;
    Settings::from_values(
        &b.cutoff_time,
        &b.cutoff_time_zone,
        &b.settle_seconds,
        &b.consumer_timeout_seconds,
    )
    .map_err(|source| BatchOpsError::Settings {
        stack: stack.name.clone(),
        source,
    })
}

/// A batch file's key: `batches/` prepended unless it is there.
pub fn batch_key(key: &str) -> String {
    if key.starts_with(file::PREFIX) {
        key.to_owned()
    } else {
        format!("{}{key}", file::PREFIX)
    }
}

/// A batch object and its header (or why its first line is not one).
struct Listed {
    key: String,
    size: Option<i64>,
    last_modified: Option<String>,
    /// The header checked, and its line as written.
    header: Result<(BatchHeader, Value), FileError>,
}

/// A listed batch as a JSON line: the header is the file's own first line.
#[derive(serde::Serialize)]
struct ListedLine<'a> {
    key: &'a str,
    size: Option<i64>,
    last_modified: Option<&'a str>,
    header: Option<&'a Value>,
    error: Option<String>,
}

/// Every batch file under `batches/<prefix>` (at most [`MAX_LISTED`]) with its header: one
/// ListObjectsV2 page per 1,000 keys and a ranged GetObject of each file's first
/// [`file::HEADER_MAX_BYTES`]. A file whose header does not parse is listed with its error.
pub async fn list(
    target: &Target,
    prefix: &str,
    out: &mut Output<'_>,
) -> Result<(), BatchOpsError> {
    let prefix = batch_key(prefix);
    let objects = super::list_objects(target, &prefix, "batches").await?;
    let listed: Vec<Listed> = futures::stream::iter(objects)
        .map(|o| async move {
            let key = o.key().unwrap_or_default().to_owned();
            let start = first_bytes(target, &key).await?;
            Ok::<_, OpsError>(Listed {
                header: header_of(&start),
                size: o.size(),
                last_modified: o.last_modified().map(|t| t.to_string()),
                key,
            })
        })
        .buffered(16)
        .try_collect()
        .await?;
    if out.json() {
        for l in &listed {
            out.line(&ListedLine {
                key: &l.key,
                size: l.size,
                last_modified: l.last_modified.as_deref(),
                header: l.header.as_ref().ok().map(|(_, line)| line),
                error: l.header.as_ref().err().map(|e| e.to_string()),
            })?;
        }
        return Ok(());
    }
    let headers = [
        "window",
        "orders",
        "start",
        "end",
        "cutoff",
        "bytes",
        "last modified",
        "batch id",
    ];
    out.table(
        &headers,
        listed.iter().map(|l| {
            let size = or_dash(l.size);
            let modified = or_dash(l.last_modified.as_ref());
            match &l.header {
                Ok((h, _)) => vec![
                    h.window().to_string(),
                    h.count().to_string(),
                    h.start().to_string(),
                    h.end().to_string(),
                    h.cutoff().to_string(),
                    size,
                    modified,
                    h.batch_id().to_owned(),
                ],
                Err(e) => {
                    let name = l.key.strip_prefix(file::PREFIX).unwrap_or(&l.key);
                    let dash = || "-".to_owned();
                    vec![
                        name.strip_suffix(".jsonl").unwrap_or(name).to_owned(),
                        dash(),
                        dash(),
                        dash(),
                        dash(),
                        size,
                        modified,
                        format!("unreadable: {e}"),
                    ]
                }
            }
        }),
    )?;
    Ok(())
}

/// The first [`file::HEADER_MAX_BYTES`] of `key` (fewer when the file is shorter).
async fn first_bytes(target: &Target, key: &str) -> Result<Vec<u8>, OpsError> {
    let bucket = &target.stack.bucket;
    let got = target
        .s3()
        .get_object()
        .bucket(bucket)
        .key(key)
        .range(format!("bytes=0-{}", file::HEADER_MAX_BYTES - 1))
        .send()
        .await;
    let object = match got {
        Ok(object) => object,
        // An empty object has no byte 0: 416 Range Not Satisfiable.
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
            return Ok(Vec::new())
        }
        Err(e) => return Err(call(format!("GetObject s3://{bucket}/{key}"))(e)),
    };
    let bytes = object
        .body
        .collect()
        .await
        .map_err(call(format!("reading s3://{bucket}/{key}")))?;
    Ok(bytes.to_vec())
}

/// The header in the first bytes of a batch file, checked, with its line as written.
fn header_of(start: &[u8]) -> Result<(BatchHeader, Value), FileError> {
    if start.is_empty() {
        return Err(FileError::Line {
            line: 1,
            reason: "the file is empty: expected a header".to_owned(),
        });
    }
    let header = file::parse_header(start)?;
    let line = start.split(|b| *b == b'\n').next().unwrap_or_default();
    let value = serde_json::from_slice(line).map_err(|e| FileError::Line {
        line: 1,
        reason: e.to_string(),
    })?;
    Ok((header, value))
}

/// The batch of window `date`, checked whole (count, receipt order, checksum): its header,
/// then its orders in receipt order; with `--json` the file's own lines.
pub async fn show(target: &Target, date: Date, out: &mut Output<'_>) -> Result<(), BatchOpsError> {
    let window = settings(&target.stack)?.cutoff.window(date)?;
    let key = file::key(&window);
    let bucket = &target.stack.bucket;
    let got = target
        .s3()
        .get_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await;
    let object = match got {
        Ok(object) => object,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
            return Err(BatchOpsError::NoBatch {
                window: window.name(),
                bucket: bucket.clone(),
                key,
            })
        }
        Err(e) => return Err(call(format!("GetObject s3://{bucket}/{key}"))(e).into()),
    };
    let bytes = object
        .body
        .collect()
        .await
        .map_err(call(format!("reading s3://{bucket}/{key}")))?
        .into_bytes();
    let bad = |source| BatchOpsError::BadFile {
        bucket: bucket.clone(),
        key: key.clone(),
        source: Box::new(source),
    };
    let (header, orders) = file::parse(&bytes).map_err(bad)?;
    if header.window() != date {
        return Err(bad(FileError::Line {
            line: 1,
            reason: format!("the header's window is {}, not {date}", header.window()),
        }));
    }
    if out.json() {
        out.writer().write_all(&bytes)?;
        return Ok(());
    }
    out.fields(&[
        ("file", format!("s3://{bucket}/{key}")),
        ("batch id", header.batch_id().to_owned()),
        ("window", header.window().to_string()),
        ("start", header.start().to_string()),
        ("end", header.end().to_string()),
        ("cutoff", header.cutoff().to_string()),
        ("orders", header.count().to_string()),
        ("checksum", header.checksum().to_owned()),
        ("bytes", bytes.len().to_string()),
    ])?;
    out.table(
        &["receipt", "order", "paid at", "currency", "total", "items"],
        orders.iter().map(|o| {
            let paid_at = batch::window::timestamp_of_millis(o.paid_at_ms)
                .map_or_else(|_| format!("{} ms", o.paid_at_ms), |t| t.to_string());
            vec![
                o.receipt.to_string(),
                o.order_id.clone(),
                paid_at,
                o.currency.clone(),
                o.total.to_string(),
                o.items.len().to_string(),
            ]
        }),
    )?;
    Ok(())
}

/// Writes the batch of window `date` (default: the latest settled window) now, as the
/// batch function does: refused before the window settled; a file already there is left
/// unchanged (said on stderr, exit 0).
pub async fn run(
    target: &Target,
    date: Option<Date>,
    out: &mut Output<'_>,
) -> Result<(), BatchOpsError> {
    let settings = settings(&target.stack)?;
    let (cutoff, settle) = (&settings.cutoff, settings.settle);
    let now = jiff::Timestamp::now();
    let window = match date {
        Some(date) => cutoff.window(date)?,
        None => cutoff.latest_closed(now, settle)?,
    };
    let bucket = &target.stack.bucket;
    let batches = S3BatchBucket::new(target.s3(), bucket.clone());
    let report =
        batch::run::write_window(&target.orders(), &batches, cutoff, &window, now, settle).await?;
    if out.json() {
        out.line(&report)?;
    } else {
        let outcome = match report.outcome {
            Outcome::Written => "written",
            Outcome::AlreadyWritten => "already written (unchanged)",
        };
        out.fields(&[
            ("window", report.window.clone()),
            ("file", format!("s3://{bucket}/{}", report.key)),
            ("outcome", outcome.to_owned()),
            ("orders", or_dash(report.orders)),
            ("bytes", or_dash(report.bytes)),
            ("start", or_dash(report.start)),
            ("end", or_dash(report.end)),
            ("cutoff", cutoff.to_string()),
        ])?;
    }
    if report.outcome == Outcome::AlreadyWritten {
        eprintln!(
            "convoy: unchanged: batch of {} was written before",
            report.window
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_under_batches() {
        assert_eq!(batch_key(""), "batches/");
        assert_eq!(batch_key("2026-12"), "batches/2026-12");
        assert_eq!(batch_key("batches/2026-12"), "batches/2026-12");
    }

    #[test]
    fn headers_are_read_from_the_first_bytes() {
        let cutoff = batch::window::Cutoff::default();
        let window = cutoff.window_named("2020-01-01").unwrap();
        let written = file::render(&cutoff, &window, &[]).unwrap();
        let (header, line) = header_of(&written).unwrap();
        assert_eq!(
            (header.window().to_string(), header.count()),
            ("2020-01-01".into(), 0)
        );
        assert_eq!(line["start"], "2019-12-31T14:00:00.000Z");
        assert_eq!(line["batch_id"], header.batch_id());
        let e = header_of(b"").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: the file is empty: expected a header"
        );
        let e = header_of(b"{}\n").unwrap_err();
        assert!(
            e.to_string().starts_with("line 1: not a batch header"),
            "{e}"
        );
        let e = header_of(&[b'x'; file::HEADER_MAX_BYTES]).unwrap_err();
        assert!(e.to_string().starts_with("line 1: "), "{e}");
    }

    #[test]
    fn missing_batches_say_how_to_write_them() {
        let e = BatchOpsError::NoBatch {
            window: "2026-12-07".into(),
            bucket: "b".into(),
            key: "batches/2026-12-07.jsonl".into(),
        };
        assert_eq!(
            e.to_string(),
            "no batch for window 2026-12-07 in s3://b/batches/2026-12-07.jsonl (convoy batch run --window 2026-12-07 writes it once its window is settled)"
        );
    }
}
