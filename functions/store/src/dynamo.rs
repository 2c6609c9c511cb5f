//! `DynamoOrderStore`: the ports over one DynamoDB table (strongly consistent reads, one
//! conditional `TransactWriteItems` per commit).

use crate::error::StoreError;
use crate::item::{self, Item};
use crate::keys::{self, PK, SK};
use crate::plan::{self, Condition, Write};
use crate::port::{Fact, OrderReader, OrderStore, Version};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use convoy_core::sequencer::{Need, Step, StoredOrder};
use convoy_core::{BoxError, OrderId, OrderState, Seq, Transaction};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// The cancellation reasons that mean "another writer got there first".
const LOST_RACE: [&str; 2] = ["ConditionalCheckFailed", "TransactionConflict"];

/// The error code of a request DynamoDB refuses as invalid, and the cancellation reason of
/// an item of a transaction it refuses so (an item over 400 KB, say).
const INVALID: (&str, &str) = ("ValidationException", "ValidationError");

/// The order store over a DynamoDB table with string keys `pk` and `sk`.
#[derive(Debug, Clone)]
pub struct DynamoOrderStore {
    client: Client,
    table: String,
}

impl DynamoOrderStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get(&self, id: &OrderId, sk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item::key(keys::order_pk(id), sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem", id, e))?;
        Ok(out.item)
    }

    /// All items of `id`'s partition with `sk` in `from..=to` (all of them when `None`).
    async fn query(
        &self,
        id: &OrderId,
        range: Option<(String, String)>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut values = HashMap::from([(":pk".to_owned(), s(keys::order_pk(id)))]);
        let condition = match range {
            Some((from, to)) => {
                values.insert(":from".to_owned(), s(from));
                values.insert(":to".to_owned(), s(to));
                "pk = :pk AND sk BETWEEN :from AND :to"
            }
            None => "pk = :pk",
        };
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(condition)
                .set_expression_attribute_values(Some(values.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| backend("Query", id, e))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                return Ok(items);
            }
        }
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

/// A fresh idempotency token per commit, so the SDK's own retries of one request (after a
/// timeout, say) cannot apply it twice, while two different commits never share a token.
fn request_token() -> String {
    let mut a = std::collections::hash_map::RandomState::new().build_hasher();
    let mut b = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    a.write_u128(nanos);
    b.write_u128(nanos.rotate_left(64));
    format!("{:016x}{:016x}", a.finish(), b.finish())
}

/// The SDK form of one planned write.
fn transact_item(table: &str, write: Write) -> Result<TransactWriteItem, BoxError> {
    let (expression, values) = match write_condition(&write) {
        Condition::Absent => ("attribute_not_exists(pk)", None),
        Condition::Present => ("attribute_exists(pk)", None),
        Condition::Version(v) => (
            "#version = :expected",
            Some(HashMap::from([(
                ":expected".to_owned(),
                AttributeValue::N(v.get().to_string()),
            )])),
        ),
    };
    let names = values
        .is_some()
        .then(|| HashMap::from([("#version".to_owned(), item::VERSION.to_owned())]));
    Ok(match write {
        Write::Put { item, .. } => TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(table)
                    .set_item(Some(item))
                    .condition_expression(expression)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()?,
            )
            .build(),
        Write::Delete { key, .. } => TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name(table)
                    .set_key(Some(key))
                    .condition_expression(expression)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()?,
            )
            .build(),
    })
}

fn write_condition(write: &Write) -> Condition {
    match write {
        Write::Put { condition, .. } | Write::Delete { condition, .. } => *condition,
    }
}

/// True when a `TransactWriteItems` failure means a condition failed or a concurrent
/// transaction touched the same items: the order changed under us.
fn lost_race(e: &TransactWriteItemsError) -> bool {
    let TransactWriteItemsError::TransactionCanceledException(cancel) = e else {
        return false;
    };
    let by_reason = cancel
        .cancellation_reasons()
        .iter()
        .any(|r| r.code().is_some_and(|c| LOST_RACE.contains(&c)));
    // Some emulators leave the reasons out; the message still names them.
    let by_message = cancel
        .message()
        .is_some_and(|m| LOST_RACE.iter().any(|c| m.contains(c)));
    by_reason || by_message
}

/// True when a `TransactWriteItems` failure means the request is invalid as it is: sent
/// again, it is refused again.
fn invalid(e: &TransactWriteItemsError) -> bool {
    match e {
        TransactWriteItemsError::TransactionCanceledException(cancel) => cancel
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some(INVALID.1)),
        other => other.code() == Some(INVALID.0),
    }
}

impl OrderStore for DynamoOrderStore {
    async fn load(&self, id: &OrderId) -> Result<Option<(OrderState, Version)>, StoreError> {
        self.get(id, keys::SK_STATE.to_owned())
            .await?
            .map(|i| item::read_head(&i))
            .transpose()
    }

    async fn fetch(&self, id: &OrderId, need: &Need) -> Result<Option<Fact>, StoreError> {
        let found = self.get(id, keys::need_sk(need)).await?;
        item::read_fact(need, found.as_ref())
    }

    async fn fetch_parked(
        &self,
        id: &OrderId,
        from: Seq,
        to: Seq,
    ) -> Result<Vec<Transaction>, StoreError> {
        let range = (keys::parked_sk(from), keys::parked_sk(to));
        let items = self.query(id, Some(range)).await?;
        items.iter().map(item::read_parked).collect()
    }

    async fn commit(
        &self,
        id: &OrderId,
        expected: Option<Version>,
        step: &Step,
    ) -> Result<Version, StoreError> {
        let plan = plan::commit(id, expected, step, &plan::now())?;
        let items = plan
            .writes
            .into_iter()
            .map(|w| transact_item(&self.table, w))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Backend {
                operation: "TransactWriteItems (building the request)",
                order_id: id.to_string(),
                source: e,
            })?;
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(request_token())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(plan.version),
            Err(e) if e.as_service_error().is_some_and(lost_race) => Err(StoreError::Conflict {
                order_id: id.to_string(),
            }),
            Err(e) if e.as_service_error().is_some_and(invalid) => Err(StoreError::Refused {
                operation: "TransactWriteItems",
                order_id: id.to_string(),
                source: e.into(),
            }),
            Err(e) => Err(backend("TransactWriteItems", id, e)),
        }
    }
}

impl OrderReader for DynamoOrderStore {
    async fn list_orders(&self) -> Result<Vec<OrderState>, StoreError> {
        let values = HashMap::from([
            (":state".to_owned(), s(keys::SK_STATE)),
            (":prefix".to_owned(), s(keys::ORDER_PREFIX)),
        ]);
        let mut orders = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(format!("{SK} = :state AND begins_with({PK}, :prefix)"))
                .set_expression_attribute_values(Some(values.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::Backend {
                    operation: "Scan",
                    order_id: "*".to_owned(),
                    source: e.into(),
                })?;
            for i in out.items.unwrap_or_default() {
                orders.push(item::read_head(&i)?.0);
            }
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                return Ok(orders);
            }
        }
    }

    async fn load_stored_order(&self, id: &OrderId) -> Result<Option<StoredOrder>, StoreError> {
        let items = self.query(id, None).await?;
        item::stored_order(&items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_sdk_dynamodb::types::CancellationReason;

    fn cancelled(codes: &[&str]) -> TransactWriteItemsError {
        let reasons = codes
            .iter()
            .map(|c| CancellationReason::builder().code(*c).build())
            .collect();
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .set_cancellation_reasons(Some(reasons))
                .build(),
        )
    }

    #[test]
    fn invalid_requests_are_told_from_lost_races_and_throttling() {
        let validation = TransactWriteItemsError::generic(
            ErrorMetadata::builder().code("ValidationException").build(),
        );
        assert!(invalid(&validation));
        assert!(invalid(&cancelled(&["None", "ValidationError"])));
        let throttled = TransactWriteItemsError::generic(
            ErrorMetadata::builder().code("ThrottlingException").build(),
        );
        assert!(!invalid(&throttled));
        assert!(!invalid(&cancelled(&["ConditionalCheckFailed", "None"])));
        assert!(!invalid(&cancelled(&["ThrottlingError"])));
        assert!(lost_race(&cancelled(&["None", "TransactionConflict"])));
    }
}
