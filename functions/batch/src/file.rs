//! A batch file, `batches/<window>.jsonl`: JSON Lines, each line ending with `\n`.
//!
//! Line 1 is the [`BatchHeader`]; then one [`BatchOrder`] per line in strictly increasing
//! receipt order (the order the payments were applied). The header's checksum is the
//! SHA-256 of every byte after the header line, each line with its `\n`; an empty window
//! has a header (count 0, the checksum of no bytes) and nothing else.
//!
//! ```text
//! {"batch_id":"2026-12-07/<16 hex>","window":"2026-12-07","start":"2026-12-06T13:00:00.000Z","end":"2026-12-07T13:00:00.000Z","cutoff":"14:00 Europe/Berlin","count":1,"checksum":"sha256:<64 hex>"}
//! {"order_id":"A-1","receipt":1042,"paid_at":"2026-12-07T12:59:59.123Z","currency":"EUR","total":"27.50","items":{"t1":"12.50","t2":"15.00"}}
//! ```

use crate::window::{self, Cutoff, Window, WindowError};
use convoy_core::Amount;
use jiff::civil::Date;
use jiff::fmt::temporal::DateTimePrinter;
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Where batch files live: a window's file is `batches/<window>.jsonl`.
pub const PREFIX: &str = "batches/";

/// The most bytes a header line takes, its `\n` included: reading this much of a batch
/// file is enough for [`parse_header`] (real headers take about 260).
pub const HEADER_MAX_BYTES: usize = 1024;

/// The object key of a window's batch file: `batches/2026-12-07.jsonl`.
pub fn key(window: &Window) -> String {
    format!("{PREFIX}{}.jsonl", window.name())
}

/// A batch file that cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A line is not what it must be (line 1 the header, the others orders).
    #[error("line {line}: {reason}")]
    Line {
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// An order's receipt is not greater than the one before it.
    #[error(
        "line {line}: receipt {receipt} after receipt {previous}: receipts must strictly increase"
    )]
    Misordered {
        /// The line of the order, from 1 (the header is line 1).
        line: usize,
        /// Its receipt.
        receipt: u64,
        /// The receipt of the order on the line before.
        previous: u64,
    },
    /// The header's count is not the number of order lines.
    #[error("the header counts {header} orders but the file has {found}")]
    Count {
        /// The header's count.
        header: u64,
        /// The order lines found.
        found: usize,
    },
    /// The lines after the header do not hash to the header's checksum.
    #[error("the header's checksum is {header} but the lines after it hash to {computed}")]
    Checksum {
        /// The header's checksum.
        header: String,
        /// The checksum of the bytes after the header line.
        computed: String,
    },
    /// The window given to [`render`] is not the cutoff's window of its date.
    #[error(
        "window {} ({} to {}) is not the window of cutoff {cutoff}",
        window.name(), window.start(), window.end()
    )]
    WindowMismatch {
        /// The window given.
        window: Window,
        /// The cutoff given.
        cutoff: Cutoff,
    },
    /// The cutoff's window of the date cannot be computed.
    #[error("the window cannot be computed")]
    Window(#[from] WindowError),
}

/// One order in a batch: a line of the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchOrder {
    /// The order's id.
    pub order_id: String,
    /// The payment's receipt number (strictly increasing through the file).
    pub receipt: u64,
    /// When the payment was applied, epoch milliseconds (UTC); written as RFC 3339 UTC
    /// with milliseconds, `2026-12-07T13:59:59.123Z`.
    #[serde(rename = "paid_at", with = "paid_at")]
    pub paid_at_ms: u64,
    /// The order's currency (`EUR`).
    pub currency: String,
    /// The order's total.
    pub total: Amount,
    /// The order's items by item id, each with its amount.
    pub items: BTreeMap<String, Amount>,
}

/// A batch file's first line: which window, its bounds, and how to check the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchHeader {
    batch_id: String,
    window: Date,
    start: Timestamp,
    end: Timestamp,
    cutoff: Cutoff,
    count: u64,
    checksum: String,
}

impl BatchHeader {
    /// `<window>/<the first 16 hex digits of the checksum>`: differs when the contents do.
    pub fn batch_id(&self) -> &str {
        &self.batch_id
    }

    /// The window's date (its name).
    pub fn window(&self) -> Date {
        self.window
    }

    /// The window's first instant.
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The window's end (its cutoff, the first instant after it).
    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// The cutoff the window was computed with.
    pub fn cutoff(&self) -> &Cutoff {
        &self.cutoff
    }

    /// The number of orders in the file.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// `sha256:<64 lower-case hex digits>` of the bytes after the header line.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }
}

/// The header line as written: every field checked when it becomes a [`BatchHeader`].
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderLine {
    batch_id: String,
    window: String,
    start: String,
    end: String,
    cutoff: String,
    count: u64,
    checksum: String,
}

/// The batch file of `window` holding `orders`, which must be in strictly increasing
/// receipt order. `window` is `cutoff`'s window of its date, or one that meets the
/// batches written on either side ([`Window::continuing_from`], [`Window::ending_at`]):
/// within a day of it.
pub fn render(
    cutoff: &Cutoff,
    window: &Window,
    orders: &[BatchOrder],
) -> Result<Vec<u8>, FileError> {
    let own = cutoff.window(window.date())?;
    let day = jiff::SignedDuration::from_hours(24);
    let near = |a: Timestamp, b: Timestamp| a.duration_since(b).abs() <= day;
    if window.start() > window.end()
        || !near(own.start(), window.start())
        || !near(own.end(), window.end())
    {
        return Err(FileError::WindowMismatch {
            window: *window,
            cutoff: cutoff.clone(),
        });
    }
    let mut body = Vec::new();
    let mut previous: Option<u64> = None;
    for (i, order) in orders.iter().enumerate() {
        let line = i + 2;
        check_order(line, previous, order.receipt)?;
        previous = Some(order.receipt);
        serde_json::to_writer(&mut body, order).map_err(|e| FileError::Line {
            line,
            reason: format!("order {} cannot be written: {e}", order.order_id),
        })?;
        body.push(b'\n');
    }
    let checksum = checksum_of(&body);
    let header = HeaderLine {
        batch_id: batch_id(window.date(), &checksum),
        window: window.name(),
        start: format_timestamp(window.start()),
        end: format_timestamp(window.end()),
        cutoff: cutoff.to_string(),
        count: orders.len() as u64,
        checksum,
    };
    let mut out = serde_json::to_vec(&header).map_err(|e| FileError::Line {
        line: 1,
        reason: format!("the header cannot be written: {e}"),
    })?;
    out.push(b'\n');
    if out.len() > HEADER_MAX_BYTES {
        return Err(FileError::Line {
            line: 1,
            reason: format!(
                "the header takes {} bytes, over {HEADER_MAX_BYTES}",
                out.len()
            ),
        });
    }
    out.extend_from_slice(&body);
    Ok(out)
}

/// A whole batch file, checked: the header, every order line, receipt order, the count
/// and the checksum. The error names the line and what is wrong.
pub fn parse(bytes: &[u8]) -> Result<(BatchHeader, Vec<BatchOrder>), FileError> {
    let Some(header_end) = bytes.iter().position(|b| *b == b'\n') else {
        return Err(FileError::Line {
            line: 1,
            reason: if bytes.is_empty() {
                "the file is empty: expected a header".to_owned()
            } else {
                "the header does not end with a newline (truncated file?)".to_owned()
            },
        });
    };
    let header = parse_header(&bytes[..header_end])?;
    let body = &bytes[header_end + 1..];
    let mut orders: Vec<BatchOrder> = Vec::new();
    let mut rest = body;
    let mut line = 1;
    while !rest.is_empty() {
        line += 1;
        let Some(end) = rest.iter().position(|b| *b == b'\n') else {
            return Err(FileError::Line {
                line,
                reason: "the last line does not end with a newline (truncated file?)".to_owned(),
            });
        };
        let text = &rest[..end];
        rest = &rest[end + 1..];
        if text.is_empty() {
            return Err(FileError::Line {
                line,
                reason: "empty line: expected an order".to_owned(),
            });
        }
        let order: BatchOrder = serde_json::from_slice(text).map_err(|e| FileError::Line {
            line,
            reason: format!("not a batch order: {}", json_reason(&e)),
        })?;
        check_order(line, orders.last().map(|o| o.receipt), order.receipt)?;
        orders.push(order);
    }
    if header.count != orders.len() as u64 {
        return Err(FileError::Count {
            header: header.count,
            found: orders.len(),
        });
    }
    let computed = checksum_of(body);
    if computed != header.checksum {
        return Err(FileError::Checksum {
            header: header.checksum,
            computed,
        });
    }
    Ok((header, orders))
}

/// The header of a batch file from its first line (with or without its `\n`), or from
/// any start of the file that holds the whole first line ([`HEADER_MAX_BYTES`] suffice).
pub fn parse_header(first_line: &[u8]) -> Result<BatchHeader, FileError> {
    let text = first_line
        .split(|b| *b == b'\n')
        .next()
        .unwrap_or(first_line);
    let bad = |reason: String| FileError::Line { line: 1, reason };
    let wire: HeaderLine = serde_json::from_slice(text)
        .map_err(|e| bad(format!("not a batch header: {}", json_reason(&e))))?;
    let window = window::parse_date(&wire.window).map_err(|e| bad(e.to_string()))?;
    let start = parse_timestamp(&wire.start).map_err(|r| bad(format!("start {r}")))?;
    let end = parse_timestamp(&wire.end).map_err(|r| bad(format!("end {r}")))?;
    if end < start {
        return Err(bad(format!(
            "end {} is before start {}",
            wire.end, wire.start
        )));
    }
    let cutoff: Cutoff = wire
        .cutoff
        .parse()
        .map_err(|e: window::CutoffError| bad(e.to_string()))?;
    let hex = wire.checksum.strip_prefix("sha256:").unwrap_or_default();
    let is_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if hex.len() != 64 || !hex.bytes().all(is_hex) {
        return Err(bad(format!(
            "checksum '{}' is not sha256: and 64 lower-case hex digits",
            wire.checksum
        )));
    }
    let expected_id = batch_id(window, &wire.checksum);
    if wire.batch_id != expected_id {
        return Err(bad(format!(
            "batch_id '{}' is not '{expected_id}' (window/first 16 hex digits of the checksum)",
            wire.batch_id
        )));
    }
    Ok(BatchHeader {
        batch_id: wire.batch_id,
        window,
        start,
        end,
        cutoff,
        count: wire.count,
        checksum: wire.checksum,
    })
}

fn check_order(line: usize, previous: Option<u64>, receipt: u64) -> Result<(), FileError> {
    match previous {
        Some(previous) if receipt <= previous => Err(FileError::Misordered {
            line,
            receipt,
            previous,
        }),
        _ => Ok(()),
    }
}

fn checksum_of(body: &[u8]) -> String {
    let mut out = String::from("sha256:");
    for b in Sha256::digest(body) {
        let _ = write!(out, "{b:02x}"); // writing to a String cannot fail
    }
    out
}

/// `<window>/<first 16 hex digits>` of a checksum written `sha256:<hex>`.
fn batch_id(window: Date, checksum: &str) -> String {
    let hex = checksum.strip_prefix("sha256:").unwrap_or(checksum);
    format!("{window}/{}", hex.get(..16).unwrap_or(hex))
}

/// serde_json's message without its position in the one-line text (always line 1).
fn json_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => format!("{} (column {})", &text[..at], e.column()),
        None => text,
    }
}

const PRINTER: DateTimePrinter = DateTimePrinter::new().precision(Some(3));

/// RFC 3339 in UTC with milliseconds: `2026-12-07T13:59:59.123Z`.
fn format_timestamp(t: Timestamp) -> String {
    PRINTER.timestamp_to_string(&t)
}

/// The inverse of [`format_timestamp`], exactly: any other form is refused.
fn parse_timestamp(s: &str) -> Result<Timestamp, String> {
    s.parse::<Timestamp>()
        .ok()
        .filter(|t| format_timestamp(*t) == s)
        .ok_or_else(|| {
            format!("'{s}' is not an RFC 3339 UTC time with milliseconds, like 2026-12-07T13:59:59.123Z")
        })
}

/// `paid_at`: epoch milliseconds in the struct, RFC 3339 UTC with milliseconds on the wire.
mod paid_at {
    use super::{format_timestamp, parse_timestamp};
    use serde::{de::Error as _, ser::Error as _, Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(ms: &u64, s: S) -> Result<S::Ok, S::Error> {
        let t = crate::window::timestamp_of_millis(*ms).map_err(S::Error::custom)?;
        s.serialize_str(&format_timestamp(t))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        let t = parse_timestamp(&s).map_err(|r| D::Error::custom(format!("paid_at {r}")))?;
        u64::try_from(t.as_millisecond())
            .map_err(|_| D::Error::custom(format!("paid_at '{s}' is before 1970")))
    }
}

#[cfg(test)]
mod tests;
