//! The function's configuration, read once from the environment.

/// Where the ledger function sends and records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `TRANSACTIONS_QUEUE_URL`: the SQS FIFO queue of transactions.
    pub transactions_queue_url: String,
    /// `TABLE_NAME`: the DynamoDB table holding ledger status records.
    pub table_name: String,
    /// `LEDGER_QUEUE_URL`: the ledger queue, where a ledger that outlasts an invocation is
    /// handed on (a continuation message).
    pub ledger_queue_url: String,
}

/// A required environment variable is missing or empty.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} is not set")]
pub struct ConfigError {
    pub name: &'static str,
}

impl Config {
    /// Reads `TRANSACTIONS_QUEUE_URL`, `TABLE_NAME` and `LEDGER_QUEUE_URL`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError { name })
        };
        Ok(Self {
            transactions_queue_url: get("TRANSACTIONS_QUEUE_URL")?,
            table_name: get("TABLE_NAME")?,
            ledger_queue_url: get("LEDGER_QUEUE_URL")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_is_required() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let ok = Config::from_lookup(env(&[
            ("TRANSACTIONS_QUEUE_URL", "http://q"),
            ("TABLE_NAME", "t"),
            ("LEDGER_QUEUE_URL", "http://l"),
        ]))
        .unwrap();
        assert_eq!(ok.table_name, "t");
        assert_eq!(ok.ledger_queue_url, "http://l");
        let e = Config::from_lookup(env(&[
            ("TRANSACTIONS_QUEUE_URL", "http://q"),
            ("TABLE_NAME", "t"),
        ]))
        .unwrap_err();
        assert_eq!(e.name, "LEDGER_QUEUE_URL");
        let e = Config::from_lookup(env(&[("TRANSACTIONS_QUEUE_URL", "http://q")])).unwrap_err();
        assert_eq!(e.name, "TABLE_NAME");
        let e = Config::from_lookup(env(&[("TRANSACTIONS_QUEUE_URL", ""), ("TABLE_NAME", "t")]))
            .unwrap_err();
        assert_eq!(e.name, "TRANSACTIONS_QUEUE_URL");
    }
}
