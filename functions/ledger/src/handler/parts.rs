//! The rejects report of a ledger that took several segments: each segment stores its part
//! (`<report>.parts/<version>/<first line>-<last line>`, empty when nothing was refused)
//! before its checkpoint, and the run that finishes joins the parts.
//!
//! Runs may overlap (a crash, a duplicate message, a run taken over), so parts of several
//! runs may be there; each covers its lines completely (a part is stored only once its
//! segment has settled). Any chain of parts from line 1 to the last line, each starting
//! where the one before ended, is therefore the whole report, each line once; the chain of
//! the checkpoints that led to the end is one.

use crate::notification::ObjectRef;
use std::collections::HashMap;

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
