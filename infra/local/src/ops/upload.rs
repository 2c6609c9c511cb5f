//! `convoy upload FILE… [--wait]`: ledgers into `ledgers/`, large ones in parts, and
//! followed to their final status.

use super::{call, ledger_key, OpsError, Target};
use crate::output::Output;
use crate::pipeline::Upload;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use ledger::{LedgerStatus, State};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;
/// The part size by default, in MiB; files up to one part go in one PutObject.
pub const PART_MIB: u64 = 16;
/// S3's smallest part (all but the last), in MiB.
pub const MIN_PART_MIB: u64 = 5;
/// S3's limits: parts of an upload, bytes of an object, bytes of a key.
pub const MAX_PARTS: u64 = 10_000;
pub const MAX_OBJECT_BYTES: u64 = 5 * 1024 * 1024 * 1024 * 1024;
pub const MAX_KEY_BYTES: usize = 1024;
/// Parts in flight at once.
const PARTS_IN_FLIGHT: usize = 4;

/// What `upload` is asked to do.
#[derive(Debug, Clone, clap::Args)]
pub struct UploadArgs {
    /// Ledger files: .jsonl or .csv, either optionally .gz.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The key under ledgers/ (default: the file's name); with one file only.
    #[arg(long)]
    pub key: Option<String>,
    /// Follow each ledger to its final status; exit 0 when all are done, 1 when one ended
    /// failed or unsupported, 3 when --timeout ran out first.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    pub timeout: u64,
    /// The part size in MiB (5 or more): larger files go in parts of it, 4 at a time.
    #[arg(long, value_name = "MIB", default_value_t = PART_MIB,
          value_parser = clap::value_parser!(u64).range(MIN_PART_MIB..=5 * 1024))]
    pub part_mib: u64,
}

/// One uploaded ledger.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Uploaded {
    pub file: String,
    pub bucket: String,
    pub key: String,
    pub bytes: u64,
    pub parts: u64,
    pub version_id: Option<String>,
    pub etag: Option<String>,
}

/// The part size for `bytes`: `part` bytes, or more so that at most [`MAX_PARTS`] parts hold
/// the file (rounded up to whole MiB).
pub fn part_size(bytes: u64, part: u64) -> u64 {
    let needed = bytes.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
    needed.max(part)
}

/// Checks a file before anything is sent: it exists, its name says a ledger format, and
/// its key and size are within S3's limits. Returns its size and key.
pub fn check(path: &Path, key: Option<&str>) -> Result<(u64, String), OpsError> {
    let file = |why: String| OpsError::File {
        path: path.display().to_string(),
        why,
    };
    let meta = std::fs::metadata(path).map_err(|e| file(e.to_string()))?;
    if !meta.is_file() {
        return Err(file("not a file".into()));
    }
    let name = match key {
        Some(k) => k.to_owned(),
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| file("no file name".into()))?,
    };
    let key = ledger_key(&name);
    ledger_format::kind_of_key(&key).map_err(|e| file(e.to_string()))?;
    if key.len() > MAX_KEY_BYTES {
        return Err(file(format!(
            "key {key} is {} bytes; S3 keys hold at most {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    if meta.len() > MAX_OBJECT_BYTES {
        return Err(file(format!(
            "{} bytes; an S3 object holds at most {MAX_OBJECT_BYTES}",
            meta.len()
        )));
    }
    Ok((meta.len(), key))
}

fn bar(bytes: u64, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(bytes);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label.to_owned());
    bar
}

/// Uploads every file (all checked first), then, with `--wait`, follows each to its final
/// status.
pub async fn run(target: &Target, args: &UploadArgs, out: &mut Output<'_>) -> Result<(), OpsError> {
    if args.key.is_some() && args.files.len() > 1 {
        return Err(OpsError::File {
            path: args.files[1].display().to_string(),
            why: "--key names one file's key; upload several files under their own names".into(),
        });
    }
    let checked = args
        .files
        .iter()
        .map(|f| check(f, args.key.as_deref()).map(|(bytes, key)| (f, bytes, key)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut uploads = Vec::new();
    for (path, bytes, key) in checked {
        let uploaded = upload(target, path, bytes, &key, args.part_mib * MIB).await?;
        if out.json() {
            out.line(&uploaded)?;
        } else {
            out.text(&format!(
                "uploaded {} to s3://{}/{} ({} bytes{})",
                uploaded.file,
                uploaded.bucket,
                uploaded.key,
                uploaded.bytes,
                if uploaded.parts > 1 {
                    format!(", {} parts", uploaded.parts)
                } else {
                    String::new()
                }
            ))?;
        }
        uploads.push(uploaded);
    }
    if !args.wait {
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut ended = Vec::new();
    for u in &uploads {
        let upload = Upload {
            key: u.key.clone(),
            version_id: u.version_id.clone(),
            etag: u.etag.clone(),
        };
        match follow(target, &upload, deadline).await? {
            Some(status) => {
                super::ledgers::print_status(&status, out)?;
                ended.push(status);
            }
            None => {
                let left: Vec<_> = uploads[ended.len()..]
                    .iter()
                    .map(|u| u.key.clone())
                    .collect();
                return Err(OpsError::StillProcessing {
                    seconds: args.timeout,
                    keys: left.join(", "),
                });
            }
        }
    }
    match ended.iter().find(|s| s.state != State::Done) {
        Some(s) => Err(OpsError::LedgerEnded {
            key: s.key.clone(),
            state: s.state.to_string(),
            error: s.error.clone(),
        }),
        None => Ok(()),
    }
}

/// Uploads one file: one PutObject up to `part` bytes, else a multipart upload in parts of
/// [`part_size`] (aborted on a failed part, so no parts are left to be billed; an upload cut
/// off by the user is left to the bucket's lifecycle rule for incomplete uploads).
pub async fn upload(
    target: &Target,
    path: &Path,
    bytes: u64,
    key: &str,
    part: u64,
) -> Result<Uploaded, OpsError> {
    let s3 = target.s3();
    let bucket = target.stack.bucket.clone();
    let progress = bar(bytes, key);
    let read = |offset: u64, length: u64| {
        ByteStream::read_from()
            .path(path)
            .offset(offset)
            .length(Length::Exact(length))
            .build()
    };
    let uploaded = |parts, version_id: Option<&str>, etag: Option<&str>| Uploaded {
        file: path.display().to_string(),
        bucket: bucket.clone(),
        key: key.to_owned(),
        bytes,
        parts,
        version_id: version_id.map(str::to_owned),
        etag: etag.map(|e| e.trim_matches('"').to_owned()),
    };
    if bytes <= part {
        let body = read(0, bytes)
            .await
            .map_err(call(format!("reading {}", path.display())))?;
        let put = s3
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(body)
            .send()
            .await
            .map_err(call(format!("PutObject s3://{bucket}/{key}")))?;
        progress.finish_and_clear();
        return Ok(uploaded(1, put.version_id(), put.e_tag()));
    }
    let created = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .map_err(call(format!("CreateMultipartUpload s3://{bucket}/{key}")))?;
    let upload_id = created
        .upload_id()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| OpsError::File {
            path: path.display().to_string(),
            why: format!("CreateMultipartUpload of s3://{bucket}/{key} returned no upload id"),
        })?
        .to_owned();
    let size = part_size(bytes, part);
    let count = bytes.div_ceil(size);
    let parts = futures::stream::iter(1..=count)
        .map(|n| {
            let (s3, bucket, upload_id, progress) = (&s3, &bucket, &upload_id, &progress);
            async move {
                let offset = (n - 1) * size;
                let length = size.min(bytes - offset);
                let body = read(offset, length)
                    .await
                    .map_err(call(format!("reading {}", path.display())))?;
                let part = s3
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(n as i32)
                    .body(body)
                    .send()
                    .await
                    .map_err(call(format!("UploadPart {n} of s3://{bucket}/{key}")))?;
                progress.inc(length);
                Ok::<_, OpsError>(
                    CompletedPart::builder()
                        .part_number(n as i32)
                        .set_e_tag(part.e_tag().map(str::to_owned))
                        .build(),
                )
            }
        })
        .buffered(PARTS_IN_FLIGHT)
        .try_collect::<Vec<_>>()
        .await;
    let completed = match parts {
        Ok(parts) => s3
            .complete_multipart_upload()
            .bucket(&bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(call(format!("CompleteMultipartUpload s3://{bucket}/{key}"))),
        Err(e) => Err(e),
    };
    progress.finish_and_clear();
    match completed {
        Ok(done) => Ok(uploaded(count, done.version_id(), done.e_tag())),
        Err(e) => {
            tracing::error!(key, upload_id, error = %convoy_core::chain(&e), "multipart upload failed; aborting it");
            if let Err(abort) = s3
                .abort_multipart_upload()
                .bucket(&bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await
            {
                tracing::error!(key, upload_id, error = %convoy_core::chain(&abort), "aborting the multipart upload failed: its parts stay until a lifecycle rule removes them");
            }
            Err(e)
        }
    }
}

/// Polls the status record of `upload` until it is final (`None` when `deadline` came
/// first), showing its progress.
async fn follow(
    target: &Target,
    upload: &Upload,
    deadline: Instant,
) -> Result<Option<LedgerStatus>, OpsError> {
    let stack = &target.stack;
    let spinner = ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(200));
    let mut pause = Duration::from_millis(250);
    let status = loop {
        let status = ledger::get_status(&target.sdk, &stack.table_name, &stack.bucket, &upload.key)
            .await
            .map_err(call(format!("reading the status of {}", upload.key)))?;
        match status {
            Some(s) if upload.is(&s) && s.state != State::Processing => break Some(s),
            Some(s) if upload.is(&s) => spinner.set_message(format!(
                "{}: processing, {} lines read, {} sent, {} refused, {} continuations",
                upload.key, s.lines_read, s.sent, s.refused, s.continuations
            )),
            _ => spinner.set_message(format!("{}: waiting for its notification", upload.key)),
        }
        if Instant::now() + pause > deadline {
            break None;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    };
    spinner.finish_and_clear();
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_fit_s3s_limits() {
        const PART_BYTES: u64 = PART_MIB * MIB;
        assert_eq!(part_size(PART_BYTES + 1, PART_BYTES), PART_BYTES);
        assert_eq!(part_size(100 * 1024 * MIB, PART_BYTES), PART_BYTES); // 100 GiB: 6,400 parts
        assert_eq!(part_size(11 * MIB, MIN_PART_MIB * MIB), 5 * MIB);
        let big = MAX_OBJECT_BYTES;
        let size = part_size(big, PART_BYTES);
        assert!(big.div_ceil(size) <= MAX_PARTS, "{size}");
        assert_eq!(size % MIB, 0);
        for bytes in [
            PART_BYTES * MAX_PARTS,
            PART_BYTES * MAX_PARTS + 1,
            7 * 1024 * 1024 * MIB,
        ] {
            assert!(
                bytes.div_ceil(part_size(bytes, PART_BYTES)) <= MAX_PARTS,
                "{bytes}"
            );
        }
    }

    #[test]
    fn files_are_checked_before_anything_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("day.jsonl");
        std::fs::write(&ledger, "{}\n").unwrap();
        assert_eq!(
            check(&ledger, None).unwrap(),
            (3, "ledgers/day.jsonl".into())
        );
        assert_eq!(
            check(&ledger, Some("2026/12/day.jsonl")).unwrap().1,
            "ledgers/2026/12/day.jsonl"
        );
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "x").unwrap();
        let e = check(&text, None).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: ", text.display())), "{e}");
        let e = check(&dir.path().join("missing.jsonl"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.jsonl"), "{e}");
        let e = check(dir.path(), Some("d.jsonl")).unwrap_err().to_string();
        assert!(e.ends_with("not a file"), "{e}");
        let long = format!("{}.jsonl", "k".repeat(MAX_KEY_BYTES));
        let e = check(&ledger, Some(&long)).unwrap_err().to_string();
        assert!(e.contains("S3 keys hold at most 1024"), "{e}");
    }
}
