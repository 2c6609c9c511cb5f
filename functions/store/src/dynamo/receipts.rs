//! The consumer's receipt calls: the counter's atomic increment, and the commit of a step
//! that pays — its log item and its receipt in one `TransactWriteItems`, both or neither, on
//! the condition that the receipts are not sealed past its `paid_at`.

use super::{backend, condition, DynamoOrderStore, INVALID};
use crate::capacity;
use crate::error::StoreError;
use crate::item;
use crate::keys;
use crate::plan::{Put, ReceiptPut};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, ReturnConsumedCapacity, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use convoy_core::OrderId;

/// The cancellation reason of a transaction action whose condition failed.
const CONDITION_FAILED: &str = "ConditionalCheckFailed";
/// The cancellation reason of an action on an item another transaction is writing.
const TRANSACTION_CONFLICT: &str = "TransactionConflict";

impl DynamoOrderStore {
    /// `ADD last 1` on the counter, the new value returned: one number per call, never
    /// handed out twice (DynamoDB serializes the updates of one item).
    pub(crate) async fn next_receipt(&self) -> Result<u64, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::key(
                keys::RECEIPT_COUNTER_PK.to_owned(),
                keys::RECEIPT_COUNTER_SK.to_owned(),
            )))
            .update_expression("ADD #last :one")
            .expression_attribute_names("#last", item::LAST)
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .return_values(ReturnValue::UpdatedNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| StoreError::Counter { source: e.into() })?;
        // The counter is a few dozen bytes: one unit.
        self.usage.record("UpdateItem", capacity::write(0, false));
        self.report("UpdateItem", out.consumed_capacity());
        let last = out.attributes().and_then(|a| a.get(item::LAST));
        match last {
            Some(AttributeValue::N(n)) => n.parse().map_err(|_| StoreError::Malformed {
                pk: keys::RECEIPT_COUNTER_PK.to_owned(),
                sk: keys::RECEIPT_COUNTER_SK.to_owned(),
                reason: format!("{} = {n} is not a whole number", item::LAST),
            }),
            _ => Err(StoreError::Malformed {
                pk: keys::RECEIPT_COUNTER_PK.to_owned(),
                sk: keys::RECEIPT_COUNTER_SK.to_owned(),
                reason: format!("{} is missing or not a number", item::LAST),
            }),
        }
    }

    /// Puts the log item and the receipt in one transaction, on the condition that the
    /// receipt's `paid_at` is not before the seal. `Ok(false)` when the log item's condition
    /// failed (another writer committed first); [`StoreError::Sealed`] when the seal's did.
    /// Either way nothing was written.
    pub(crate) async fn put_paid(
        &self,
        id: &OrderId,
        log: Put,
        receipt: ReceiptPut,
    ) -> Result<bool, StoreError> {
        let (receipt, paid_at) = (receipt.put, receipt.paid_at);
        let mut actions = Vec::with_capacity(3);
        // One request: its puts and the seal's check (a few dozen bytes), each billed as a
        // transactional write.
        let units = [&log, &receipt]
            .iter()
            .map(|p| capacity::write(capacity::item_size(&p.item), true))
            .fold(capacity::write(0, true), |a, b| a + b);
        self.usage.record("TransactWriteItems", units);
        for put in [log, receipt] {
            let (expression, names, values) = condition(put.condition);
            let action = aws_sdk_dynamodb::types::Put::builder()
                .table_name(&self.table)
                .set_item(Some(put.item))
                .set_condition_expression(expression.map(str::to_owned))
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .build()
                .map_err(|e| backend("TransactWriteItems", id, e))?;
            actions.push(TransactWriteItem::builder().put(action).build());
        }
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(item::key(
                keys::SEALED_PK.to_owned(),
                keys::SEALED_SK.to_owned(),
            )))
            .condition_expression("attribute_not_exists(pk) OR #through <= :paid_at")
            .expression_attribute_names("#through", item::THROUGH)
            .expression_attribute_values(":paid_at", AttributeValue::N(paid_at.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| backend("TransactWriteItems", id, e))?;
        actions.push(TransactWriteItem::builder().condition_check(check).build());
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let e = match sent {
            Ok(out) => {
                for c in out.consumed_capacity() {
                    self.report("TransactWriteItems", Some(c));
                }
                return Ok(true);
            }
            Err(e) => e,
        };
        let cancelled = e.as_service_error().and_then(|s| match s {
            TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
            _ => None,
        });
        let reasons: Vec<Option<String>> = cancelled
            .map(|c| {
                c.cancellation_reasons()
                    .iter()
                    .map(|r| r.code().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let code = |i: usize| reasons.get(i).cloned().flatten();
        // Another writer committed the order first, or is committing it right now (a
        // transaction on the same log key): reload either way.
        if matches!(
            code(0).as_deref(),
            Some(CONDITION_FAILED | TRANSACTION_CONFLICT)
        ) {
            return Ok(false);
        }
        if code(2).as_deref() == Some(CONDITION_FAILED) {
            let through = cancelled
                .and_then(|c| c.cancellation_reasons().get(2))
                .and_then(|r| r.item())
                .and_then(|i| i.get(item::THROUGH))
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(paid_at.saturating_add(1));
            return Err(StoreError::Sealed {
                order_id: id.to_string(),
                through,
            });
        }
        let invalid = e.as_service_error().and_then(|s| s.code()) == Some(INVALID)
            || reasons.iter().flatten().any(|c| c == "ValidationError");
        if invalid {
            return Err(StoreError::Refused {
                operation: "TransactWriteItems",
                order_id: id.to_string(),
                source: e.into(),
            });
        }
        if code(1).as_deref() == Some(CONDITION_FAILED) {
            // A receipt number committed twice would be a broken counter: never overwrite.
            return Err(StoreError::Receipt {
                order_id: id.to_string(),
                reason: "its receipt number is already taken (the receipt counter went back)",
            });
        }
        Err(backend("TransactWriteItems", id, e))
    }
}

/// The most hourly partitions one read of receipts may cover (a window is a day, 25 hours
/// at most; a week of catching up is 169).
pub const MAX_RECEIPT_HOURS: u64 = 31 * 24;

/// The receipts' partitions of `from <= paid_at < to`, one per UTC hour, in order; at most
/// [`MAX_RECEIPT_HOURS`].
pub(crate) fn partitions(from: u64, to: u64) -> Result<Vec<String>, StoreError> {
    if to <= from {
        return Ok(Vec::new());
    }
    let first = from / keys::RECEIPT_HOUR_MS;
    let last = (to - 1) / keys::RECEIPT_HOUR_MS;
    let hours = last - first + 1;
    if hours > MAX_RECEIPT_HOURS {
        return Err(StoreError::ReceiptSpan {
            hours,
            limit: MAX_RECEIPT_HOURS,
        });
    }
    Ok((first..=last)
        .map(|h| keys::receipts_pk(h * keys::RECEIPT_HOUR_MS))
        .collect())
}
