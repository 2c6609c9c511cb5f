//! [`ReceiptReader`] over the table: the batch function's reads of a window's receipts,
//! a strongly consistent query per hourly receipts partition the window covers.

use super::{s, DynamoOrderStore};
use crate::capacity::{self, Read};
use crate::error::StoreError;
use crate::item;
use crate::port::{PaidOrder, ReceiptReader};
use aws_sdk_dynamodb::types::ReturnConsumedCapacity;
use std::collections::HashMap;

impl ReceiptReader for DynamoOrderStore {
    async fn receipts(&self, from: u64, to: u64) -> Result<Vec<PaidOrder>, StoreError> {
        let mut paid = Vec::new();
        for partition in super::receipts::partitions(from, to)? {
            let values = HashMap::from([(":pk".to_owned(), s(partition.clone()))]);
            let mut start = None;
            loop {
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk")
                    .set_expression_attribute_values(Some(values.clone()))
                    .consistent_read(true)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| StoreError::Receipts {
                        partition: partition.clone(),
                        source: e.into(),
                    })?;
                let page = out.items.unwrap_or_default();
                let size = page.iter().map(capacity::item_size).sum();
                self.usage
                    .record("Query", capacity::query(size, Read::Strong));
                self.report("Query", out.consumed_capacity.as_ref());
                for found in &page {
                    let order = item::read_receipt(found)?;
                    if (from..to).contains(&order.receipt.paid_at) {
                        paid.push(order);
                    }
                }
                start = out.last_evaluated_key.filter(|k| !k.is_empty());
                if start.is_none() {
                    break;
                }
            }
        }
        // Partitions go by paid_at; the sequence by number (a payment's clock and its
        // number's order may differ by the milliseconds between taking and committing).
        paid.sort_by_key(|p| p.receipt.number);
        Ok(paid)
    }
}
