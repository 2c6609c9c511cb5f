//! `convoy order show | void` and `convoy orders list | stalled`.

use super::{call, OpsError, Target};
use crate::output::{or_dash, Output};
use convoy_core::sequencer::{Outcome, StoredOrder};
use convoy_core::{Content, OrderId, OrderView, Seq, Transaction};
use convoy_store::port::OrderReader;
use std::time::Duration;

fn order_id(id: &str) -> Result<OrderId, OpsError> {
    OrderId::parse(id).map_err(|source| OpsError::Argument {
        what: "order id",
        source,
    })
}

/// One history entry: what became of the transaction at `seq`.
#[derive(Debug, serde::Serialize)]
struct Entry<'a> {
    seq: u64,
    #[serde(flatten)]
    outcome: &'a Outcome,
    txn: &'a Transaction,
}

/// The order as contract section 4 shows it; with `history`, also what became of every
/// processed seq (the audit trail: applied, rejected and why, voided by whom), what is
/// parked and the conflicts recorded.
pub async fn show(
    target: &Target,
    id: &str,
    history: bool,
    out: &mut Output<'_>,
) -> Result<(), OpsError> {
    let id = order_id(id)?;
    let stored: StoredOrder = target
        .orders()
        .load_stored_order(&id)
        .await
        .map_err(call(format!("reading order {id}")))?
        .ok_or_else(|| OpsError::NoOrder {
            order_id: id.to_string(),
            table: target.stack.table_name.clone(),
        })?;
    let view = OrderView::from(&stored);
    let entries: Vec<Entry<'_>> = stored
        .processed
        .iter()
        .map(|(seq, p)| Entry {
            seq: *seq,
            outcome: &p.outcome,
            txn: &p.txn,
        })
        .collect();
    let mut conflicts: Vec<_> = stored.conflicts.values().collect();
    conflicts.sort_by_key(|c| (c.txn.seq, c.fingerprint.to_string()));
    let paid = stored.paid.map(|r| paid_in(target, r));
    if out.json() {
        if history {
            out.line(&serde_json::json!({
                "order": view,
                "history": entries,
                "parked": stored.parked.values().collect::<Vec<_>>(),
                "conflicts": conflicts,
                "paid": paid,
            }))?;
        } else {
            out.line(&view)?;
        }
        return Ok(());
    }
    let items = view
        .items
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let seqs = |s: &[u64]| s.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    out.fields(&[
        ("order", view.order_id.clone()),
        ("status", view.status.clone()),
        ("currency", or_dash(view.currency.as_ref())),
        ("total", view.total.to_string()),
        ("items", items),
        ("next seq", view.next_seq.to_string()),
        ("parked", seqs(&view.parked)),
        ("applied", view.applied.to_string()),
        ("rejected", view.rejected.to_string()),
        ("duplicates", view.duplicates.to_string()),
        ("conflicts", view.conflicts.to_string()),
        ("voided", seqs(&view.voided)),
        (
            "paid",
            paid.as_ref().map_or_else(
                || "-".to_owned(),
                |p| format!("receipt {} at {}, batch {}", p.receipt, p.paid_at, p.batch),
            ),
        ),
    ])?;
    if history {
        out.table(
            &["seq", "type", "outcome", "detail"],
            entries.iter().map(|e| {
                let (outcome, detail) = match e.outcome {
                    Outcome::Applied => ("applied", detail(e.txn)),
                    Outcome::Rejected { reason } => ("rejected", reason.to_string()),
                    Outcome::Voided => ("voided", detail(e.txn)),
                };
                vec![
                    e.seq.to_string(),
                    e.txn.content.op().to_string(),
                    outcome.to_owned(),
                    detail,
                ]
            }),
        )?;
    }
    Ok(())
}

/// An order's payment: its receipt, when, and the cutoff batch it belongs to.
#[derive(Debug, serde::Serialize)]
struct Paid {
    receipt: u64,
    paid_at: String,
    /// The window of `paid_at` by the stack's cutoff now (`convoy batch show` it); where
    /// the cutoff changed since, the batch files' headers are the word on it.
    batch: String,
}

fn paid_in(target: &Target, r: convoy_core::Receipt) -> Paid {
    let at = batch::window::timestamp_of_millis(r.paid_at);
    let window = super::batches::settings(&target.stack)
        .ok()
        .and_then(|s| s.cutoff.window_of_millis(r.paid_at).ok());
    Paid {
        receipt: r.number,
        paid_at: at.map_or_else(|_| r.paid_at.to_string(), |t| t.to_string()),
        batch: window.map_or_else(|| "-".to_owned(), |w| w.name()),
    }
}

/// What a transaction carries besides its op, in a few words.
fn detail(t: &Transaction) -> String {
    let what = match &t.content {
        Content::Create { currency } => currency.to_string(),
        Content::Add { txn_id, amount } | Content::Modify { txn_id, amount } => {
            format!("{txn_id} {amount}")
        }
        Content::Void { by } => format!("by {by}"),
        _ => String::new(),
    };
    [Some(what), t.note.clone(), t.at.clone()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The order statuses `orders list --status` accepts.
pub fn statuses() -> Vec<&'static str> {
    convoy_core::Status::ALL
        .iter()
        .map(|s| s.as_str())
        .collect()
}

/// Every order (a scan of the table: its cost grows with the table), optionally only
/// those in `status`, by id.
pub async fn list(
    target: &Target,
    status: Option<&str>,
    out: &mut Output<'_>,
) -> Result<(), OpsError> {
    let mut orders = target
        .orders()
        .list_orders()
        .await
        .map_err(call("listing the orders"))?;
    orders.retain(|o| status.is_none_or(|s| o.status.as_str() == s));
    orders.sort_by(|a, b| a.order_id.as_str().cmp(b.order_id.as_str()));
    if out.json() {
        for o in &orders {
            out.line(&serde_json::json!({
                "order_id": o.order_id.as_str(),
                "status": o.status.as_str(),
                "currency": o.currency.map(|c| c.to_string()),
                "total": o.total,
                "next_seq": o.next_seq,
                "parked": o.parked_count,
                "applied": o.applied,
                "rejected": o.rejected,
                "duplicates": o.duplicates,
                "conflicts": o.conflicts,
            }))?;
        }
        return Ok(());
    }
    out.table(
        &[
            "order", "status", "total", "next seq", "parked", "applied", "rejected",
        ],
        orders.iter().map(|o| {
            vec![
                o.order_id.to_string(),
                o.status.to_string(),
                format!("{} {}", o.total, or_dash(o.currency)),
                o.next_seq.to_string(),
                o.parked_count.to_string(),
                o.applied.to_string(),
                o.rejected.to_string(),
            ]
        }),
    )?;
    Ok(())
}

/// One run of the watchdog: every order waiting behind a missing seq for longer than
/// `after` is recorded as stalled and listed; a due drain nothing drives is resumed.
pub async fn stalled(
    target: &Target,
    after: Duration,
    out: &mut Output<'_>,
) -> Result<(), OpsError> {
    let store = target.orders();
    let queue = consumer::sqs::SqsDrainQueue::new(
        target.sqs(),
        target.stack.transactions_queue_url.clone(),
    );
    let now = convoy_store::plan::now().millis;
    let settings = watchdog::Settings { stall_after: after };
    let report = watchdog::watch(&store, &queue, settings, now).await?;
    if out.json() {
        for s in &report.stalled {
            out.line(s)?;
        }
        for id in &report.resumed {
            out.line(&serde_json::json!({ "resumed": id }))?;
        }
        return checked(report.failed);
    }
    out.table(
        &["order", "missing seq", "waiting since", "parked"],
        report.stalled.iter().map(|s| {
            let since = aws_smithy_types::DateTime::from_millis(s.since as i64)
                .fmt(aws_smithy_types::date_time::Format::DateTime)
                .unwrap_or_else(|_| s.since.to_string());
            vec![
                s.order_id.to_string(),
                s.next_seq.to_string(),
                since,
                s.parked.to_string(),
            ]
        }),
    )?;
    for id in &report.resumed {
        out.text(&format!("resumed the drain of {id}"))?;
    }
    checked(report.failed)
}

/// A watchdog pass whose checks failed for some orders is not a clean answer.
fn checked(failed: usize) -> Result<(), OpsError> {
    if failed == 0 {
        return Ok(());
    }
    Err(OpsError::Incomplete(format!(
        "{failed} waiting orders could not be checked (their errors are above); run it again"
    )))
}

/// Voids `seq` of order `id` (see `consumer::void`), as the caller's AWS identity.
pub async fn void(
    target: &Target,
    id: &str,
    seq: u64,
    reason: &str,
    out: &mut Output<'_>,
) -> Result<(), OpsError> {
    let argument = |what| move |source| OpsError::Argument { what, source };
    let order_id = order_id(id)?;
    let seq = Seq::new(seq).map_err(argument("seq"))?;
    let identity = aws_sdk_sts::Client::new(&target.sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(call(
            "finding the caller's AWS identity (sts:GetCallerIdentity)",
        ))?;
    let arn = identity.arn().unwrap_or_default();
    let by = convoy_core::Principal::parse(arn).map_err(argument("caller identity"))?;
    let request = consumer::void::VoidRequest {
        order_id,
        seq,
        reason: reason.to_owned(),
        by,
        at: convoy_store::plan::now().text,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    let settings = consumer::Settings::default();
    let outcome = consumer::void::void(&target.orders(), &request, &settings, deadline)
        .await
        .map_err(Box::new)?;
    // As the outcome orders its fields: `voided` (now, ahead, already) first.
    out.line(&outcome)?;
    Ok(())
}
