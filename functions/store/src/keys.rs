//! Keys of the single table: the `pk` / `sk` of every item an order owns.
//!
//! Every item of an order shares `pk = order#<order_id>`; the sort key tells the kind:
//! `log#<start>#<version>` (one per committed step: the head after it and its changes),
//! `item#<txn_id>`, `parked#<seq>`, `conflict#<seq>#<fingerprint>`, and `waiting` while
//! transactions are parked behind a gap. Numbers are zero-padded to 20 digits so sort keys
//! order like numbers.
//!
//! The `waiting` item is the one item of the sparse index `WaitingIndex`: its partition
//! key is one of [`WAITING_SHARDS`] shards (`waiting#<n>`, so no single index partition
//! takes every order's writes), its sort key when the order began to wait (epoch ms).

use convoy_core::{Fingerprint, OrderId, Seq, TxnId};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// The `pk` prefix of every order item (ledger status records use `ledger#`).
pub const ORDER_PREFIX: &str = "order#";
pub const LOG_PREFIX: &str = "log#";
pub const ITEM_PREFIX: &str = "item#";
pub const PARKED_PREFIX: &str = "parked#";
pub const CONFLICT_PREFIX: &str = "conflict#";

/// The prefix of the item that says why the consumer last failed a message.
pub const FAILURE_PREFIX: &str = "failure#";

/// `failure#<message id>`: why the consumer last failed that message of the order.
pub fn failure_sk(message_id: &str) -> String {
    format!("{FAILURE_PREFIX}{message_id}")
}

/// The sort key of an order's `waiting` item.
pub const WAITING_SK: &str = "waiting";
/// The sparse index of waiting orders, and its key attributes.
pub const WAITING_INDEX: &str = "WaitingIndex";
pub const WAITING_SHARD: &str = "waiting_shard";
pub const WAITING_SINCE: &str = "waiting_since";
/// The attributes the waiting index holds beside its keys and the table's.
pub const WAITING_PROJECTION: [&str; 4] = ["next_seq", "version", "stalled_at", "parked"];
/// How many partition keys the waiting index spreads its items over; a query of every
/// waiting order asks each one.
pub const WAITING_SHARDS: u64 = 8;
/// The `pk` prefix of the waiting index (what the watchdog's queries are held to).
pub const WAITING_PREFIX: &str = "waiting#";

/// `waiting#<n>`: the index partition of `id` (FNV-1a of the id, modulo the shards: stable
/// across builds and platforms, unlike std's hasher).
pub fn waiting_shard(id: &OrderId) -> String {
    let hash = id.as_str().bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    waiting_shard_key(hash % WAITING_SHARDS)
}

/// `waiting#<n>`, the key of index partition `n`.
pub fn waiting_shard_key(n: u64) -> String {
    format!("{WAITING_PREFIX}{n}")
}

/// The receipt counter (`pk` and `sk` of its one item): the number of the last receipt
/// taken, for every order (a hot key by design: about 1,000 payments a second at most).
pub const RECEIPT_COUNTER_PK: &str = "receipts#counter";
pub const RECEIPT_COUNTER_SK: &str = "counter";
/// The seal of the receipts (`pk` and `sk` of its one item): `through`, the instant (epoch
/// ms) up to which a batch has read them. A payment is committed only with a `paid_at` at or
/// after it, so no receipt lands in a window once a batch has read the window.
pub const SEALED_PK: &str = "receipts#sealed";
pub const SEALED_SK: &str = "sealed";
/// The `pk` prefix of receipts: `receipts#<UTC hour of paid_at>` (`receipts#2026-12-07T13`),
/// so a window's receipts are a few partitions read in full, not a scan of the table.
pub const RECEIPTS_PREFIX: &str = "receipts#";
/// The span of one receipts partition (ms).
pub const RECEIPT_HOUR_MS: u64 = 3_600_000;

/// `receipts#<YYYY-MM-DDTHH>`: the receipts partition of a payment at `paid_at` (epoch ms).
pub fn receipts_pk(paid_at: u64) -> String {
    let hour = paid_at - paid_at % RECEIPT_HOUR_MS;
    let at = aws_smithy_types::DateTime::from_millis(i64::try_from(hour).unwrap_or(i64::MAX));
    let text = at
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| hour.to_string());
    format!("{RECEIPTS_PREFIX}{}", text.get(..13).unwrap_or(&text))
}

/// `<number, 20 digits>`: a receipt's sort key in its partition.
pub fn receipt_sk(number: u64) -> String {
    format!("{number:020}")
}

/// `order#<order_id>`.
pub fn order_pk(id: &OrderId) -> String {
    format!("{ORDER_PREFIX}{id}")
}

/// `log#<start, 20 digits>#<version, 20 digits>`: the step committed as `version`, which
/// started at `next_seq` = `start`. Both grow from step to step, so the newest step sorts
/// last, and the step that processed a `seq` is the last one whose start is at most `seq`.
pub fn log_sk(start: u64, version: u64) -> String {
    format!("{LOG_PREFIX}{start:020}#{version:020}")
}

/// The greatest log sort key of a step that started at or before `seq`.
pub fn log_sk_upto(seq: Seq) -> String {
    format!("{LOG_PREFIX}{:020}#~", seq.get())
}

/// `item#<txn_id>`: an item of the order, with its amount.
pub fn item_sk(txn_id: &TxnId) -> String {
    format!("{ITEM_PREFIX}{txn_id}")
}

/// `parked#<seq, 20 digits>`: a parked transaction.
pub fn parked_sk(seq: Seq) -> String {
    format!("{PARKED_PREFIX}{:020}", seq.get())
}

/// `conflict#<seq, 20 digits>#<fingerprint>`: a recorded conflict.
pub fn conflict_sk(seq: Seq, fingerprint: &Fingerprint) -> String {
    format!("{CONFLICT_PREFIX}{:020}#{fingerprint}", seq.get())
}

/// What a sort key of an order item names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Log { start: u64, version: u64 },
    Item(TxnId),
    Parked(Seq),
    Conflict(Seq, Fingerprint),
}

impl SortKey {
    /// Reads a sort key back; `None` for a key this layout does not write.
    pub fn parse(sk: &str) -> Option<SortKey> {
        if let Some(rest) = sk.strip_prefix(LOG_PREFIX) {
            let (start, version) = rest.split_once('#')?;
            return Some(SortKey::Log {
                start: padded(start)?,
                version: padded(version)?,
            });
        }
        if let Some(rest) = sk.strip_prefix(ITEM_PREFIX) {
            return TxnId::parse(rest).ok().map(SortKey::Item);
        }
        if let Some(rest) = sk.strip_prefix(PARKED_PREFIX) {
            return padded_seq(rest).map(SortKey::Parked);
        }
        let rest = sk.strip_prefix(CONFLICT_PREFIX)?;
        let (seq, fingerprint) = rest.split_once('#')?;
        let seq = padded_seq(seq)?;
        if fingerprint.is_empty() {
            return None;
        }
        Some(SortKey::Conflict(
            seq,
            Fingerprint::from_stored(fingerprint.to_owned()),
        ))
    }
}

/// The order id inside `order#<order_id>`, or `None` for any other `pk`.
pub fn parse_order_pk(pk: &str) -> Option<OrderId> {
    OrderId::parse(pk.strip_prefix(ORDER_PREFIX)?).ok()
}

fn padded(s: &str) -> Option<u64> {
    if s.len() != 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn padded_seq(s: &str) -> Option<Seq> {
    Seq::new(padded(s)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(s: &str) -> OrderId {
        OrderId::parse(s).unwrap()
    }

    #[test]
    fn keys_are_padded_to_twenty_digits() {
        assert_eq!(order_pk(&id("A-1")), "order#A-1");
        assert_eq!(
            log_sk(7, 3),
            "log#00000000000000000007#00000000000000000003"
        );
        assert_eq!(
            parked_sk(Seq::new(Seq::MAX).unwrap()),
            "parked#00009007199254740991"
        );
        assert_eq!(item_sk(&TxnId::parse("t#1").unwrap()), "item#t#1");
        let fp = Fingerprint::from_stored("ab".repeat(32));
        assert_eq!(
            conflict_sk(Seq::new(12).unwrap(), &fp),
            format!("conflict#00000000000000000012#{}", "ab".repeat(32))
        );
    }

    #[test]
    fn waiting_orders_spread_over_every_shard_and_stay_in_theirs() {
        let shards: std::collections::BTreeSet<String> = (0..200)
            .map(|i| waiting_shard(&id(&format!("order-{i}"))))
            .collect();
        let all: std::collections::BTreeSet<String> =
            (0..WAITING_SHARDS).map(waiting_shard_key).collect();
        assert_eq!(shards, all);
        // Fixed by the algorithm, not by a build: stored items keep their shard.
        assert_eq!(waiting_shard(&id("A-1")), waiting_shard(&id("A-1")));
        assert_eq!(
            waiting_shard(&id("A-1")),
            "waiting#6",
            "FNV-1a of A-1, mod 8"
        );
    }

    #[test]
    fn order_ids_with_hashes_stay_in_their_pk() {
        let weird = id("order#ledger#x");
        assert_eq!(order_pk(&weird), "order#order#ledger#x");
        assert_eq!(parse_order_pk(&order_pk(&weird)), Some(weird));
        assert_eq!(parse_order_pk("ledger#ledgers/a.jsonl"), None);
    }

    #[test]
    fn foreign_sort_keys_are_not_ours() {
        for sk in [
            "",
            "state",
            "seq#00000000000000000001",
            "log#7#1",
            "log#00000000000000000007",
            "parked#",
            "item#",
            "conflict#00000000000000000001",
            "conflict#00000000000000000001#",
        ] {
            assert_eq!(SortKey::parse(sk), None, "{sk}");
        }
    }

    proptest! {
        #[test]
        fn sort_keys_round_trip_and_sort_numerically(
            a in 1u64..=Seq::MAX, b in 1u64..=Seq::MAX, va: u64, vb: u64, t in "[ -~]{1,128}"
        ) {
            let (sa, sb) = (Seq::new(a).unwrap(), Seq::new(b).unwrap());
            prop_assert_eq!(SortKey::parse(&parked_sk(sa)), Some(SortKey::Parked(sa)));
            prop_assert_eq!(
                SortKey::parse(&log_sk(a, va)),
                Some(SortKey::Log { start: a, version: va })
            );
            let txn_id = TxnId::parse(&t).unwrap();
            prop_assert_eq!(SortKey::parse(&item_sk(&txn_id)), Some(SortKey::Item(txn_id)));
            let fp = Fingerprint::from_stored(format!("{b:064x}"));
            prop_assert_eq!(
                SortKey::parse(&conflict_sk(sa, &fp)),
                Some(SortKey::Conflict(sa, fp))
            );
            prop_assert_eq!(parked_sk(sa).cmp(&parked_sk(sb)), a.cmp(&b));
            prop_assert_eq!(log_sk(a, va).cmp(&log_sk(b, vb)), (a, va).cmp(&(b, vb)));
            // A step that started at or before `b` sorts at or before log_sk_upto(b).
            prop_assert_eq!(log_sk(a, va) <= log_sk_upto(sb), a <= b);
        }

        #[test]
        fn order_pks_round_trip(s in "[!-~]{1,128}") {
            let oid = id(&s);
            prop_assert_eq!(parse_order_pk(&order_pk(&oid)), Some(oid));
        }
    }
}
