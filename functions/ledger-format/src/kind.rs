//! Which ledger format an object key names: its extension, case-insensitive, and `.gz`.

/// How the lines of a ledger are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One JSON object per line (`.jsonl`, `.ndjson`).
    JsonLines,
    /// RFC 4180 with a header row (`.csv`).
    Csv,
}

/// The format of a ledger and whether it is gzip-compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LedgerKind {
    pub format: Format,
    pub gzip: bool,
}

/// An object key whose extension is not a ledger's: the whole object is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported ledger key {key:?}: expected .jsonl, .ndjson or .csv, optionally followed by .gz"
)]
pub struct UnsupportedKey {
    pub key: String,
}

/// The kind of ledger an object key names: `.jsonl` / `.ndjson` / `.csv`, case-insensitive,
/// optionally followed by `.gz`.
pub fn kind_of_key(key: &str) -> Result<LedgerKind, UnsupportedKey> {
    let lower = key.to_ascii_lowercase();
    let (rest, gzip) = match lower.strip_suffix(".gz") {
        Some(rest) => (rest, true),
        None => (lower.as_str(), false),
    };
    let format = if rest.ends_with(".jsonl") || rest.ends_with(".ndjson") {
        Format::JsonLines
    } else if rest.ends_with(".csv") {
        Format::Csv
    } else {
        return Err(UnsupportedKey {
            key: key.to_owned(),
        });
    };
    Ok(LedgerKind { format, gzip })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(format: Format, gzip: bool) -> LedgerKind {
        LedgerKind { format, gzip }
    }

    #[test]
    fn extensions_case_insensitive_with_optional_gz() {
        for (key, want) in [
            ("ledgers/a.jsonl", kind(Format::JsonLines, false)),
            ("ledgers/a.NDJSON", kind(Format::JsonLines, false)),
            ("ledgers/dir.x/a.JsonL.Gz", kind(Format::JsonLines, true)),
            ("ledgers/a.ndjson.gz", kind(Format::JsonLines, true)),
            ("ledgers/a.csv", kind(Format::Csv, false)),
            ("ledgers/a.CSV.GZ", kind(Format::Csv, true)),
        ] {
            assert_eq!(kind_of_key(key), Ok(want), "{key}");
        }
    }

    #[test]
    fn anything_else_is_unsupported() {
        for key in [
            "ledgers/a.json",
            "ledgers/a.txt",
            "ledgers/a.gz",
            "ledgers/a.csv.gz.gz",
            "ledgers/a.csv.zip",
            "ledgers/a.jsonl.bak",
            "ledgers/a",
            "ledgers/csv",
            "",
        ] {
            let e = kind_of_key(key).unwrap_err();
            assert_eq!(e.key, key);
            assert!(e.to_string().contains("unsupported"), "{e}");
        }
    }
}
