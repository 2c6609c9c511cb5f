//! Keys of the single table: the `pk` / `sk` of every item an order owns.
//!
//! Every item of an order shares `pk = order#<order_id>`; the sort key tells the kind:
//! `state` (the head), `seq#<seq>` (history), `parked#<seq>`, `conflict#<seq>#<fingerprint>`.
//! Sequence numbers are zero-padded to 20 digits so sort keys order like numbers.

use convoy_core::sequencer::Need;
use convoy_core::{Fingerprint, OrderId, Seq};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// The `pk` prefix of every order item (ledger status records use `ledger#`).
pub const ORDER_PREFIX: &str = "order#";
/// The sort key of an order's head item.
pub const SK_STATE: &str = "state";
pub const SEQ_PREFIX: &str = "seq#";
pub const PARKED_PREFIX: &str = "parked#";
pub const CONFLICT_PREFIX: &str = "conflict#";

/// `order#<order_id>`.
pub fn order_pk(id: &OrderId) -> String {
    format!("{ORDER_PREFIX}{id}")
}

/// `seq#<seq, 20 digits>`: the history entry of a processed `seq`.
pub fn seq_sk(seq: Seq) -> String {
    format!("{SEQ_PREFIX}{:020}", seq.get())
}

/// `parked#<seq, 20 digits>`: a parked transaction.
pub fn parked_sk(seq: Seq) -> String {
    format!("{PARKED_PREFIX}{:020}", seq.get())
}

/// `conflict#<seq, 20 digits>#<fingerprint>`: a recorded conflict.
pub fn conflict_sk(seq: Seq, fingerprint: &Fingerprint) -> String {
    format!("{CONFLICT_PREFIX}{:020}#{fingerprint}", seq.get())
}

/// The sort key of the item that holds a fact the sequencer needs.
pub fn need_sk(need: &Need) -> String {
    match need {
        Need::Processed(seq) => seq_sk(*seq),
        Need::Parked(seq) => parked_sk(*seq),
        Need::Conflict(seq, fingerprint) => conflict_sk(*seq, fingerprint),
    }
}

/// What a sort key of an order item names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    State,
    Seq(Seq),
    Parked(Seq),
    Conflict(Seq, Fingerprint),
}

impl SortKey {
    /// Reads a sort key back; `None` for a key this layout does not write.
    pub fn parse(sk: &str) -> Option<SortKey> {
        if sk == SK_STATE {
            return Some(SortKey::State);
        }
        if let Some(rest) = sk.strip_prefix(SEQ_PREFIX) {
            return padded_seq(rest).map(SortKey::Seq);
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

fn padded_seq(s: &str) -> Option<Seq> {
    if s.len() != 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Seq::new(s.parse().ok()?).ok()
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
        assert_eq!(seq_sk(Seq::new(7).unwrap()), "seq#00000000000000000007");
        assert_eq!(
            parked_sk(Seq::new(Seq::MAX).unwrap()),
            "parked#00009007199254740991"
        );
        let fp = Fingerprint::from_stored("ab".repeat(32));
        assert_eq!(
            conflict_sk(Seq::new(12).unwrap(), &fp),
            format!("conflict#00000000000000000012#{}", "ab".repeat(32))
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
            "seq#7",
            "seq#0000000000000000000x",
            "seq#00000000000000000000",
            "parked#",
            "conflict#00000000000000000001",
            "conflict#00000000000000000001#",
            "status",
        ] {
            assert_eq!(SortKey::parse(sk), None, "{sk}");
        }
    }

    proptest! {
        #[test]
        fn sort_keys_round_trip_and_sort_numerically(a in 1u64..=Seq::MAX, b in 1u64..=Seq::MAX) {
            let (sa, sb) = (Seq::new(a).unwrap(), Seq::new(b).unwrap());
            prop_assert_eq!(SortKey::parse(&seq_sk(sa)), Some(SortKey::Seq(sa)));
            prop_assert_eq!(SortKey::parse(&parked_sk(sa)), Some(SortKey::Parked(sa)));
            let fp = Fingerprint::from_stored(format!("{b:064x}"));
            prop_assert_eq!(
                SortKey::parse(&conflict_sk(sa, &fp)),
                Some(SortKey::Conflict(sa, fp))
            );
            prop_assert_eq!(seq_sk(sa).cmp(&seq_sk(sb)), a.cmp(&b));
            prop_assert_eq!(parked_sk(sa).cmp(&parked_sk(sb)), a.cmp(&b));
        }

        #[test]
        fn order_pks_round_trip(s in "[!-~]{1,128}") {
            let oid = id(&s);
            prop_assert_eq!(parse_order_pk(&order_pk(&oid)), Some(oid));
        }
    }
}
