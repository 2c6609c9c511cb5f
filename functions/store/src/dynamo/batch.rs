//! [`ReceiptReader`] over the table: the batch function's seal of the receipts (one
//! conditional `UpdateItem`, never lowered) and its reads of a window's receipts, a strongly
//! consistent query per hourly receipts partition the window covers (the store's paged
//! query, `DynamoOrderStore::query_partition`).

use super::{DynamoOrderStore, KeyRange};
use crate::capacity;
use crate::error::StoreError;
use crate::item;
use crate::keys;
use crate::port::{PaidOrder, ReceiptReader};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
};
use std::collections::HashMap;

impl ReceiptReader for DynamoOrderStore {
    async fn seal(&self, through: u64) -> Result<u64, StoreError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::key(
                keys::SEALED_PK.to_owned(),
                keys::SEALED_SK.to_owned(),
            )))
            .update_expression("SET #through = :through")
            .condition_expression("attribute_not_exists(pk) OR #through < :through")
            .expression_attribute_names("#through", item::THROUGH)
            .expression_attribute_values(":through", AttributeValue::N(through.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.usage.record("UpdateItem", capacity::write(0, false));
        match sent {
            Ok(out) => {
                self.report("UpdateItem", out.consumed_capacity());
                Ok(through)
            }
            // Sealed further already (a later window was written first): never lowered.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                let was = e
                    .as_service_error()
                    .and_then(|s| match s {
                        UpdateItemError::ConditionalCheckFailedException(c) => c.item(),
                        _ => None,
                    })
                    .and_then(|i| i.get(item::THROUGH))
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(through);
                Ok(was)
            }
            Err(e) => Err(StoreError::Seal {
                through,
                source: e.into(),
            }),
        }
    }

    async fn receipts(&self, from: u64, to: u64) -> Result<Vec<PaidOrder>, StoreError> {
        let mut paid = Vec::new();
        for partition in super::receipts::partitions(from, to)? {
            let whole = KeyRange {
                condition: "pk = :pk",
                values: HashMap::new(),
                newest_first: false,
                limit: None,
            };
            let error = |source| StoreError::Receipts {
                partition: partition.clone(),
                source,
            };
            for found in self
                .query_partition(partition.clone(), whole, error)
                .await?
            {
                let order = item::read_receipt(&found)?;
                if (from..to).contains(&order.receipt.paid_at) {
                    paid.push(order);
                }
            }
        }
        // Partitions go by paid_at; the sequence by number (a payment's clock and its
        // number's order may differ by the milliseconds between taking and committing).
        paid.sort_by_key(|p| p.receipt.number);
        Ok(paid)
    }
}
