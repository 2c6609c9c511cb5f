//! The RFC 3339 `date-time` check for `at`: `2026-11-24T09:00:00Z`, `…09:00:00.5+02:00`.

use convoy_core::transaction::MAX_AT_FRACTION_DIGITS;

/// Checks `s` against RFC 3339 section 5.6 `date-time`, including the calendar
/// (days per month, leap years). `T` and `Z` may be lower-case, as the RFC allows;
/// seconds may be 60 (leap second); the seconds have at most [`MAX_AT_FRACTION_DIGITS`]
/// fraction digits (nanoseconds), a bound of ours: RFC 3339 sets none. Returns why not.
pub(crate) fn check_rfc3339(s: &str) -> Result<(), &'static str> {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        part.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i).is_some_and(|x| x.eq_ignore_ascii_case(&c));
    const SHAPE: &str = "is not an RFC 3339 date-time such as 2026-11-24T09:00:00Z";

    // full-date "T" partial-time: YYYY-MM-DDTHH:MM:SS
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    ) else {
        return Err(SHAPE);
    };
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return Err(SHAPE);
    }
    if !(1..=12).contains(&month) {
        return Err("has a month that is not 01 to 12");
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err("has a day that is not in its month");
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err("has a time of day out of range");
    }
    // time-secfrac: "." 1*DIGIT
    let mut i = 19;
    if at(i, b'.') {
        let n = b[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
        if n == 0 {
            return Err(SHAPE);
        }
        if n > MAX_AT_FRACTION_DIGITS {
            return Err("has more than 9 fraction digits of a second");
        }
        i += 1 + n;
    }
    // time-offset: "Z" / ("+" / "-") HH:MM
    if at(i, b'Z') {
        i += 1;
    } else if at(i, b'+') || at(i, b'-') {
        let (Some(oh), Some(om)) = (digits(i + 1..i + 3), digits(i + 4..i + 6)) else {
            return Err(SHAPE);
        };
        if !at(i + 3, b':') {
            return Err(SHAPE);
        }
        if oh > 23 || om > 59 {
            return Err("has a UTC offset out of range");
        }
        i += 6;
    } else {
        return Err("lacks a UTC offset (Z or +hh:mm)");
    }
    if i != b.len() {
        return Err(SHAPE);
    }
    Ok(())
}

fn days_in_month(year: u32, month: u32) -> u32 {
    // Gregorian leap years (written without `is_multiple_of`, newer than the MSRV).
    let leap = match (year % 4, year % 100, year % 400) {
        (_, _, 0) => true,
        (_, 0, _) => false,
        (r, _, _) => r == 0,
    };
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_rfc3339_date_times() {
        for s in [
            "2026-11-24T09:00:00Z",
            "2026-11-24T09:00:00+02:00",
            "2026-11-24T09:00:00-05:30",
            "2026-11-24T09:00:00.123456789Z",
            "2026-11-24t09:00:00z",
            "2024-02-29T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2016-12-31T23:59:60Z",
            "0001-01-01T00:00:00-00:00",
        ] {
            assert_eq!(check_rfc3339(s), Ok(()), "{s}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for s in [
            "",
            "yesterday",
            "2026-11-24",
            "2026-11-24T09:00:00",
            "2026-11-24 09:00:00Z",
            "2026-11-24T09:00Z",
            "2026-11-24T9:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-00T00:00:00Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T09:60:00Z",
            "2026-11-24T09:00:61Z",
            "2026-11-24T09:00:00.Z",
            "2026-11-24T09:00:00+0200",
            "2026-11-24T09:00:00+2:00",
            "2026-11-24T09:00:00+24:00",
            "2026-11-24T09:00:00+02:60",
            "2026-11-24T09:00:00Z ",
            " 2026-11-24T09:00:00Z",
            "2026-11-24T09:00:00ZZ",
            "+2026-11-24T09:00:00Z",
            "2026/11/24T09:00:00Z",
            "２026-11-24T09:00:00Z",
            "2026-11-24T09:00:00.1234567890Z",
        ] {
            assert!(check_rfc3339(s).is_err(), "{s}");
        }
    }

    fn offset() -> impl Strategy<Value = String> {
        (0u32..=23, 0u32..=59, any::<bool>())
            .prop_map(|(h, m, neg)| format!("{}{h:02}:{m:02}", if neg { '-' } else { '+' }))
    }

    proptest! {
        #[test]
        fn valid_components_are_accepted(
            y in 0u32..=9999, m in 1u32..=12, d in 1u32..=28,
            h in 0u32..=23, mi in 0u32..=59, s in 0u32..=60,
            frac in proptest::option::of("[0-9]{1,9}"),
            off in prop_oneof![Just("Z".to_owned()), offset()],
        ) {
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            let text = format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{off}");
            prop_assert_eq!(check_rfc3339(&text), Ok(()), "{}", text);
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = check_rfc3339(&s);
        }
    }
}
