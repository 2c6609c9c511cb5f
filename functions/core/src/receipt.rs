//! The receipt sequence: where an order's payment stands among all payments.
//!
//! An order's FIFO group orders its own transactions, never one order's against another's,
//! so "in the order the payments were applied" needs a sequence of its own. The consumer
//! takes the next number of one counter just before it commits a step that applies a `pay`,
//! and commits the receipt with the step, atomically: a committed payment has exactly one
//! receipt; a step that does not commit (a crash, a lost race) leaves a gap in the numbers,
//! never a second receipt for one payment (its redelivery is a duplicate, or takes a new
//! number). Numbers grow in the order they were taken, which is the order payments were
//! applied, up to the few milliseconds between taking a number and committing.

/// A payment's place in the receipt sequence, and when it was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Receipt {
    /// The number taken from the receipt counter (from 1, strictly growing, with gaps).
    pub number: u64,
    /// When the consumer applied the payment (epoch milliseconds, UTC).
    pub paid_at: u64,
}
