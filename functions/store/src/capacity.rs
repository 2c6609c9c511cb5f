//! DynamoDB capacity units as AWS bills them, computed from item sizes.
//!
//! Pure and synchronous: no request is made, nothing is measured. The functions here say
//! what a request costs on AWS, so a test or a bench can put a price on a step of the
//! sequencer without trusting an emulator's bookkeeping.
//!
//! # Item size
//! [`item_size`] follows AWS's guide to item sizes: the size of an item is the sum, over
//! its attributes, of the UTF-8 length of the attribute's name plus the size of its value.
//! The value sizes are listed on [`value_size`].
//!
//! # Units
//! - Writes ([`write()`]): one write request unit (WRU) per 1 KB (1024 bytes) of the item,
//!   a part of a KB counting as a whole one, at least one unit (deleting an absent item
//!   costs one). A write inside `TransactWriteItems` costs twice as much. For a put or an
//!   update that replaces an item, the size that counts is the larger of the old and the
//!   new item; for a delete, the size of the deleted item. The caller picks the size.
//! - Reads ([`read()`]): one read request unit (RRU) per 4 KB (4096 bytes) of the item, a
//!   part counting as a whole, at least one even when there is no item (size 0). An
//!   eventually consistent read costs half, a transactional one (`TransactGetItems`) twice.
//!   `BatchGetItem` is charged as that many single reads: sum the [`read()`] of each item.
//! - Query and Scan ([`query`]): a page is charged on the *sum* of the sizes of the items it
//!   read, rounded up to the next 4 KB once for the page, at least one unit (half for an
//!   eventually consistent page) even when the page is empty.
//!
//! A conditional write whose condition fails is charged like a successful one: the units
//! are consumed although nothing was written. A cancelled transaction likewise consumes
//! the units of its actions.
//!
//! The `ConsumedCapacity` that emulators (DynamoDB Local, LocalStack) report omits the
//! transactional doubling: they report a transactional write or read at the price of a
//! plain one. Compare their figures with `write(size, false)` or `read(size,
//! Read::Strong)`, and use the transactional prices here for what AWS would bill.
//!
//! All the prices are multiples of half a unit, which an `f64` holds exactly.

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::ops::{Add, AddAssign};

/// One item: attribute name → value, as the SDK holds it.
pub type Item = HashMap<String, AttributeValue>;

/// Bytes of an item per write unit.
const WRITE_BLOCK: usize = 1024;

/// Bytes of an item per read unit.
const READ_BLOCK: usize = 4096;

/// Overhead of a List or a Map value, whatever its contents.
const CONTAINER_OVERHEAD: usize = 3;

/// Overhead of each element of a List or a Map.
const ELEMENT_OVERHEAD: usize = 1;

/// Capacity units consumed: write request units and read request units.
///
/// Sums with `+` and `+=`, so the cost of a step is the sum of the costs of its requests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    /// Write request units (WRU; WCU in provisioned mode).
    pub write: f64,
    /// Read request units (RRU; RCU in provisioned mode).
    pub read: f64,
}

impl Add for Units {
    type Output = Units;

    /// Units of both, write with write and read with read.
    fn add(self, other: Units) -> Units {
        Units {
            write: self.write + other.write,
            read: self.read + other.read,
        }
    }
}

impl AddAssign for Units {
    /// Adds `other`'s units to these, write with write and read with read.
    fn add_assign(&mut self, other: Units) {
        *self = *self + other;
    }
}

/// Consistency of a read, which sets its price per 4 KB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Eventually consistent (the default of `GetItem`, `Query`, `Scan`): half a unit per 4 KB.
    Eventual,
    /// Strongly consistent (`ConsistentRead`): one unit per 4 KB.
    Strong,
    /// Inside `TransactGetItems`: two units per 4 KB.
    Transactional,
}

impl Read {
    /// Read units per 4 KB block.
    fn per_block(self) -> f64 {
        match self {
            Read::Eventual => 0.5,
            Read::Strong => 1.0,
            Read::Transactional => 2.0,
        }
    }
}

/// Size of an item in bytes, as DynamoDB counts it for capacity units: for each attribute,
/// the UTF-8 length of its name plus [`value_size`] of its value.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// Size of one attribute value in bytes, without the attribute's name:
/// - S: the UTF-8 length of the string.
/// - N: [`number_size`], about one byte per two significant digits, plus one.
/// - B: the length of the raw bytes (not of their base64 encoding).
/// - BOOL, NULL: one byte.
/// - SS, NS, BS: the sum of the sizes of the elements (as S, N, B), nothing more.
/// - L: 3 bytes, plus for each element its value size and 1 byte.
/// - M: 3 bytes, plus for each entry the UTF-8 length of its key, its value size and 1 byte.
///   An empty L or M is therefore 3 bytes.
/// - A variant this SDK does not know (`Unknown`, or one added later): 0 bytes.
pub fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(list) => {
            CONTAINER_OVERHEAD
                + list
                    .iter()
                    .map(|v| value_size(v) + ELEMENT_OVERHEAD)
                    .sum::<usize>()
        }
        AttributeValue::M(map) => {
            CONTAINER_OVERHEAD
                + map
                    .iter()
                    .map(|(k, v)| k.len() + value_size(v) + ELEMENT_OVERHEAD)
                    .sum::<usize>()
        }
        _ => 0,
    }
}

/// Size in bytes of a number as written in an `N` value: `(significant_digits + 1) / 2 + 1`,
/// that is one byte per two significant digits (rounded up) plus one byte.
///
/// The significant digits are the decimal digits of the mantissa (the part before any `e`
/// or `E` exponent), decimal point removed, with leading and trailing zeros trimmed: `"7"`
/// has 1, `"0012.3400"` has 4 (`1234`), `"1200"` has 2, `"0.005"` has 1, `"0"` has none and
/// takes 1 byte. A sign adds nothing (DynamoDB's own encoding may spend a byte on a negative
/// number; AWS documents the size only as approximate). Characters other than digits are
/// ignored, so a malformed number, which DynamoDB would reject, still gets a size.
pub fn number_size(n: &str) -> usize {
    let mantissa = n.split(['e', 'E']).next().unwrap_or("");
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let significant = match (
        digits.iter().position(|&d| d != b'0'),
        digits.iter().rposition(|&d| d != b'0'),
    ) {
        (Some(first), Some(last)) => last - first + 1,
        _ => 0,
    };
    significant.div_ceil(2) + 1
}

/// Blocks of `block` bytes that `size` bytes take, a part counting as a whole, at least one.
fn blocks(size: usize, block: usize) -> f64 {
    size.div_ceil(block).max(1) as f64
}

/// Write units of writing (putting, updating or deleting) an item of `size` bytes: one per
/// 1 KB or part of it, at least one; twice that when `transactional` (an action of
/// `TransactWriteItems`). A write whose condition fails costs the same.
pub fn write(size: usize, transactional: bool) -> Units {
    let per_block = if transactional { 2.0 } else { 1.0 };
    Units {
        write: blocks(size, WRITE_BLOCK) * per_block,
        read: 0.0,
    }
}

/// Write units of a write of an item of `size` bytes with sort key `sk`: [`write`], plus one
/// for the `WaitingIndex` entry that an order's `waiting` item has (index writes are billed
/// like table writes; the entry is a few dozen bytes).
pub fn write_item(size: usize, sk: &str) -> Units {
    let mut units = write(size, false);
    if sk == crate::keys::WAITING_SK {
        units += write(0, false);
    }
    units
}

/// Read units of reading one item of `size` bytes (`GetItem`, an item of `BatchGetItem` or
/// `TransactGetItems`): per 4 KB or part of it, at least one block even when the item is
/// absent (`size` 0), 0.5 unit per block for [`Read::Eventual`], 1 for [`Read::Strong`],
/// 2 for [`Read::Transactional`].
pub fn read(size: usize, consistency: Read) -> Units {
    Units {
        write: 0.0,
        read: blocks(size, READ_BLOCK) * consistency.per_block(),
    }
}

/// Read units of one page of a Query or a Scan that read items totalling `total_size` bytes
/// (the sum of their [`item_size`]s, before any filter expression): the total is rounded up
/// to the next 4 KB once, not item by item; at least one block, so an empty page costs 1
/// unit strongly consistent and 0.5 eventually consistent.
///
/// Query and Scan have no transactional mode; given [`Read::Transactional`], this prices
/// the page at 2 units per block, as [`read()`] would.
pub fn query(total_size: usize, consistency: Read) -> Units {
    read(total_size, consistency)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::primitives::Blob;
    use proptest::prelude::*;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_string())
    }

    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.to_string())
    }

    fn item(attributes: Vec<(&str, AttributeValue)>) -> Item {
        attributes
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    /// An item of exactly `size` bytes (`size` ≥ 1): a one-letter name and a binary value.
    fn item_of(size: usize) -> Item {
        item(vec![(
            "b",
            AttributeValue::B(Blob::new(vec![0u8; size - 1])),
        )])
    }

    fn writes(w: f64) -> Units {
        Units {
            write: w,
            read: 0.0,
        }
    }

    fn reads(r: f64) -> Units {
        Units {
            write: 0.0,
            read: r,
        }
    }

    #[test]
    fn size_of_a_history_like_item() {
        let it = item(vec![
            ("pk", s("order#A-1")),
            ("sk", s("item#t1")),
            ("amount", s("12.50")),
            ("seq", n("7")),
        ]);
        assert_eq!(item_size(&it), 2 + 9 + 2 + 7 + 6 + 5 + 3 + 2);
        assert_eq!(item_size(&it), 36);
    }

    #[test]
    fn empty_item_is_zero_bytes() {
        assert_eq!(item_size(&Item::new()), 0);
    }

    #[test]
    fn names_and_strings_count_utf8_bytes() {
        // "é" is 2 bytes, "€" 3.
        assert_eq!(item_size(&item(vec![("é", s("€"))])), 2 + 3);
        assert_eq!(item_size(&item(vec![("k", s(""))])), 1);
    }

    #[test]
    fn numbers_trim_leading_and_trailing_zeros() {
        assert_eq!(number_size("0"), 1);
        assert_eq!(number_size("7"), 2);
        assert_eq!(number_size("12"), 2);
        assert_eq!(number_size("123"), 3);
        assert_eq!(number_size("1234"), 3);
        assert_eq!(number_size("0007"), 2);
        assert_eq!(number_size("7000"), 2);
        assert_eq!(number_size("1200"), 2);
        assert_eq!(number_size("0012.3400"), 3); // 1234
        assert_eq!(number_size("12.50"), 3); // 125 → (3 + 1) / 2 + 1
        assert_eq!(number_size("0.005"), 2);
        assert_eq!(number_size("100.001"), 4); // 100001: 6 digits
        assert_eq!(number_size("-7"), 2);
        assert_eq!(number_size("+12345"), 4);
        assert_eq!(number_size("1.5E+10"), 2); // exponent not counted
        assert_eq!(number_size("12345678901234567890123456789012345678"), 20); // 38 digits
        assert_eq!(
            item_size(&item(vec![("seq", n("00000000000000000042"))])),
            3 + 2
        );
    }

    #[test]
    fn scalars_binary_bool_null() {
        let it = item(vec![
            ("b", AttributeValue::B(Blob::new(vec![1, 2, 3]))),
            ("t", AttributeValue::Bool(true)),
            ("z", AttributeValue::Null(true)),
        ]);
        assert_eq!(item_size(&it), (1 + 3) + (1 + 1) + (1 + 1));
    }

    #[test]
    fn sets_sum_their_elements() {
        let it = item(vec![
            ("ss", AttributeValue::Ss(vec!["a".into(), "bc".into()])),
            (
                "ns",
                AttributeValue::Ns(vec!["1".into(), "100".into(), "12345".into()]),
            ),
            (
                "bs",
                AttributeValue::Bs(vec![Blob::new(vec![0; 3]), Blob::new(vec![0; 2])]),
            ),
        ]);
        assert_eq!(item_size(&it), (2 + 1 + 2) + (2 + 2 + 2 + 4) + (2 + 3 + 2));
    }

    #[test]
    fn map_costs_three_bytes_plus_key_value_and_one_per_entry() {
        let m: HashMap<String, AttributeValue> =
            [("a".to_string(), s("x")), ("b".to_string(), n("12"))].into();
        let it = item(vec![("m", AttributeValue::M(m))]);
        // name 1 + overhead 3 + (key 1 + "x" 1 + 1) + (key 1 + N 2 + 1)
        assert_eq!(item_size(&it), 1 + 3 + 3 + 4);
    }

    #[test]
    fn list_costs_three_bytes_plus_value_and_one_per_element() {
        let l = vec![
            s("ab"),
            AttributeValue::Bool(false),
            AttributeValue::Null(true),
        ];
        let it = item(vec![("l", AttributeValue::L(l))]);
        // name 1 + overhead 3 + ("ab" 2 + 1) + (1 + 1) + (1 + 1)
        assert_eq!(item_size(&it), 1 + 3 + 3 + 2 + 2);
    }

    #[test]
    fn empty_and_nested_containers() {
        let empty = item(vec![
            ("m", AttributeValue::M(HashMap::new())),
            ("l", AttributeValue::L(vec![])),
        ]);
        assert_eq!(item_size(&empty), (1 + 3) + (1 + 3));

        let inner: HashMap<String, AttributeValue> = [("k".to_string(), s("v"))].into();
        let nested = item(vec![(
            "l",
            AttributeValue::L(vec![AttributeValue::M(inner), AttributeValue::L(vec![])]),
        )]);
        // inner map: 3 + (1 + 1 + 1) = 6; empty list: 3
        // outer list: 3 + (6 + 1) + (3 + 1) = 14; plus the name
        assert_eq!(item_size(&nested), 1 + 14);
    }

    #[test]
    fn write_units_per_kilobyte() {
        assert_eq!(item_size(&item_of(1024)), 1024);
        assert_eq!(write(0, false), writes(1.0));
        assert_eq!(write(1, false), writes(1.0));
        assert_eq!(write(item_size(&item_of(1024)), false), writes(1.0));
        assert_eq!(write(item_size(&item_of(1025)), false), writes(2.0));
        assert_eq!(write(2048, false), writes(2.0));
        assert_eq!(write(400 * 1024, false), writes(400.0));
    }

    #[test]
    fn transactional_writes_cost_double() {
        assert_eq!(write(0, true), writes(2.0));
        assert_eq!(write(1024, true), writes(2.0));
        assert_eq!(write(1025, true), writes(4.0));
        assert_eq!(write(36, true).write, 2.0 * write(36, false).write);
    }

    #[test]
    fn read_units_per_four_kilobytes() {
        assert_eq!(read(item_size(&item_of(4096)), Read::Strong), reads(1.0));
        assert_eq!(read(item_size(&item_of(4097)), Read::Strong), reads(2.0));
        assert_eq!(read(4096, Read::Eventual), reads(0.5));
        assert_eq!(read(4097, Read::Eventual), reads(1.0));
        assert_eq!(read(4096, Read::Transactional), reads(2.0));
        assert_eq!(read(4097, Read::Transactional), reads(4.0));
        assert_eq!(read(10 * 1024, Read::Strong), reads(3.0)); // 10 KB → 12 KB
    }

    #[test]
    fn reading_an_absent_item_costs_a_block() {
        assert_eq!(read(0, Read::Strong), reads(1.0));
        assert_eq!(read(0, Read::Eventual), reads(0.5));
        assert_eq!(read(0, Read::Transactional), reads(2.0));
    }

    #[test]
    fn query_rounds_the_total_not_each_item() {
        // Two items of 1.5 KB and 6.5 KB: 8 KB together, 2 units, where two GetItems cost 3.
        let sizes = [1536, 6656];
        assert_eq!(query(sizes.iter().sum(), Read::Strong), reads(2.0));
        let gets = sizes.iter().fold(Units::default(), |acc, &size| {
            acc + read(size, Read::Strong)
        });
        assert_eq!(gets, reads(3.0));
        assert_eq!(query(sizes.iter().sum(), Read::Eventual), reads(1.0));
        // An empty page still costs.
        assert_eq!(query(0, Read::Strong), reads(1.0));
        assert_eq!(query(0, Read::Eventual), reads(0.5));
        assert_eq!(query(4097, Read::Eventual), reads(1.0));
    }

    #[test]
    fn units_add() {
        let mut total = write(1025, true) + read(0, Read::Eventual);
        assert_eq!(
            total,
            Units {
                write: 4.0,
                read: 0.5
            }
        );
        total += write(10, false);
        total += query(9000, Read::Strong);
        assert_eq!(
            total,
            Units {
                write: 5.0,
                read: 3.5
            }
        );
        assert_eq!(
            Units::default(),
            Units {
                write: 0.0,
                read: 0.0
            }
        );
    }

    fn consistency() -> impl Strategy<Value = Read> {
        prop_oneof![
            Just(Read::Eventual),
            Just(Read::Strong),
            Just(Read::Transactional)
        ]
    }

    proptest! {
        #[test]
        fn units_are_monotone_in_size(
            a in 0usize..2_000_000,
            b in 0usize..2_000_000,
            transactional in any::<bool>(),
            c in consistency(),
        ) {
            let (small, large) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(write(small, transactional).write <= write(large, transactional).write);
            prop_assert!(read(small, c).read <= read(large, c).read);
            prop_assert!(query(small, c).read <= query(large, c).read);
            // Never free, and never a step of less than a block.
            prop_assert!(write(small, transactional).write >= 1.0);
            prop_assert!(read(small, c).read >= 0.5);
            // One more byte costs at most one more block.
            let w = if transactional { 2.0 } else { 1.0 };
            prop_assert!(write(small + 1, transactional).write - write(small, transactional).write <= w);
        }

        #[test]
        fn adding_an_attribute_never_shrinks_an_item(
            value in "[a-zA-Z0-9é€]{0,40}",
            name in "[a-z]{1,8}",
        ) {
            let mut it = item(vec![("pk", s("order#A-1"))]);
            let before = item_size(&it);
            prop_assume!(name != "pk");
            it.insert(name.clone(), AttributeValue::S(value.clone()));
            prop_assert_eq!(item_size(&it), before + name.len() + value.len());
        }
    }
}
