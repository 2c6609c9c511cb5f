//! One window's batch: read its receipts in order, each paid order's items, render the
//! file and write it once. A window's file is written by the first run that gets there
//! (`If-None-Match: *`); any later, repeated or concurrent run changes nothing.

use crate::file::{self, BatchOrder, FileError};
use crate::window::{Cutoff, Window, WindowError};
use convoy_core::{Amount, BoxError};
use convoy_store::{OrderReader, PaidOrder, ReceiptReader, StoreError};
use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use std::future::Future;
use std::time::Duration;

/// Paid orders read side by side (each a query of its partition), in receipt order.
pub const READS_IN_FLIGHT: usize = 32;

/// Where batch files go: written once, never replaced.
pub trait BatchBucket: Sync {
    /// Whether an object is at `key`.
    fn exists(&self, key: &str) -> impl Future<Output = Result<bool, BucketError>> + Send;

    /// The first `bytes` bytes of the object at `key`, `None` when there is none.
    fn head_bytes(
        &self,
        key: &str,
        bytes: usize,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, BucketError>> + Send;

    /// Writes `body` at `key` unless an object is there already (`If-None-Match: *`):
    /// `Ok(true)` when written, `Ok(false)` when another run wrote it first.
    fn put_new(
        &self,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<bool, BucketError>> + Send;
}

/// A bucket request that failed.
#[derive(Debug, thiserror::Error)]
#[error("{operation} of s3://{bucket}/{key}")]
pub struct BucketError {
    pub operation: &'static str,
    pub bucket: String,
    pub key: String,
    #[source]
    pub source: BoxError,
}

/// What a run did with its window.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// This run wrote the file.
    Written,
    /// The file was there already (written by an earlier or a concurrent run): unchanged.
    AlreadyWritten,
}

/// The result of a run, as the function answers and logs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub window: String,
    pub key: String,
    pub outcome: Outcome,
    /// Orders in the file this run wrote (`None` when it wrote none).
    pub orders: Option<usize>,
    pub bytes: Option<usize>,
    /// The bounds of the window this run wrote (they differ from the cutoff's own where
    /// the window meets a batch written under another cutoff).
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
}

/// Why a window's batch was not written.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(
        "window {window} is not settled until {ready_at} (its cutoff {end} plus the settle \
         delay): a payment applied before the cutoff may still be committing"
    )]
    NotSettled {
        window: String,
        end: Timestamp,
        ready_at: Timestamp,
    },
    #[error(transparent)]
    Window(#[from] WindowError),
    #[error("sealing or reading the receipts of window {window}")]
    Receipts {
        window: String,
        #[source]
        source: StoreError,
    },
    #[error("reading order {order_id} (receipt {receipt})")]
    Order {
        order_id: String,
        receipt: u64,
        #[source]
        source: StoreError,
    },
    #[error("order {order_id} has receipt {receipt} but no stored state")]
    MissingOrder { order_id: String, receipt: u64 },
    #[error(
        "order {order_id} (receipt {receipt}): its items add up to {items}, its receipt says \
         {total}; the batch is not written"
    )]
    Mismatch {
        order_id: String,
        receipt: u64,
        items: Amount,
        total: Amount,
    },
    #[error("order {order_id} (receipt {receipt}) was paid without a currency")]
    NoCurrency { order_id: String, receipt: u64 },
    #[error("rendering the batch of window {window}")]
    Render {
        window: String,
        #[source]
        source: FileError,
    },
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error(
        "{key} has no readable header; window {window} meets the batches of the days \
         before and after where they are written"
    )]
    Neighbour {
        window: String,
        key: String,
        #[source]
        source: Box<FileError>,
    },
}

/// Writes the batch of `window` unless it is written already; refused before the window
/// is settled (`now` past its cutoff by `settle`).
pub async fn write_window<S, B>(
    store: &S,
    bucket: &B,
    cutoff: &Cutoff,
    window: &Window,
    now: Timestamp,
    settle: Duration,
) -> Result<Report, BatchError>
where
    S: ReceiptReader + OrderReader,
    B: BatchBucket,
{
    let name = window.name();
    let key = file::key(window);
    if !window.settled(now, settle) {
        let ready_at = window.end().checked_add(settle).unwrap_or(Timestamp::MAX);
        return Err(BatchError::NotSettled {
            window: name,
            end: window.end(),
            ready_at,
        });
    }
    let unchanged = |name: String, key: String| Report {
        window: name,
        key,
        outcome: Outcome::AlreadyWritten,
        orders: None,
        bytes: None,
        start: None,
        end: None,
    };
    if bucket.exists(&key).await? {
        tracing::info!(window = %name, key, "the window's batch is written already");
        return Ok(unchanged(name, key));
    }
    let window = &continued(bucket, cutoff, window).await?;
    let (from, to) = (millis(window.start()), millis(window.end()));
    // From here on no payment is committed into the window (a late one is paid after it).
    store
        .seal(to)
        .await
        .map_err(|source| BatchError::Receipts {
            window: name.clone(),
            source,
        })?;
    let paid = store
        .receipts(from, to)
        .await
        .map_err(|source| BatchError::Receipts {
            window: name.clone(),
            source,
        })?;
    let orders: Vec<BatchOrder> = futures::stream::iter(paid)
        .map(|p| as_paid(store, p))
        .buffered(READS_IN_FLIGHT)
        .try_collect()
        .await?;
    let body = file::render(cutoff, window, &orders).map_err(|source| BatchError::Render {
        window: name.clone(),
        source,
    })?;
    let bytes = body.len();
    if !bucket.put_new(&key, body).await? {
        tracing::info!(window = %name, key, "another run wrote the window's batch first");
        return Ok(unchanged(name, key));
    }
    tracing::info!(window = %name, key, orders = orders.len(), bytes, "batch written");
    Ok(Report {
        window: name,
        key,
        outcome: Outcome::Written,
        orders: Some(orders.len()),
        bytes: Some(bytes),
        start: Some(window.start()),
        end: Some(window.end()),
    })
}

/// `window`, meeting the batches of the days before and after where they are written: it
/// starts where the day before's ended and ends where the day after's starts. The same
/// instants, unless the cutoff changed in between: a later cutoff would otherwise leave the
/// payments between the two in no batch, an earlier one put them in two — whichever of the
/// windows is written first.
async fn continued<B: BatchBucket>(
    bucket: &B,
    cutoff: &Cutoff,
    window: &Window,
) -> Result<Window, BatchError> {
    let mut out = *window;
    if let Ok(before) = window.date().yesterday() {
        if let Some(header) = header_of(bucket, cutoff, window, before).await? {
            out = out.continuing_from(header.end());
        }
    }
    if let Ok(after) = window.date().tomorrow() {
        if let Some(header) = header_of(bucket, cutoff, window, after).await? {
            out = out.ending_at(header.start());
        }
    }
    if out != *window {
        tracing::warn!(
            window = %window.name(),
            computed_start = %window.start(),
            computed_end = %window.end(),
            start = %out.start(),
            end = %out.end(),
            "the cutoff changed: the window meets the batches written on either side"
        );
    }
    Ok(out)
}

/// The header of the batch of `date`, if it is written.
async fn header_of<B: BatchBucket>(
    bucket: &B,
    cutoff: &Cutoff,
    window: &Window,
    date: jiff::civil::Date,
) -> Result<Option<file::BatchHeader>, BatchError> {
    let key = file::key(&cutoff.window(date)?);
    let Some(head) = bucket.head_bytes(&key, file::HEADER_MAX_BYTES).await? else {
        return Ok(None);
    };
    file::parse_header(&head)
        .map(Some)
        .map_err(|source| BatchError::Neighbour {
            window: window.name(),
            key,
            source: Box::new(source),
        })
}

/// A paid order as the batch lists it: its receipt, and its items (unchanged since it was
/// paid: items change only while an order is open), checked against the receipt's total.
async fn as_paid<S: OrderReader>(store: &S, paid: PaidOrder) -> Result<BatchOrder, BatchError> {
    let receipt = paid.receipt.number;
    let order_id = paid.order_id.to_string();
    let stored = store
        .load_stored_order(&paid.order_id)
        .await
        .map_err(|source| BatchError::Order {
            order_id: order_id.clone(),
            receipt,
            source,
        })?
        .ok_or_else(|| BatchError::MissingOrder {
            order_id: order_id.clone(),
            receipt,
        })?;
    let items: std::collections::BTreeMap<String, Amount> = stored
        .items
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let sum = items.values().fold(Amount::ZERO, |a, b| a + *b);
    if sum != paid.total {
        return Err(BatchError::Mismatch {
            order_id,
            receipt,
            items: sum,
            total: paid.total,
        });
    }
    let currency = paid.currency.ok_or_else(|| BatchError::NoCurrency {
        order_id: order_id.clone(),
        receipt,
    })?;
    Ok(BatchOrder {
        order_id,
        receipt,
        paid_at_ms: paid.receipt.paid_at,
        currency,
        total: paid.total,
        items,
    })
}

/// Epoch milliseconds of `t` (windows start after 1970).
fn millis(t: Timestamp) -> u64 {
    u64::try_from(t.as_millisecond()).unwrap_or(0)
}

/// A run of the function: the window `named` (`YYYY-MM-DD`), or the latest window settled
/// by `now`.
pub async fn scheduled<S, B>(
    store: &S,
    bucket: &B,
    settings: &crate::settings::Settings,
    named: Option<&str>,
    now: Timestamp,
) -> Result<Report, BatchError>
where
    S: ReceiptReader + OrderReader,
    B: BatchBucket,
{
    let cutoff = &settings.cutoff;
    let window = match named {
        Some(name) => cutoff.window_named(name)?,
        None => cutoff.latest_closed(now, settings.settle)?,
    };
    write_window(store, bucket, cutoff, &window, now, settings.settle).await
}

#[cfg(test)]
mod tests;
