//! `DynamoOrderStore`: the ports over one DynamoDB table (strongly consistent reads; a
//! commit is the base step's copies, then one conditional `PutItem` of the log item).

use crate::capacity::{self, Read, Units};
use crate::error::StoreError;
use crate::item::{self, Item};
use crate::keys;
use crate::plan::{self, Condition, Put};
use crate::port::{Fact, Failure, Head, OrderStore};
use crate::usage::Usage;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemError, DeleteItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, ReturnConsumedCapacity};
use aws_sdk_dynamodb::Client;
use convoy_core::sequencer::{Need, Step};
use convoy_core::{BoxError, OrderId, Seq, Transaction};
use std::collections::HashMap;
use std::sync::Arc;

/// The error code of a request DynamoDB refuses as invalid (an item over 400 KB, say).
const INVALID: &str = "ValidationException";

/// The order store over a DynamoDB table with string keys `pk` and `sk`.
#[derive(Debug, Clone)]
pub struct DynamoOrderStore {
    client: Client,
    table: String,
    usage: Arc<Usage>,
}

/// A key condition and its values.
struct KeyRange {
    condition: &'static str,
    values: HashMap<String, AttributeValue>,
    newest_first: bool,
    limit: Option<i32>,
}

impl DynamoOrderStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            usage: Arc::default(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The same table with a usage count of its own (from zero).
    pub fn with_own_usage(&self) -> Self {
        Self::new(self.client.clone(), self.table.clone())
    }

    /// Requests and units so far: by AWS's rules from the items' sizes, and as DynamoDB
    /// reported them.
    pub fn usage(&self) -> &Arc<Usage> {
        &self.usage
    }

    fn report(&self, operation: &'static str, consumed: Option<&ConsumedCapacity>) {
        if let Some(c) = consumed {
            let total = c.capacity_units().unwrap_or_default();
            let read = c.read_capacity_units().unwrap_or_default();
            let write = c.write_capacity_units().unwrap_or_default();
            let units = match (read, write) {
                (0.0, 0.0)
                    if matches!(
                        operation,
                        "PutItem" | "DeleteItem" | "UpdateItem" | "TransactWriteItems"
                    ) =>
                {
                    Units {
                        write: total,
                        read: 0.0,
                    }
                }
                (0.0, 0.0) => Units {
                    write: 0.0,
                    read: total,
                },
                _ => Units { write, read },
            };
            self.usage.reported(operation, units);
        }
    }

    async fn get(&self, id: &OrderId, sk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item::key(keys::order_pk(id), sk)))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| backend("GetItem", id, e))?;
        let size = out.item.as_ref().map_or(0, capacity::item_size);
        self.usage
            .record("GetItem", capacity::read(size, Read::Strong));
        self.report("GetItem", out.consumed_capacity());
        Ok(out.item)
    }

    /// The items of `id`'s partition in `range`, every page of them.
    async fn query(&self, id: &OrderId, range: KeyRange) -> Result<Vec<Item>, StoreError> {
        self.query_partition(keys::order_pk(id), range, |e| backend("Query", id, e))
            .await
    }

    /// The items of partition `pk` in `range`, every page of them (strongly consistent);
    /// a failed request is `error`'s.
    async fn query_partition(
        &self,
        pk: String,
        range: KeyRange,
        error: impl Fn(BoxError) -> StoreError,
    ) -> Result<Vec<Item>, StoreError> {
        let mut values = range.values;
        values.insert(":pk".to_owned(), s(pk));
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(range.condition)
                .set_expression_attribute_values(Some(values.clone()))
                .consistent_read(true)
                .scan_index_forward(!range.newest_first)
                .set_limit(range.limit)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| error(e.into()))?;
            let page = out.items.unwrap_or_default();
            let size = page.iter().map(capacity::item_size).sum();
            self.usage
                .record("Query", capacity::query(size, Read::Strong));
            self.report("Query", out.consumed_capacity.as_ref());
            items.extend(page);
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() || range.limit.is_some() {
                return Ok(items);
            }
        }
    }

    /// One conditional put; `Ok(false)` when its condition failed.
    async fn put(&self, id: &OrderId, put: Put) -> Result<bool, StoreError> {
        let size = capacity::item_size(&put.item);
        let units = capacity::write_item(size, &put.key().1);
        let (expression, names, values) = condition(put.condition);
        let sent = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(put.item))
            .set_condition_expression(expression.map(str::to_owned))
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        // A refused condition is charged like a write that landed.
        self.usage.record("PutItem", units);
        match sent {
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.code() == Some(INVALID)) =>
            {
                Err(StoreError::Refused {
                    operation: "PutItem",
                    order_id: id.to_string(),
                    source: e.into(),
                })
            }
            sent => self.landed(
                "PutItem",
                id,
                sent,
                PutItemOutput::consumed_capacity,
                PutItemError::is_conditional_check_failed_exception,
            ),
        }
    }

    /// One conditional delete; `Ok(false)` when its condition failed.
    pub(crate) async fn delete(
        &self,
        id: &OrderId,
        delete: plan::Delete,
    ) -> Result<bool, StoreError> {
        let (expression, names, values) = condition(delete.condition);
        // The only item deleted is a waiting entry (well under 1 KB): one unit either way,
        // and one for its index entry.
        self.usage
            .record("DeleteItem", capacity::write_item(0, &delete.sk));
        let sent = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item::key(delete.pk, delete.sk)))
            .set_condition_expression(expression.map(str::to_owned))
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.landed(
            "DeleteItem",
            id,
            sent,
            DeleteItemOutput::consumed_capacity,
            DeleteItemError::is_conditional_check_failed_exception,
        )
    }

    /// The outcome of a conditional write: `Ok(true)` when it landed (its consumed
    /// capacity reported), `Ok(false)` when `condition_failed` says its condition did not
    /// hold, any other error the backend's.
    pub(crate) fn landed<O, E, R>(
        &self,
        operation: &'static str,
        id: &OrderId,
        sent: Result<O, SdkError<E, R>>,
        consumed: impl Fn(&O) -> Option<&ConsumedCapacity>,
        condition_failed: impl Fn(&E) -> bool,
    ) -> Result<bool, StoreError>
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        match sent {
            Ok(out) => {
                self.report(operation, consumed(&out));
                Ok(true)
            }
            Err(e) if e.as_service_error().is_some_and(&condition_failed) => Ok(false),
            Err(e) => Err(backend(operation, id, e)),
        }
    }
}

/// A write condition as an expression, its names and its values.
type Expression = (
    Option<&'static str>,
    Option<HashMap<String, String>>,
    Option<HashMap<String, AttributeValue>>,
);

fn condition(condition: Condition) -> Expression {
    let below = |expression, name: &str, attribute: &str, n: u64| {
        (
            Some(expression),
            Some(HashMap::from([(name.to_owned(), attribute.to_owned())])),
            Some(HashMap::from([(
                ":n".to_owned(),
                AttributeValue::N(n.to_string()),
            )])),
        )
    };
    match condition {
        Condition::Always => (None, None, None),
        Condition::Absent => (Some("attribute_not_exists(pk)"), None, None),
        Condition::SeqBelow(seq) => below(
            "attribute_not_exists(pk) OR #seq < :n",
            "#seq",
            item::SEQ,
            seq,
        ),
        Condition::VersionBelow(v) => below(
            "attribute_not_exists(pk) OR #version < :n",
            "#version",
            item::VERSION,
            v,
        ),
        Condition::VersionIs(v) => below("#version = :n", "#version", item::VERSION, v),
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn backend(operation: &'static str, id: &OrderId, e: impl Into<BoxError>) -> StoreError {
    StoreError::Backend {
        operation,
        order_id: id.to_string(),
        source: e.into(),
    }
}

/// Sort keys from `from` to `to`.
fn between(from: String, to: String, newest_first: bool, limit: Option<i32>) -> KeyRange {
    KeyRange {
        condition: "pk = :pk AND sk BETWEEN :from AND :to",
        values: HashMap::from([(":from".to_owned(), s(from)), (":to".to_owned(), s(to))]),
        newest_first,
        limit,
    }
}

/// Every sort key of a kind.
fn kind(prefix: &str, newest_first: bool, limit: Option<i32>) -> KeyRange {
    KeyRange {
        condition: "pk = :pk AND begins_with(sk, :prefix)",
        values: HashMap::from([(":prefix".to_owned(), s(prefix))]),
        newest_first,
        limit,
    }
}

impl OrderStore for DynamoOrderStore {
    #[tracing::instrument(level = "debug", skip_all, fields(order_id = %id))]
    async fn load(&self, id: &OrderId) -> Result<Option<Head>, StoreError> {
        let found = self
            .query(id, kind(keys::LOG_PREFIX, true, Some(1)))
            .await?;
        found.first().map(item::read_log).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(order_id = %id))]
    async fn fetch(&self, id: &OrderId, need: &Need) -> Result<Option<Fact>, StoreError> {
        Ok(match need {
            Need::Processed(seq) => {
                let range = between(
                    keys::LOG_PREFIX.to_owned(),
                    keys::log_sk_upto(*seq),
                    true,
                    Some(1),
                );
                let found = self.query(id, range).await?;
                item::processed_in(found.first(), *seq)?
            }
            Need::Parked(seq) => Some(match self.get(id, keys::parked_sk(*seq)).await? {
                Some(i) => Fact::Parked(item::read_parked(&i)?),
                None => Fact::NotParked(*seq),
            }),
            Need::Conflict(seq, fingerprint) => Some(Fact::Conflict {
                seq: *seq,
                fingerprint: fingerprint.clone(),
                recorded: self
                    .get(id, keys::conflict_sk(*seq, fingerprint))
                    .await?
                    .is_some(),
            }),
            Need::Item(txn_id) => {
                let found = self.get(id, keys::item_sk(txn_id)).await?;
                let amount = found.as_ref().map(item::read_amount).transpose()?;
                Some(Fact::Item(txn_id.clone(), amount))
            }
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(order_id = %id))]
    async fn fetch_parked(
        &self,
        id: &OrderId,
        from: Seq,
        to: Seq,
    ) -> Result<Vec<Transaction>, StoreError> {
        let range = between(keys::parked_sk(from), keys::parked_sk(to), false, None);
        let items = self.query(id, range).await?;
        items.iter().map(item::read_parked).collect()
    }

    async fn take_receipt(&self) -> Result<u64, StoreError> {
        self.next_receipt().await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(order_id = %id))]
    async fn commit(
        &self,
        id: &OrderId,
        base: Option<&Head>,
        step: &Step,
    ) -> Result<Head, StoreError> {
        let plan = plan::commit(id, base, step, &plan::now())?;
        // The copies are independent facts, written side by side; a refused item copy is
        // one a newer step already set.
        futures::future::try_join_all(plan.copies.into_iter().map(|p| self.put(id, p))).await?;
        let landed = match plan.receipt {
            Some(receipt) => self.put_paid(id, plan.log, receipt).await?,
            None => self.put(id, plan.log).await?,
        };
        if !landed {
            return Err(StoreError::Conflict {
                order_id: id.to_string(),
            });
        }
        if let Some(cleared) = plan.cleared {
            // The step is committed: an entry left behind is one the watchdog clears.
            if let Err(e) = self.delete(id, cleared).await {
                tracing::warn!(
                    order_id = %id,
                    error = %convoy_core::chain(&e),
                    "the wait ended, but its waiting entry could not be deleted; the watchdog clears it"
                );
            }
        }
        Ok(plan.head)
    }

    async fn record_failure(&self, failure: &Failure) -> Result<(), StoreError> {
        let expires_at = plan::now().millis / 1000 + item::FAILURE_KEPT_SECS;
        let put = Put {
            item: item::failure(failure, expires_at),
            condition: Condition::Always,
        };
        self.put(&failure.order_id, put).await.map(|_| ())
    }
}

// The watchdog's calls (`WaitingStore`): their own file too, held to the watchdog's role.
mod waiting;

// The consumer's receipt calls (the counter, a paying step's transaction): their own file.
mod receipts;
#[cfg(any(test, feature = "testing"))]
pub(crate) use receipts::partitions;
pub use receipts::MAX_RECEIPT_HOURS;

// The batch function's reads of a window's receipts (`ReceiptReader`).
mod batch;

// The operator's reads (`OrderReader`): their own file, as the consumer never calls them
// (the IAM test reads the consumer's calls from this file and the reader's from that one;
// the batch function's `load_stored_order` is this file's `query`).
mod reader;

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::ErrorMetadata;

    #[test]
    fn invalid_requests_are_told_from_throttling() {
        let validation =
            PutItemError::generic(ErrorMetadata::builder().code("ValidationException").build());
        assert_eq!(validation.code(), Some(INVALID));
        let throttled =
            PutItemError::generic(ErrorMetadata::builder().code("ThrottlingException").build());
        assert_ne!(throttled.code(), Some(INVALID));
    }
}
