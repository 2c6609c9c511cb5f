//! `GroupReport`: what a group processor says about its records.

use std::collections::BTreeSet;

/// The records of a group (by index in [`Group::records`](crate::Group::records)) that
/// are *not* durably done and must be received again. The default reports none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupReport {
    failed: BTreeSet<usize>,
}

impl GroupReport {
    /// Every record of the group is done.
    pub fn done() -> Self {
        Self::default()
    }

    /// Record `index` of the group is to be received again.
    pub fn fail(&mut self, index: usize) {
        self.failed.insert(index);
    }

    /// True when record `index` is reported.
    pub fn is_failed(&self, index: usize) -> bool {
        self.failed.contains(&index)
    }

    /// The reported indexes, ascending.
    pub fn failed(&self) -> impl Iterator<Item = usize> + '_ {
        self.failed.iter().copied()
    }

    /// How many records are reported.
    pub fn len(&self) -> usize {
        self.failed.len()
    }

    /// True when no record is reported.
    pub fn is_empty(&self) -> bool {
        self.failed.is_empty()
    }
}

impl FromIterator<usize> for GroupReport {
    fn from_iter<I: IntoIterator<Item = usize>>(iter: I) -> Self {
        Self {
            failed: iter.into_iter().collect(),
        }
    }
}

impl Extend<usize> for GroupReport {
    fn extend<I: IntoIterator<Item = usize>>(&mut self, iter: I) {
        self.failed.extend(iter);
    }
}
