//! DynamoDB adapter of the status record: one item per ledger, `pk` = `ledger#<bucket>/<key>`,
//! `sk` = `status`. Writes are conditional on the S3 event sequencer, so that an older
//! version of the key never overwrites a newer version's record.

use crate::ports::{PutOutcome, StatusError, StatusStore};
use crate::status::{Checkpoint, Guard, LedgerStatus, State};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use ledger_format::Settled;
use std::collections::HashMap;

/// Stores ledger status records in the table `TABLE_NAME`.
#[derive(Debug, Clone)]
pub struct DynamoStatusStore {
    client: Client,
    table: String,
}

impl DynamoStatusStore {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }
}

type Item = HashMap<String, AttributeValue>;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The item of a status record; absent optional attributes are left out.
pub(crate) fn to_item(st: &LedgerStatus) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(&st.pk())),
        ("sk".to_owned(), s(LedgerStatus::SK)),
        ("bucket".to_owned(), s(&st.bucket)),
        ("key".to_owned(), s(&st.key)),
        ("state".to_owned(), s(st.state.as_str())),
        ("lines_read".to_owned(), n(st.lines_read)),
        ("sent".to_owned(), n(st.sent)),
        ("refused".to_owned(), n(st.refused)),
        (
            "rejects_truncated".to_owned(),
            AttributeValue::Bool(st.rejects_truncated),
        ),
        ("started_at".to_owned(), s(&st.started_at)),
        ("updated_at".to_owned(), s(&st.updated_at)),
        ("continuations".to_owned(), n(st.continuations)),
    ]);
    let checkpoint = st.checkpoint.as_ref();
    let optional = [
        ("version_id", st.version_id.as_deref().map(s)),
        ("etag", st.etag.as_deref().map(s)),
        ("size", st.size.map(n)),
        ("sequencer", st.sequencer.as_deref().map(s)),
        ("error", st.error.as_deref().map(s)),
        ("rejects_key", st.rejects_key.as_deref().map(s)),
        ("owner", st.owner.as_deref().map(s)),
        ("checkpoint_line", checkpoint.map(|c| n(c.settled.line))),
        (
            "checkpoint_offset",
            checkpoint.and_then(|c| c.settled.offset).map(n),
        ),
        ("checkpoint_sent", checkpoint.map(|c| n(c.sent))),
        ("checkpoint_refused", checkpoint.map(|c| n(c.refused))),
        ("checkpoint_listed", checkpoint.map(|c| n(c.listed))),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item.insert(name.to_owned(), value);
        }
    }
    item
}

/// The status record of an item, or what is wrong with it.
pub(crate) fn from_item(item: &Item) -> Result<LedgerStatus, String> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
        None => Ok(None),
        Some(_) => Err(format!("{name} is not a string")),
    };
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("{name} is not a count")),
        None => Ok(None),
        Some(_) => Err(format!("{name} is not a number")),
    };
    let boolean = |name: &str| match item.get(name) {
        Some(AttributeValue::Bool(v)) => Ok(Some(*v)),
        None => Ok(None),
        Some(_) => Err(format!("{name} is not a boolean")),
    };
    let required = |name: &str| text(name)?.ok_or_else(|| format!("{name} is missing"));
    let state = required("state")?;
    Ok(LedgerStatus {
        bucket: required("bucket")?,
        key: required("key")?,
        version_id: text("version_id")?,
        etag: text("etag")?,
        size: number("size")?,
        sequencer: text("sequencer")?,
        state: State::parse(&state).ok_or_else(|| format!("unknown state {state:?}"))?,
        lines_read: number("lines_read")?.unwrap_or(0),
        sent: number("sent")?.unwrap_or(0),
        refused: number("refused")?.unwrap_or(0),
        // Records written before it existed have none.
        rejects_truncated: boolean("rejects_truncated")?.unwrap_or(false),
        error: text("error")?,
        rejects_key: text("rejects_key")?,
        started_at: text("started_at")?.unwrap_or_default(),
        updated_at: text("updated_at")?.unwrap_or_default(),
        owner: text("owner")?,
        continuations: number("continuations")?.unwrap_or(0),
        checkpoint: match number("checkpoint_line")? {
            None => None,
            Some(line) => Some(Checkpoint {
                settled: Settled {
                    line,
                    offset: number("checkpoint_offset")?,
                },
                sent: number("checkpoint_sent")?.unwrap_or(0),
                refused: number("checkpoint_refused")?.unwrap_or(0),
                listed: number("checkpoint_listed")?.unwrap_or(0),
            }),
        },
    })
}

/// The condition of a write carrying a sequencer: no record yet, or one that cannot be
/// ordered (no sequencer), or one of this or an older version. Sequencers are stored
/// normalized (fixed width, upper-case hex), so DynamoDB's string comparison orders them.
/// The same rule as [`LedgerStatus::may_replace`].
pub(crate) const NEWER_OR_SAME_VERSION: &str =
    "attribute_not_exists(#pk) OR attribute_not_exists(#seq) OR #seq <= :seq";

/// A condition expression, its attribute names and its values.
type Condition = (
    String,
    Vec<(&'static str, &'static str)>,
    Vec<(&'static str, AttributeValue)>,
);

/// The condition of a write under `guard` ([`LedgerStatus::may_replace_under`]), with the
/// names and values it uses: `None` for an unconditional write.
fn condition(status: &LedgerStatus, guard: Guard<'_>) -> Option<Condition> {
    let owner = match guard {
        Guard::Any => None,
        Guard::Owner(Some(owner)) => Some(("#owner = :owner", Some(s(owner)))),
        Guard::Owner(None) => Some(("attribute_not_exists(#owner)", None)),
    };
    let mut names = vec![("#pk", "pk")];
    let mut values = Vec::new();
    let expression = match (&status.sequencer, owner) {
        (None, None) => return None,
        (Some(sequencer), None) => {
            names.push(("#seq", "sequencer"));
            values.push((":seq", s(sequencer)));
            NEWER_OR_SAME_VERSION.to_owned()
        }
        (sequencer, Some((owned, value))) => {
            names.push(("#owner", "owner"));
            values.extend(value.map(|v| (":owner", v)));
            match sequencer {
                None => format!("attribute_not_exists(#pk) OR {owned}"),
                Some(sequencer) => {
                    names.push(("#seq", "sequencer"));
                    values.push((":seq", s(sequencer)));
                    format!("attribute_not_exists(#pk) OR #seq < :seq OR ((attribute_not_exists(#seq) OR #seq = :seq) AND {owned})")
                }
            }
        }
    };
    Some((expression, names, values))
}

impl StatusStore for DynamoStatusStore {
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<LedgerStatus>, StatusError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&LedgerStatus::pk_for(bucket, key)))
            .key("sk", s(LedgerStatus::SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StatusError::Get {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                source: Box::new(e),
            })?;
        out.item()
            .map(|item| {
                from_item(item).map_err(|what| StatusError::Malformed {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    what,
                })
            })
            .transpose()
    }

    async fn put(
        &self,
        status: &LedgerStatus,
        guard: Guard<'_>,
    ) -> Result<PutOutcome, StatusError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(status)));
        // Without a sequencer (the event had none, as from some emulators) the versions of
        // the key cannot be ordered: only the guard's owner is checked.
        if let Some((expression, names, values)) = condition(status, guard) {
            request = request
                .condition_expression(expression)
                .set_expression_attribute_names(Some(
                    names
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect(),
                ))
                .set_expression_attribute_values(
                    (!values.is_empty())
                        .then(|| values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
                )
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
        }
        match request.send().await {
            Ok(_) => Ok(PutOutcome::Written),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                let stored = match e.err() {
                    PutItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                    _ => None,
                };
                let stored = stored
                    .map(|item| from_item(&item))
                    .transpose()
                    .map_err(|what| StatusError::Malformed {
                        bucket: status.bucket.clone(),
                        key: status.key.clone(),
                        what,
                    })?;
                Ok(match stored {
                    Some(current) if status.may_replace(Some(&current)) => PutOutcome::Taken {
                        current: Box::new(current),
                    },
                    current => PutOutcome::Superseded {
                        current: current.and_then(|c| c.sequencer),
                    },
                })
            }
            Err(e) => Err(StatusError::Put {
                bucket: status.bucket.clone(),
                key: status.key.clone(),
                source: Box::new(e),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::ObjectRef;

    #[test]
    fn a_status_record_round_trips_through_its_item() {
        let object = ObjectRef {
            bucket: "convoy-ledgers".into(),
            key: "ledgers/a b.csv".into(),
            version_id: Some("v1".into()),
            etag: Some("e1".into()),
            size: Some(42),
            sequencer: Some("000000000000000067432F1C3B8A2D5E".into()),
        };
        let mut st = LedgerStatus::start(&object, State::Failed);
        (st.lines_read, st.sent, st.refused) = (10, 7, 100_002);
        st.rejects_truncated = true;
        st.error = Some("boom".into());
        st.rejects_key = Some("rejects/a b.csv.jsonl".into());
        let item = to_item(&st);
        assert_eq!(item["pk"], s("ledger#convoy-ledgers/ledgers/a b.csv"));
        assert_eq!(item["sk"], s("status"));
        assert_eq!(item["state"], s("failed"));
        assert_eq!(item["sent"], n(7));
        assert_eq!(item["rejects_truncated"], AttributeValue::Bool(true));
        assert_eq!(item["sequencer"], s("000000000000000067432F1C3B8A2D5E"));
        assert_eq!(from_item(&item).unwrap(), st);

        let bare = LedgerStatus::start(
            &ObjectRef {
                version_id: None,
                etag: None,
                size: None,
                sequencer: None,
                ..object
            },
            State::Processing,
        );
        let item = to_item(&bare);
        assert!(!item.contains_key("version_id") && !item.contains_key("error"));
        assert!(!item.contains_key("sequencer"));
        assert_eq!(from_item(&item).unwrap(), bare);
    }

    #[test]
    fn a_malformed_item_says_what_is_wrong() {
        let mut item = to_item(&LedgerStatus::start(
            &ObjectRef {
                bucket: "b".into(),
                key: "ledgers/k.jsonl".into(),
                version_id: None,
                etag: None,
                size: None,
                sequencer: None,
            },
            State::Done,
        ));
        item.insert("rejects_truncated".into(), s("yes"));
        assert!(from_item(&item).unwrap_err().contains("rejects_truncated"));
        item.remove("rejects_truncated");
        item.insert("state".into(), s("exploded"));
        assert!(from_item(&item).unwrap_err().contains("exploded"));
        item.insert("state".into(), s("done"));
        item.insert("sent".into(), s("x"));
        assert!(from_item(&item).unwrap_err().contains("sent"));
    }

    #[test]
    fn a_record_written_before_rejects_truncated_existed_reads_as_not_truncated() {
        let mut st = LedgerStatus::start(
            &ObjectRef {
                bucket: "b".into(),
                key: "ledgers/k.jsonl".into(),
                version_id: None,
                etag: None,
                size: None,
                sequencer: None,
            },
            State::Done,
        );
        st.refused = 3;
        let mut item = to_item(&st);
        item.remove("rejects_truncated");
        assert_eq!(from_item(&item).unwrap(), st);
        let mut json = serde_json::to_value(&st).unwrap();
        json.as_object_mut().unwrap().remove("rejects_truncated");
        assert_eq!(serde_json::from_value::<LedgerStatus>(json).unwrap(), st);
    }
}
