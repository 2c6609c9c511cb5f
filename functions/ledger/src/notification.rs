//! From a ledger-queue message to the S3 objects it announces: S3 event JSON, test events,
//! URL-encoded keys, and which keys are ledgers.

use aws_lambda_events::s3::S3Event;
use percent_encoding::percent_decode_str;

/// The prefix under which ledgers are uploaded (contract section 5).
pub const LEDGERS_PREFIX: &str = "ledgers/";
/// The prefix of rejects reports; outside [`LEDGERS_PREFIX`], so they never trigger processing.
pub const REJECTS_PREFIX: &str = "rejects/";

/// One created S3 object, with its key decoded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    /// The ETag as S3 reports it in the event (without quotes).
    pub etag: Option<String>,
    pub size: Option<u64>,
    /// The event's `sequencer`, normalized by [`normalize_sequencer`]: for the same key, a
    /// later version has a greater one (as strings). `None` when the event has none (some
    /// emulators) or it is not hex.
    pub sequencer: Option<String>,
}

/// The width to which [`normalize_sequencer`] pads sequencers (S3's are about 18 digits).
pub const SEQUENCER_WIDTH: usize = 32;

/// The S3 event `sequencer` in a form that orders as a string: upper-case hex, left-padded
/// with `0` to [`SEQUENCER_WIDTH`]. S3 documents that, for the same key, the later event
/// has the greater sequencer when compared as strings after left-padding the shorter one
/// with zeros; a fixed width makes every stored pair comparable (also inside DynamoDB).
/// `None` if `raw` is empty, not hexadecimal, or has more significant digits than the width.
pub fn normalize_sequencer(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let digits = raw.trim_start_matches('0').to_ascii_uppercase();
    (digits.len() <= SEQUENCER_WIDTH).then(|| format!("{digits:0>SEQUENCER_WIDTH$}"))
}

impl ObjectRef {
    /// Whether the object is a ledger, i.e. lies under `ledgers/`.
    pub fn is_ledger(&self) -> bool {
        self.key.starts_with(LEDGERS_PREFIX)
    }

    /// The key of the rejects report of this ledger: `ledgers/K` → `rejects/K.jsonl`.
    pub fn rejects_key(&self) -> Option<String> {
        self.key
            .strip_prefix(LEDGERS_PREFIX)
            .map(|rest| format!("{REJECTS_PREFIX}{rest}.jsonl"))
    }
}

/// What a ledger-queue message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// The `s3:TestEvent` S3 sends when notifications are configured: nothing to do.
    TestEvent,
    /// Objects created (records of other event types are left out).
    Created(Vec<ObjectRef>),
    /// A ledger handed on by the invocation that ran out of time.
    Continuation(Continuation),
}

/// The message a run that runs out of time sends to the ledger queue: the rest of the
/// ledger is the next invocation's, from the checkpoint in the status record. Only the
/// run it names (`from`, the owner that sent it) may be taken over by it; any other owner
/// means it is stale.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Continuation {
    pub object: ObjectRef,
    /// The owner (ledger-queue message id) of the run that handed on.
    pub from: String,
    /// Which continuation this is (1 for the first).
    pub continuation: u64,
}

/// The body of a continuation message: `{"convoy_continuation": {...}}`.
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinuationBody {
    convoy_continuation: Continuation,
}

impl Continuation {
    /// The ledger-queue message body that carries it.
    pub fn to_body(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&ContinuationBody {
            convoy_continuation: self.clone(),
        })
    }
}

/// A message body that is not an S3 notification this function understands.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("the SQS message has no body")]
    NoBody,
    #[error("the message body is not an S3 event notification")]
    NotS3Event(#[source] serde_json::Error),
    #[error("S3 event record {index} has no {what}")]
    Missing { index: usize, what: &'static str },
    #[error("S3 object key {raw:?} does not decode to UTF-8")]
    KeyNotUtf8 {
        raw: String,
        #[source]
        source: std::str::Utf8Error,
    },
}

#[derive(serde::Deserialize)]
struct MaybeTestEvent {
    #[serde(rename = "Event")]
    event: Option<String>,
}

impl Notification {
    /// Parses a ledger-queue message body.
    pub fn parse(body: Option<&str>) -> Result<Self, NotificationError> {
        let body = body.ok_or(NotificationError::NoBody)?;
        if let Ok(ContinuationBody {
            convoy_continuation,
        }) = serde_json::from_str(body)
        {
            return Ok(Notification::Continuation(convoy_continuation));
        }
        if let Ok(MaybeTestEvent { event: Some(e) }) = serde_json::from_str(body) {
            if e == "s3:TestEvent" {
                return Ok(Notification::TestEvent);
            }
        }
        let event: S3Event = serde_json::from_str(body).map_err(NotificationError::NotS3Event)?;
        let mut objects = Vec::with_capacity(event.records.len());
        for (index, record) in event.records.into_iter().enumerate() {
            let name = record.event_name.unwrap_or_default();
            if !name.starts_with("ObjectCreated:") {
                tracing::info!(event_name = %name, "ignoring an S3 event that is not ObjectCreated");
                continue;
            }
            let missing = |what| NotificationError::Missing { index, what };
            let bucket = record
                .s3
                .bucket
                .name
                .ok_or_else(|| missing("bucket name"))?;
            let raw_key = record.s3.object.key.ok_or_else(|| missing("object key"))?;
            let sequencer = match record.s3.object.sequencer.filter(|s| !s.is_empty()) {
                None => None,
                Some(raw) => {
                    let normalized = normalize_sequencer(&raw);
                    if normalized.is_none() {
                        tracing::warn!(sequencer = %raw, "S3 event sequencer is not hexadecimal; versions of this key are not ordered");
                    }
                    normalized
                }
            };
            objects.push(ObjectRef {
                bucket,
                key: decode_key(&raw_key)?,
                version_id: record.s3.object.version_id.filter(|v| !v.is_empty()),
                etag: record.s3.object.e_tag.filter(|e| !e.is_empty()),
                size: record.s3.object.size.and_then(|s| u64::try_from(s).ok()),
                sequencer,
            });
        }
        Ok(Notification::Created(objects))
    }
}

/// Decodes an S3 event key: form encoding, so `+` is a space, then percent-decoding.
pub fn decode_key(raw: &str) -> Result<String, NotificationError> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|source| NotificationError::KeyNotUtf8 {
            raw: raw.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::sqs::SqsEvent;

    fn bodies(fixture: &str) -> Vec<Notification> {
        let event: SqsEvent = serde_json::from_str(fixture).unwrap();
        event
            .records
            .iter()
            .map(|r| Notification::parse(r.body.as_deref()).unwrap())
            .collect()
    }

    #[test]
    fn a_put_notification_names_the_object_and_its_version() {
        let got = bodies(include_str!("fixtures/sqs-s3-put.json"));
        let Notification::Created(objects) = &got[0] else {
            panic!("{got:?}")
        };
        let o = &objects[0];
        assert_eq!(o.bucket, "convoy-ledgers");
        assert_eq!(o.key, "ledgers/v1-interleaved.jsonl");
        assert_eq!(o.etag.as_deref(), Some("8f2a6d4c1b0e7f3a9c5d2e1f0a4b6c8d"));
        assert_eq!(
            o.version_id.as_deref(),
            Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
        );
        assert_eq!(o.size, Some(14231));
        assert_eq!(
            o.sequencer.as_deref(),
            Some("000000000000000067432F1C3B8A2D5E")
        );
        assert!(o.is_ledger());
        assert_eq!(
            o.rejects_key().as_deref(),
            Some("rejects/v1-interleaved.jsonl.jsonl")
        );
    }

    #[test]
    fn keys_with_spaces_plus_and_unicode_are_decoded() {
        let got = bodies(include_str!("fixtures/sqs-s3-put-odd-key.json"));
        let Notification::Created(objects) = &got[0] else {
            panic!("{got:?}")
        };
        assert_eq!(objects[0].key, "ledgers/Q4 2026/a+b Zürich €.jsonl");
        assert_eq!(
            objects[0].rejects_key().as_deref(),
            Some("rejects/Q4 2026/a+b Zürich €.jsonl.jsonl")
        );
    }

    #[test]
    fn the_test_event_is_recognised() {
        assert_eq!(
            bodies(include_str!("fixtures/sqs-s3-test-event.json")),
            vec![Notification::TestEvent]
        );
    }

    #[test]
    fn decoding_follows_form_encoding() {
        assert_eq!(decode_key("a+b%2Bc%20d").unwrap(), "a b+c d");
        assert_eq!(decode_key("caf%C3%A9").unwrap(), "café");
        assert!(decode_key("bad%FF").is_err());
    }

    #[test]
    fn other_prefixes_are_not_ledgers() {
        let o = ObjectRef {
            bucket: "b".into(),
            key: "rejects/x.jsonl.jsonl".into(),
            version_id: None,
            etag: None,
            size: None,
            sequencer: None,
        };
        assert!(!o.is_ledger());
        assert_eq!(o.rejects_key(), None);
    }

    #[test]
    fn sequencers_are_normalized_so_that_strings_order_like_s3_events() {
        let n = |s| normalize_sequencer(s).unwrap();
        assert_eq!(n("0067432F1C3B8A2D5E"), n("67432f1c3b8a2d5e"));
        assert_eq!(n("0067432F1C3B8A2D5E").len(), SEQUENCER_WIDTH);
        // S3's rule: pad the shorter one with zeros on the left, then compare as strings.
        assert!(n("0055AED6DCD90281E5") < n("0055AED6DCD90281E6"));
        assert!(n("FF") < n("100"), "a longer sequencer is a later one");
        assert!(n("0A") > n("9"));
        assert_eq!(n("0"), "0".repeat(SEQUENCER_WIDTH));
        assert_eq!(normalize_sequencer(""), None);
        assert_eq!(normalize_sequencer("not-hex"), None);
        assert_eq!(normalize_sequencer(&"F".repeat(SEQUENCER_WIDTH + 1)), None);
        assert!(normalize_sequencer(&format!("00{}", "F".repeat(SEQUENCER_WIDTH))).is_some());
    }

    #[test]
    fn an_event_without_a_sequencer_has_none() {
        let event: SqsEvent =
            serde_json::from_str(include_str!("fixtures/sqs-s3-put.json")).unwrap();
        let body = event.records[0].body.clone().unwrap();
        let parse = |body: &str| match Notification::parse(Some(body)).unwrap() {
            Notification::Created(objects) => objects[0].sequencer.clone(),
            other => panic!("{other:?}"),
        };
        let without = body.replace(r#","sequencer":"0067432F1C3B8A2D5E""#, "");
        assert_ne!(without, body);
        assert_eq!(parse(&without), None);
        let not_hex = body.replace("0067432F1C3B8A2D5E", "zz");
        assert_eq!(parse(&not_hex), None, "not hex: not ordered");
    }

    #[test]
    fn a_body_that_is_not_an_s3_event_is_an_error() {
        assert!(matches!(
            Notification::parse(Some("{\"hello\":1}")),
            Err(NotificationError::NotS3Event(_))
        ));
        assert!(matches!(
            Notification::parse(None),
            Err(NotificationError::NoBody)
        ));
    }
}
