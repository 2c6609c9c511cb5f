//! [`WaitingStore`] over the table: the watchdog's calls. A query of `WaitingIndex` per
//! shard (eventually consistent, as every index read), and conditional writes of the
//! `waiting` items it found.

use super::{s, DynamoOrderStore};
use crate::capacity::{self, Read};
use crate::error::StoreError;
use crate::item::{self, Item};
use crate::keys;
use crate::plan::{Condition, Delete};
use crate::port::{Waiting, WaitingStore};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use std::collections::HashMap;

impl DynamoOrderStore {
    /// The entries of one index shard whose wait began at or before `cutoff`, every page.
    async fn shard_since(&self, shard: String, cutoff: u64) -> Result<Vec<Item>, StoreError> {
        let values = HashMap::from([
            (":shard".to_owned(), s(shard.clone())),
            (":cutoff".to_owned(), AttributeValue::N(cutoff.to_string())),
        ]);
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::WAITING_INDEX)
                .key_condition_expression(format!(
                    "{} = :shard AND {} <= :cutoff",
                    keys::WAITING_SHARD,
                    keys::WAITING_SINCE
                ))
                .set_expression_attribute_values(Some(values.clone()))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::Index {
                    index: keys::WAITING_INDEX,
                    shard: shard.clone(),
                    source: e.into(),
                })?;
            let page = out.items.unwrap_or_default();
            let size = page.iter().map(capacity::item_size).sum();
            self.usage
                .record("Query", capacity::query(size, Read::Eventual));
            self.report("Query", out.consumed_capacity.as_ref());
            items.extend(page);
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

impl WaitingStore for DynamoOrderStore {
    async fn waiting_since(&self, cutoff: u64) -> Result<Vec<Waiting>, StoreError> {
        let shards =
            (0..keys::WAITING_SHARDS).map(|n| self.shard_since(keys::waiting_shard_key(n), cutoff));
        let mut found = Vec::new();
        for items in futures::future::try_join_all(shards).await? {
            for i in &items {
                found.push(item::read_waiting(i)?);
            }
        }
        found.sort_by_key(|w| w.since);
        Ok(found)
    }

    async fn mark_stalled(
        &self,
        entry: &Waiting,
        parked: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let id = &entry.order_id;
        let n = |v: u64| AttributeValue::N(v.to_string());
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::key(
                keys::order_pk(id),
                keys::WAITING_SK.to_owned(),
            )))
            .update_expression("SET #stalled = if_not_exists(#stalled, :now), #parked = :parked")
            .condition_expression("#version = :version")
            .expression_attribute_names("#stalled", item::STALLED_AT)
            .expression_attribute_names("#parked", item::PARKED)
            .expression_attribute_names("#version", item::VERSION)
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":parked", n(parked))
            .expression_attribute_values(":version", n(entry.version.get()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.usage.record("UpdateItem", capacity::write(0, false));
        self.landed(
            "UpdateItem",
            id,
            sent,
            UpdateItemOutput::consumed_capacity,
            UpdateItemError::is_conditional_check_failed_exception,
        )
    }

    async fn clear_waiting(&self, entry: &Waiting) -> Result<bool, StoreError> {
        let delete = Delete {
            pk: keys::order_pk(&entry.order_id),
            sk: keys::WAITING_SK.to_owned(),
            condition: Condition::VersionIs(entry.version.get()),
        };
        self.delete(&entry.order_id, delete).await
    }
}
