//! The header row of a CSV ledger: how many columns, and which one holds each known field.

use super::record::Fields;
use convoy_core::field::Field;

/// The most columns a header may have (so that reading one stays within bounded memory).
pub(crate) const MAX_COLUMNS: usize = 4096;

pub(super) struct Header {
    columns: usize,
    slots: [Slot; 8],
}

/// Where a known field is in a row.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Slot {
    Column(usize),
    NoColumn,
    Repeated,
}

impl Header {
    /// The header that `fields` (the first non-blank record, of `columns` fields) make.
    /// Column names are matched exactly; unknown ones are ignored.
    pub(super) fn read(fields: &Fields<'_>, columns: usize) -> Self {
        let mut header = Header {
            columns,
            slots: [Slot::NoColumn; 8],
        };
        for column in 0..columns {
            if let Some(field) = Field::from_name(fields.get(column)) {
                let slot = &mut header.slots[field as usize];
                *slot = match slot {
                    Slot::NoColumn => Slot::Column(column),
                    Slot::Column(_) | Slot::Repeated => Slot::Repeated,
                };
            }
        }
        header
    }

    pub(super) fn columns(&self) -> usize {
        self.columns
    }

    pub(super) fn slot(&self, field: Field) -> Slot {
        self.slots[field as usize]
    }
}
