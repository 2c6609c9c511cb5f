//! The cutoff (a local time of day in an IANA time zone) and the windows it cuts time into.
//!
//! Window `2026-12-07` holds every instant `t` with `start <= t < end`, where `end` is the
//! cutoff on 2026-12-07 local and `start` the cutoff on 2026-12-06 local: a payment exactly
//! at a cutoff belongs to the next window. Zones come from the tz database bundled into the
//! binary (never `/usr/share/zoneinfo`), so every machine computes the same windows.
//!
//! # DST
//! The cutoff on a local date is its local time resolved as jiff's "compatible"
//! disambiguation does (RFC 5545, Temporal):
//! - a time the change *skips* (02:30 Europe/Berlin on 2026-03-29) is the instant the clock
//!   would show it had it not jumped: 02:30 CET = 03:30 CEST, the gap's length later;
//! - a time the change *repeats* (02:30 on 2026-10-25) is its first occurrence (CEST); a
//!   payment at the second 02:30 belongs to the next window.
//!
//! Cutoffs never go back from one date to the next, so windows tile time with no gap or
//! overlap; a window is 23, 24 or 25 hours long around a DST change (other lengths across
//! a skipped cutoff or in zones with 30-minute changes), and in the rare zone that skips a
//! whole day (Pacific/Apia, 2011-12-30) one window is empty (`start == end`).

use jiff::civil::{Date, Time};
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A cutoff or its parts that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CutoffError {
    /// The time of day is not `HH:MM` or `HH:MM:SS` on a 24-hour clock.
    #[error("cutoff time '{value}': {reason}")]
    Time {
        /// The time as given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The bundled tz database has no zone of that name.
    #[error("unknown time zone '{name}'")]
    Zone {
        /// The zone name as given.
        name: String,
        /// The database's refusal (none for `Etc/Unknown`, which it knows but means nothing).
        #[source]
        source: Option<jiff::Error>,
    },
    /// A cutoff written as one string is not a time of day, a space, and a zone name.
    #[error(
        "cutoff '{value}': expected a time of day and a time zone, like '14:00 Europe/Berlin'"
    )]
    Format {
        /// The text as given.
        value: String,
    },
}

/// A window or an instant that cannot be computed.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    /// A window name is not a calendar date written `YYYY-MM-DD`.
    #[error("window name '{name}': {reason}")]
    Name {
        /// The name as given.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// An instant in epoch milliseconds past the last one jiff represents (9999-12-31).
    #[error("instant {ms} ms after the epoch is past the year 9999")]
    Millis {
        /// The instant as given.
        ms: u64,
    },
    /// A date or instant at the ends of the range jiff represents (years -9999 to 9999).
    #[error("{what} is out of range")]
    Range {
        /// What could not be computed, e.g. `the cutoff on 9999-12-31`.
        what: String,
        /// jiff's error.
        #[source]
        source: jiff::Error,
    },
}

/// When each day's window closes: a local time of day in an IANA time zone.
#[derive(Debug, Clone)]
pub struct Cutoff {
    time: Time,
    zone: TimeZone,
    zone_name: String,
}

impl Cutoff {
    /// The default cutoff's time of day.
    pub const DEFAULT_TIME: &'static str = "14:00";
    /// The default cutoff's zone.
    pub const DEFAULT_ZONE: &'static str = "UTC";

    /// A cutoff at `time` (`HH:MM` or `HH:MM:SS`) in the zone named `zone` (`Europe/Berlin`;
    /// any ASCII case), looked up in the bundled tz database.
    pub fn new(time: &str, zone: &str) -> Result<Self, CutoffError> {
        let time = parse_time(time)?;
        let unknown = |source| CutoffError::Zone {
            name: zone.to_owned(),
            source,
        };
        let tz = TimeZoneDatabase::bundled()
            .get(zone)
            .map_err(|e| unknown(Some(e)))?;
        if tz.is_unknown() {
            return Err(unknown(None));
        }
        let zone_name = tz.iana_name().unwrap_or(zone).to_owned();
        Ok(Self {
            time,
            zone: tz,
            zone_name,
        })
    }

    /// The local time of day.
    pub fn time(&self) -> Time {
        self.time
    }

    /// The zone's IANA name, as the database spells it (`Europe/Berlin`).
    pub fn zone_name(&self) -> &str {
        &self.zone_name
    }

    /// The zone.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The instant of the cutoff on a local date (see the module doc for DST).
    pub fn instant_on(&self, date: Date) -> Result<Timestamp, WindowError> {
        self.zone
            .to_ambiguous_timestamp(date.to_datetime(self.time))
            .compatible()
            .map_err(|source| WindowError::Range {
                what: format!("the cutoff on {date}"),
                source,
            })
    }

    /// The window the cutoff on `date` closes.
    pub fn window(&self, date: Date) -> Result<Window, WindowError> {
        let before = date.yesterday().map_err(|source| WindowError::Range {
            what: format!("the day before {date}"),
            source,
        })?;
        Ok(Window {
            date,
            start: self.instant_on(before)?,
            end: self.instant_on(date)?,
        })
    }

    /// The window named `name` (`2026-12-07`).
    pub fn window_named(&self, name: &str) -> Result<Window, WindowError> {
        self.window(parse_date(name)?)
    }

    /// The window containing `t` (never an empty one).
    pub fn window_of(&self, t: Timestamp) -> Result<Window, WindowError> {
        let step = |date: Date, next: bool| {
            let stepped = if next {
                date.tomorrow()
            } else {
                date.yesterday()
            };
            stepped.map_err(|source| WindowError::Range {
                what: format!("the window of {t}"),
                source,
            })
        };
        // The local date of `t` names its window or a neighbour (a cutoff the DST change
        // moved past midnight, a skipped day); cutoffs never decrease, so walk to it.
        let mut date = self.zone.to_datetime(t).date();
        while t < self.instant_on(step(date, false)?)? {
            date = step(date, false)?;
        }
        while t >= self.instant_on(date)? {
            date = step(date, true)?;
        }
        self.window(date)
    }

    /// The window containing the instant `ms` milliseconds after the Unix epoch (UTC).
    pub fn window_of_millis(&self, ms: u64) -> Result<Window, WindowError> {
        self.window_of(timestamp_of_millis(ms)?)
    }

    /// The latest window that has settled at `now`: whose `end + settle <= now`.
    pub fn latest_closed(&self, now: Timestamp, settle: Duration) -> Result<Window, WindowError> {
        let edge = now
            .checked_sub(settle)
            .map_err(|source| WindowError::Range {
                what: format!("{now} minus {settle:?}"),
                source,
            })?;
        // The window containing `edge` ends after it; the one before ends where it starts.
        let open = self.window_of(edge)?;
        let before = open.date.yesterday().map_err(|source| WindowError::Range {
            what: format!("the day before {}", open.date),
            source,
        })?;
        self.window(before)
    }
}

/// 14:00 UTC.
impl Default for Cutoff {
    fn default() -> Self {
        Self {
            time: jiff::civil::time(14, 0, 0, 0),
            zone: TimeZone::UTC,
            zone_name: Self::DEFAULT_ZONE.to_owned(),
        }
    }
}

/// Equal when the time and the zone's name are.
impl PartialEq for Cutoff {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.zone_name == other.zone_name
    }
}

impl Eq for Cutoff {}

/// `14:00 Europe/Berlin` (`14:00:30 Europe/Berlin` when the seconds are not zero).
impl fmt::Display for Cutoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.time;
        write!(f, "{:02}:{:02}", t.hour(), t.minute())?;
        if t.second() != 0 {
            write!(f, ":{:02}", t.second())?;
        }
        write!(f, " {}", self.zone_name)
    }
}

/// Parses the [`Display`](fmt::Display) form: `14:00 Europe/Berlin`.
impl FromStr for Cutoff {
    type Err = CutoffError;
    fn from_str(s: &str) -> Result<Self, CutoffError> {
        match s.split_once(' ') {
            Some((time, zone)) if !zone.is_empty() => Self::new(time, zone),
            _ => Err(CutoffError::Format {
                value: s.to_owned(),
            }),
        }
    }
}

impl serde::Serialize for Cutoff {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cutoff {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The instants `start <= t < end` between the cutoffs on the day before `date` and on
/// `date`; named by `date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    date: Date,
    start: Timestamp,
    end: Timestamp,
}

impl Window {
    /// The local date of the cutoff that closes the window.
    pub fn date(&self) -> Date {
        self.date
    }

    /// The first instant in the window (the previous cutoff).
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The first instant after the window (its cutoff).
    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// The window's name: its date, `2026-12-07`.
    pub fn name(&self) -> String {
        self.date.to_string()
    }

    /// Whether `t` is in the window.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }

    /// How long the window is (`end - start`).
    pub fn length(&self) -> SignedDuration {
        self.end.duration_since(self.start)
    }

    /// The window from `start` instead (at most its end): where the previous day's batch,
    /// written under another cutoff, ended, so that a change of the cutoff leaves no
    /// instant in two batches or in none.
    pub fn continuing_from(self, start: Timestamp) -> Window {
        Window {
            start: start.min(self.end),
            ..self
        }
    }

    /// The window up to `end` instead (at least its start): where the next day's batch,
    /// written first under another cutoff, began.
    pub fn ending_at(self, end: Timestamp) -> Window {
        Window {
            end: end.max(self.start),
            ..self
        }
    }

    /// Whether the window has settled at `now`: `end + settle <= now`.
    pub fn settled(&self, now: Timestamp, settle: Duration) -> bool {
        now.checked_sub(settle).is_ok_and(|edge| self.end <= edge)
    }
}

/// The date a window name stands for: exactly `YYYY-MM-DD`.
pub fn parse_date(name: &str) -> Result<Date, WindowError> {
    let bad = |reason: String| WindowError::Name {
        name: name.to_owned(),
        reason,
    };
    let b = name.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape {
        return Err(bad("not a date written YYYY-MM-DD".to_owned()));
    }
    let num =
        |r: std::ops::Range<usize>| b[r].iter().fold(0i16, |n, d| n * 10 + i16::from(d - b'0'));
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let (Ok(month), Ok(day)) = (i8::try_from(month), i8::try_from(day)) else {
        return Err(bad("no such date".to_owned()));
    };
    Date::new(year, month, day).map_err(|e| bad(format!("no such date ({e})")))
}

/// The instant `ms` milliseconds after the Unix epoch (UTC).
pub fn timestamp_of_millis(ms: u64) -> Result<Timestamp, WindowError> {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .ok_or(WindowError::Millis { ms })
}

fn parse_time(value: &str) -> Result<Time, CutoffError> {
    let bad = |reason: String| CutoffError::Time {
        value: value.to_owned(),
        reason,
    };
    let two_digits = |p: &str| match p.as_bytes() {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => Some((a - b'0') * 10 + (b - b'0')),
        _ => None,
    };
    let parts: Option<Vec<u8>> = value.split(':').map(two_digits).collect();
    let (hour, minute, second) = match parts.as_deref() {
        Some(&[h, m]) => (h, m, 0),
        Some(&[h, m, s]) => (h, m, s),
        _ => return Err(bad("expected HH:MM or HH:MM:SS (24-hour clock)".to_owned())),
    };
    for (what, n, max) in [
        ("hour", hour, 23),
        ("minute", minute, 59),
        ("second", second, 59),
    ] {
        if n > max {
            return Err(bad(format!("{what} {n:02} is not 00 to {max}")));
        }
    }
    // All three are now within i8 and a valid time.
    let as_i8 = |n: u8| i8::try_from(n).unwrap_or(i8::MAX);
    Time::new(as_i8(hour), as_i8(minute), as_i8(second), 0).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests;
