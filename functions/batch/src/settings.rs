//! The batch function's configuration, from its environment, checked at start.

use crate::window::{Cutoff, CutoffError};
use std::time::Duration;

/// The cutoff and how long after it a window is settled.
#[derive(Debug, Clone)]
pub struct Settings {
    pub cutoff: Cutoff,
    /// How long after a cutoff its window is written: at least the consumer's timeout, so
    /// every payment applied before the cutoff has committed (or never will).
    pub settle: Duration,
}

/// A configuration the function refuses to start with.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Cutoff(#[from] CutoffError),
    #[error("{name} = '{value}': not a whole number of seconds")]
    Seconds { name: &'static str, value: String },
    #[error(
        "SETTLE_SECONDS = {settle}: less than the consumer's timeout ({consumer} s); a \
         payment applied just before the cutoff could commit after its window was written"
    )]
    SettleTooShort { settle: u64, consumer: u64 },
}

impl Settings {
    /// From the values of `CUTOFF_TIME`, `CUTOFF_TIME_ZONE`, `SETTLE_SECONDS` and
    /// `CONSUMER_TIMEOUT_SECONDS`.
    pub fn from_values(
        time: &str,
        zone: &str,
        settle: &str,
        consumer_timeout: &str,
    ) -> Result<Self, SettingsError> {
        let seconds = |name, value: &str| {
            value.parse::<u64>().map_err(|_| SettingsError::Seconds {
                name,
                value: value.to_owned(),
            })
        };
        let settle = seconds("SETTLE_SECONDS", settle)?;
        let consumer = seconds("CONSUMER_TIMEOUT_SECONDS", consumer_timeout)?;
        if settle < consumer {
            return Err(SettingsError::SettleTooShort { settle, consumer });
        }
        Ok(Settings {
            cutoff: Cutoff::new(time, zone)?,
            settle: Duration::from_secs(settle),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let s = Settings::from_values("14:00", "Europe/Berlin", "960", "900").unwrap();
        assert_eq!(s.cutoff.to_string(), "14:00 Europe/Berlin");
        assert_eq!(s.settle, Duration::from_secs(960));
        let e = Settings::from_values("14:00", "UTC", "60", "900").unwrap_err();
        assert!(
            e.to_string().starts_with("SETTLE_SECONDS = 60: less than"),
            "{e}"
        );
        let e = Settings::from_values("14:00", "UTC", "1m", "900").unwrap_err();
        assert_eq!(
            e.to_string(),
            "SETTLE_SECONDS = '1m': not a whole number of seconds"
        );
        assert!(Settings::from_values("14:00", "Mars/Base", "960", "900").is_err());
    }
}
