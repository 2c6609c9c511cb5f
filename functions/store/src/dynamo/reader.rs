//! [`OrderReader`] over the table: what an operator (the CLI, the tests) reads. Of the
//! functions only the batch function calls it, `load_stored_order` alone (a `Query` of a
//! paid order's partition, through [`DynamoOrderStore`]'s own query): no role grants
//! `dynamodb:Scan`.

use super::{s, DynamoOrderStore, KeyRange};
use crate::error::StoreError;
use crate::item::{self, Item};
use crate::keys::{self, PK, SK};
use crate::port::{Failure, OrderReader};
use convoy_core::sequencer::StoredOrder;
use convoy_core::{OrderId, OrderState};
use std::collections::{BTreeMap, HashMap};

impl OrderReader for DynamoOrderStore {
    async fn last_failure(
        &self,
        id: &OrderId,
        message_id: &str,
    ) -> Result<Option<Failure>, StoreError> {
        let found = self.get(id, keys::failure_sk(message_id)).await?;
        found.as_ref().map(item::read_failure).transpose()
    }

    async fn list_orders(&self) -> Result<Vec<OrderState>, StoreError> {
        let values = HashMap::from([
            (":log".to_owned(), s(keys::LOG_PREFIX)),
            (":prefix".to_owned(), s(keys::ORDER_PREFIX)),
        ]);
        // The newest log item of each order holds its head.
        let mut newest: BTreeMap<String, (String, Item)> = BTreeMap::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(format!(
                    "begins_with({SK}, :log) AND begins_with({PK}, :prefix)"
                ))
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
                let r = item::Reader::new(&i);
                let (pk, sk) = (r.pk().to_owned(), r.sk().to_owned());
                if newest.get(&pk).is_none_or(|(best, _)| *best < sk) {
                    newest.insert(pk, (sk, i));
                }
            }
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                break;
            }
        }
        newest
            .values()
            .map(|(_, i)| item::read_log(i).map(|h| h.state))
            .collect()
    }

    async fn load_stored_order(&self, id: &OrderId) -> Result<Option<StoredOrder>, StoreError> {
        let all = KeyRange {
            condition: "pk = :pk",
            values: HashMap::new(),
            newest_first: false,
            limit: None,
        };
        let items = self.query(id, all).await?;
        item::stored_order(&items)
    }
}
