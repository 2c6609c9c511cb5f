//! The conformance vectors of the contract (`tests/fixtures/vectors/` at the repository
//! root), the one list of them, their files compiled in (feature `testing`).

/// One vector: a ledger and what processing it alone, in file order, must give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vector {
    /// The file name, e.g. `v4-quoted.csv` (its extension is the format).
    pub name: &'static str,
    /// The ledger.
    pub ledger: &'static str,
    /// `NAME.expected`: the final JSON of every order, one per line, by `order_id`.
    pub expected: &'static str,
    /// `NAME.rejects`: the refused lines, one JSON object (`line`, `field`) per line.
    pub rejects: &'static str,
}

macro_rules! vector {
    ($name:literal) => {
        Vector {
            name: $name,
            ledger: include_str!(concat!("../../../tests/fixtures/vectors/", $name)),
            expected: include_str!(concat!(
                "../../../tests/fixtures/vectors/",
                $name,
                ".expected"
            )),
            rejects: include_str!(concat!(
                "../../../tests/fixtures/vectors/",
                $name,
                ".rejects"
            )),
        }
    };
}

/// Every vector, in file-name order.
pub static ALL: [Vector; 5] = [
    vector!("v1-interleaved.jsonl"),
    vector!("v2-reordered.jsonl"),
    vector!("v3-gap-dup-conflict.jsonl"),
    vector!("v4-quoted.csv"),
    vector!("v5-edges.jsonl"),
];

/// The vector named `name`, if there is one.
pub fn get(name: &str) -> Option<&'static Vector> {
    ALL.iter().find(|v| v.name == name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_vector_file_is_listed() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/vectors");
        let mut ledgers: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('v') && !n.ends_with(".expected") && !n.ends_with(".rejects"))
            .collect();
        ledgers.sort();
        let listed: Vec<&str> = super::ALL.iter().map(|v| v.name).collect();
        assert_eq!(ledgers, listed);
    }
}
