//! The flat JSON shape of a [`Transaction`] on the wire (SQS message body, stored parked
//! transactions), and the conversions to and from it.

use super::{Content, Currency, Op, Principal, Transaction, TxnId, MAX_AT_BYTES, MAX_NOTE_BYTES};
use crate::amount::Amount;
use crate::field::{Field, FieldError};
use crate::order_id::OrderId;
use crate::seq::Seq;

/// The flat JSON shape of a transaction on the wire (SQS message body, stored parked
/// transactions): the ledger's own JSON Lines shape, with `amount` as a string.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Wire {
    order_id: OrderId,
    seq: Seq,
    op: Op,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    txn_id: Option<TxnId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    amount: Option<Amount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    currency: Option<Currency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    /// Who voided the `seq` (a void only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    by: Option<Principal>,
}

impl From<Transaction> for Wire {
    fn from(t: Transaction) -> Wire {
        let (txn_id, amount, currency) = match t.content.clone() {
            Content::Create { currency } => (None, None, Some(currency)),
            Content::Add { txn_id, amount } | Content::Modify { txn_id, amount } => {
                (Some(txn_id), Some(amount), None)
            }
            _ => (None, None, None),
        };
        let by = match &t.content {
            Content::Void { by } => Some(by.clone()),
            _ => None,
        };
        Wire {
            order_id: t.order_id,
            seq: t.seq,
            op: t.content.op(),
            txn_id,
            amount,
            currency,
            at: t.at,
            note: t.note,
            by,
        }
    }
}

impl TryFrom<Wire> for Transaction {
    type Error = FieldError;
    fn try_from(w: Wire) -> Result<Self, FieldError> {
        let content = match (w.op, w.by) {
            (Op::Void, Some(by)) => Content::Void { by },
            (Op::Void, None) => {
                return Err(FieldError::new(Field::By, "required for void"));
            }
            (op, _) => Content::build(op, w.txn_id, w.amount, w.currency)?,
        };
        let too_long = |field: Field, max: usize, text: &Option<String>| match text {
            Some(t) if t.len() > max => Err(FieldError::new(
                field,
                format!("longer than {max} bytes ({} bytes)", t.len()),
            )),
            _ => Ok(()),
        };
        too_long(Field::At, MAX_AT_BYTES, &w.at)?;
        too_long(Field::Note, MAX_NOTE_BYTES, &w.note)?;
        Ok(Transaction {
            order_id: w.order_id,
            seq: w.seq,
            content,
            at: w.at,
            note: w.note,
        })
    }
}
