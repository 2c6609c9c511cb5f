//! The rejects report of a ledger that took several segments (naming, storing, joining and
//! deleting its parts): each segment stores its part
//! (`<report>.parts/<version>/<first line>-<last line>`, empty when nothing was refused)
//! before its checkpoint, and the run that finishes joins the parts.
//!
//! Runs may overlap (a crash, a duplicate message, a run taken over), so parts of several
//! runs may be there; each covers its lines completely (a part is stored only once its
//! segment has settled). Any chain of parts from line 1 to the last line, each starting
//! where the one before ended, is therefore the whole report, each line once; the chain of
//! the checkpoints that led to the end is one.

use super::{before, LedgerError};
use crate::notification::ObjectRef;
use crate::pipeline::Segment;
use crate::ports::RejectsSink;
use crate::rejects::MAX_REPORTED_REJECTS;
use std::collections::HashMap;
use std::path::Path;
use tempfile::{NamedTempFile, TempPath};
use tokio::time::Instant;

/// The prefix of a version's parts, for the report at `report_key`.
pub(crate) fn prefix(report_key: &str, object: &ObjectRef) -> String {
    let version = object
        .version_id
        .as_deref()
        .or(object.etag.as_deref().map(|e| e.trim_matches('"')))
        .unwrap_or("null");
    format!("{report_key}.parts/{version}/")
}

/// The key of the part of lines `first..=last`.
pub(crate) fn key(prefix: &str, first: u64, last: u64) -> String {
    format!("{prefix}{first:020}-{last:020}")
}

/// The lines a part key covers.
fn range(prefix: &str, key: &str) -> Option<(u64, u64)> {
    let (first, last) = key.strip_prefix(prefix)?.split_once('-')?;
    Some((first.parse().ok()?, last.parse().ok()?))
}

/// A chain of the parts among `keys` that covers lines 1 to `last` once each, in order;
/// `None` if there is none. Memoized search: each start line is tried once.
pub(crate) fn chain(prefix: &str, keys: &[String], last: u64) -> Option<Vec<String>> {
    let mut from: HashMap<u64, Vec<(u64, &String)>> = HashMap::new();
    for key in keys {
        if let Some((first, end)) = range(prefix, key).filter(|(f, e)| f <= e && *e <= last) {
            from.entry(first).or_default().push((end, key));
        }
    }
    // Longest parts first: the fewest to join.
    for parts in from.values_mut() {
        parts.sort_by_key(|&(end, _)| std::cmp::Reverse(end));
    }
    let mut dead = std::collections::HashSet::new();
    let mut path: Vec<(u64, usize)> = Vec::new(); // (start line, index of the part tried)
    let mut at = 1;
    let mut next = 0;
    loop {
        if at > last {
            return Some(
                path.iter()
                    .map(|&(start, i)| from[&start][i].1.clone())
                    .collect(),
            );
        }
        let options = from.get(&at).map_or(&[][..], Vec::as_slice);
        match (next..options.len()).find(|&i| !dead.contains(&(options[i].0 + 1))) {
            Some(i) => {
                path.push((at, i));
                at = options[i].0 + 1;
                next = 0;
            }
            None => {
                dead.insert(at);
                let (start, i) = path.pop()?;
                at = start;
                next = i + 1;
            }
        }
    }
}

/// Stores a segment's rejects part (an empty one when nothing was refused): the lines
/// after `after` (the run's checkpoint) up to the segment's.
pub(crate) async fn store<R: RejectsSink>(
    rejects: &R,
    object: &ObjectRef,
    after: u64,
    segment: &Segment,
    by: Instant,
) -> Result<(), LedgerError> {
    let Some(prefix) = prefix_of(object) else {
        return Ok(());
    };
    let first = after + 1;
    let key = key(&prefix, first, segment.settled.line.max(after));
    let empty;
    let path: &Path = match &segment.rejects {
        Some(path) => path,
        None => {
            empty = NamedTempFile::new()
                .map_err(LedgerError::Join)?
                .into_temp_path();
            &empty
        }
    };
    let bucket = &object.bucket;
    let what = || format!("writing the rejects part s3://{bucket}/{key}");
    before(by, what, rejects.put_report(bucket, &key, path)).await
}

/// The rejects report from the stored parts: a chain of them from line 1 to `last`, at
/// most [`MAX_REPORTED_REJECTS`] lines; `None` when no line was refused.
pub(crate) async fn join<R: RejectsSink>(
    rejects: &R,
    object: &ObjectRef,
    last: u64,
    by: Instant,
) -> Result<Option<TempPath>, LedgerError> {
    let Some(prefix) = prefix_of(object) else {
        return Ok(None);
    };
    let bucket = &object.bucket;
    let listing = || format!("listing the rejects parts s3://{bucket}/{prefix}");
    let keys = before(by, listing, rejects.list(bucket, &prefix)).await?;
    let chain = chain(&prefix, &keys, last).ok_or_else(|| LedgerError::Parts {
        bucket: bucket.clone(),
        prefix: prefix.clone(),
        last,
    })?;
    let report = NamedTempFile::new()
        .map_err(LedgerError::Join)?
        .into_temp_path();
    for key in &chain {
        let what = || format!("reading the rejects part s3://{bucket}/{key}");
        before(by, what, rejects.append(bucket, key, &report)).await?;
    }
    let listed = cap_lines(&report, MAX_REPORTED_REJECTS).map_err(LedgerError::Join)?;
    tracing::info!(parts = chain.len(), listed, "rejects parts joined");
    Ok((listed > 0).then_some(report))
}

/// Deletes the version's rejects parts (all of them, any run's); a failure is logged.
pub(crate) async fn delete<R: RejectsSink>(rejects: &R, object: &ObjectRef, by: Instant) {
    let Some(prefix) = prefix_of(object) else {
        return;
    };
    let bucket = &object.bucket;
    let work = async {
        for key in rejects.list(bucket, &prefix).await? {
            rejects.delete_report(bucket, &key).await?;
        }
        Ok::<_, LedgerError>(())
    };
    let what = || format!("deleting the rejects parts s3://{bucket}/{prefix}");
    if let Err(e) = before(by, what, work).await {
        tracing::warn!(error = %convoy_core::chain(&e), "rejects parts left behind (they are outside ledgers/, nothing reads them)");
    }
}

/// The prefix of `object`'s parts, if it is a ledger (has a rejects report).
fn prefix_of(object: &ObjectRef) -> Option<String> {
    object
        .rejects_key()
        .map(|report_key| prefix(&report_key, object))
}

/// Keeps the first `cap` lines of the file at `path`; returns how many it keeps.
fn cap_lines(path: &Path, cap: u64) -> std::io::Result<u64> {
    use std::io::{BufRead, BufReader};
    let file = std::fs::File::open(path)?;
    let (mut lines, mut bytes) = (0, 0);
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    while lines < cap {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += 1;
        bytes += n as u64;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .set_len(bytes)?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "rejects/a.jsonl.parts/v1/";

    fn keys(ranges: &[(u64, u64)]) -> Vec<String> {
        ranges.iter().map(|&(f, l)| key(P, f, l)).collect()
    }

    fn ranges(chain: Option<Vec<String>>) -> Option<Vec<(u64, u64)>> {
        chain.map(|c| c.iter().map(|k| range(P, k).unwrap()).collect())
    }

    #[test]
    fn the_parts_of_one_run_chain_in_order() {
        let ks = keys(&[(11, 20), (1, 10), (21, 35)]);
        assert_eq!(
            ranges(chain(P, &ks, 35)),
            Some(vec![(1, 10), (11, 20), (21, 35)])
        );
    }

    #[test]
    fn parts_of_an_overlapping_run_are_left_out_and_dead_ends_backtracked() {
        // A crashed run stored 11-30, the run that went on 11-25 and 26-40; a stale run
        // stored 11-33, from which no part goes on.
        let ks = keys(&[(1, 10), (11, 30), (11, 33), (11, 25), (26, 40)]);
        assert_eq!(
            ranges(chain(P, &ks, 40)),
            Some(vec![(1, 10), (11, 25), (26, 40)])
        );
    }

    #[test]
    fn a_gap_or_a_part_past_the_end_means_no_chain() {
        assert_eq!(chain(P, &keys(&[(1, 10), (12, 20)]), 20), None);
        assert_eq!(chain(P, &keys(&[(1, 10), (11, 25)]), 20), None);
        assert_eq!(chain(P, &keys(&[]), 0), Some(vec![]));
        let other = vec![format!("{P}junk"), "rejects/b/1-2".to_owned()];
        assert_eq!(chain(P, &other, 1), None);
    }

    #[test]
    fn the_version_names_the_prefix() {
        let mut o = ObjectRef {
            bucket: "b".into(),
            key: "ledgers/a.jsonl".into(),
            version_id: None,
            etag: Some("\"e1\"".into()),
            size: None,
            sequencer: None,
        };
        assert_eq!(prefix("rejects/a.jsonl", &o), "rejects/a.jsonl.parts/e1/");
        o.version_id = Some("v9".into());
        assert_eq!(prefix("rejects/a.jsonl", &o), "rejects/a.jsonl.parts/v9/");
        assert_eq!(
            key("p/", 1, 20),
            "p/00000000000000000001-00000000000000000020"
        );
    }
}
