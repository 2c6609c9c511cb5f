use super::*;
use jiff::civil::date;
use proptest::prelude::*;

fn cutoff(time: &str, zone: &str) -> Cutoff {
    Cutoff::new(time, zone).unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn ms(n: i64) -> SignedDuration {
    SignedDuration::from_millis(n)
}

/// The name of the window holding `t`.
fn name_of(c: &Cutoff, t: Timestamp) -> String {
    c.window_of(t).unwrap().name()
}

fn hours(w: &Window) -> f64 {
    w.length().as_secs_f64() / 3600.0
}

#[test]
fn parses_and_displays_cutoffs() {
    let c = cutoff("14:00", "europe/BERLIN");
    assert_eq!(c.to_string(), "14:00 Europe/Berlin");
    assert_eq!(c.zone_name(), "Europe/Berlin");
    assert_eq!(c.time(), jiff::civil::time(14, 0, 0, 0));
    assert_eq!(cutoff("23:59:30", "UTC").to_string(), "23:59:30 UTC");
    assert_eq!(cutoff("00:00:00", "UTC").to_string(), "00:00 UTC");
    let round: Cutoff = "09:15 Asia/Kolkata".parse().unwrap();
    assert_eq!(round, cutoff("09:15", "Asia/Kolkata"));
    assert_eq!(Cutoff::default(), cutoff("14:00", "UTC"));
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(json, r#""14:00 Europe/Berlin""#);
    assert_eq!(serde_json::from_str::<Cutoff>(&json).unwrap(), c);
}

#[test]
fn refuses_bad_cutoffs_naming_the_value() {
    let message = |t: &str, z: &str| Cutoff::new(t, z).unwrap_err().to_string();
    assert_eq!(
        message("25:00", "UTC"),
        "cutoff time '25:00': hour 25 is not 00 to 23"
    );
    assert_eq!(
        message("12:60", "UTC"),
        "cutoff time '12:60': minute 60 is not 00 to 59"
    );
    assert_eq!(
        message("12:00:60", "UTC"),
        "cutoff time '12:00:60': second 60 is not 00 to 59"
    );
    for t in [
        "2pm",
        "1:00",
        "14:00:00:00",
        "",
        "14",
        "14:0",
        "+1:00",
        "14:00 ",
    ] {
        assert_eq!(
            message(t, "UTC"),
            format!("cutoff time '{t}': expected HH:MM or HH:MM:SS (24-hour clock)")
        );
    }
    assert_eq!(
        message("14:00", "Mars/Base"),
        "unknown time zone 'Mars/Base'"
    );
    assert!(matches!(
        Cutoff::new("14:00", "Mars/Base"),
        Err(CutoffError::Zone {
            source: Some(_),
            ..
        })
    ));
    assert_eq!(
        message("14:00", "Etc/Unknown"),
        "unknown time zone 'Etc/Unknown'"
    );
    assert_eq!(message("14:00", ""), "unknown time zone ''");
    assert_eq!(message("14:00", "+01:00"), "unknown time zone '+01:00'");
    for s in ["14:00", "14:00 ", "14:00Europe/Berlin"] {
        let e = s.parse::<Cutoff>().unwrap_err().to_string();
        assert!(e.starts_with(&format!("cutoff '{s}': expected")), "{e}");
    }
}

#[test]
fn the_zone_database_is_the_bundled_one() {
    // Zones resolve the same with no system database (Lambda's image has none).
    let db = TimeZoneDatabase::bundled();
    assert!(!db.is_definitively_empty());
    assert!(db.get("Australia/Lord_Howe").is_ok());
    assert_eq!(
        cutoff("14:00", "Asia/Calcutta").zone_name(),
        "Asia/Calcutta"
    );
}

#[test]
fn a_cutoff_instant_starts_the_next_window_in_utc() {
    let c = Cutoff::default();
    let cut = ts("2026-12-07T14:00:00Z");
    assert_eq!(name_of(&c, cut - ms(1)), "2026-12-07");
    assert_eq!(name_of(&c, cut - ms(1000)), "2026-12-07");
    assert_eq!(name_of(&c, cut), "2026-12-08");
    assert_eq!(name_of(&c, cut + ms(1)), "2026-12-08");
    assert_eq!(name_of(&c, cut + ms(1000)), "2026-12-08");
    let w = c.window(date(2026, 12, 7)).unwrap();
    assert_eq!(w.start(), ts("2026-12-06T14:00:00Z"));
    assert_eq!(w.end(), cut);
    assert!(w.contains(cut - ms(1)) && !w.contains(cut) && w.contains(w.start()));
    let at_ms = |t: Timestamp| c.window_of_millis(t.as_millisecond() as u64).unwrap();
    assert_eq!(at_ms(cut - ms(1)), w);
    assert_eq!(at_ms(cut).name(), "2026-12-08");
}

#[test]
fn a_cutoff_instant_starts_the_next_window_in_berlin() {
    let c = cutoff("14:00", "Europe/Berlin");
    let winter = ts("2026-12-07T13:00:00Z"); // 14:00 CET
    let summer = ts("2026-07-07T12:00:00Z"); // 14:00 CEST
    for (cut, this, next) in [
        (winter, "2026-12-07", "2026-12-08"),
        (summer, "2026-07-07", "2026-07-08"),
    ] {
        assert_eq!(name_of(&c, cut - ms(1)), this);
        assert_eq!(name_of(&c, cut - ms(1000)), this);
        assert_eq!(name_of(&c, cut), next);
        assert_eq!(name_of(&c, cut + ms(1)), next);
        assert_eq!(name_of(&c, cut + ms(1000)), next);
    }
    // Before the cutoff on a local date, the window is that date's, even before midnight
    // UTC: 2026-12-07T23:30Z is 00:30 on the 8th in Berlin.
    assert_eq!(name_of(&c, ts("2026-12-07T23:30:00Z")), "2026-12-08");
}

#[test]
fn a_skipped_cutoff_is_the_gap_length_later() {
    // Berlin skips 02:00-03:00 on 2026-03-29: 02:30 CET is 03:30 CEST, 01:30Z.
    let c = cutoff("02:30", "Europe/Berlin");
    assert_eq!(
        c.instant_on(date(2026, 3, 29)).unwrap(),
        ts("2026-03-29T01:30:00Z")
    );
    let w = c.window(date(2026, 3, 29)).unwrap();
    assert_eq!(w.start(), ts("2026-03-28T01:30:00Z"));
    assert_eq!(w.end(), ts("2026-03-29T01:30:00Z"));
    assert_eq!(hours(&w), 24.0);
    assert_eq!(hours(&c.window(date(2026, 3, 30)).unwrap()), 23.0);
    // 03:00 and 03:29 CEST come before the skipped cutoff, 03:30 CEST is it.
    assert_eq!(name_of(&c, ts("2026-03-29T01:00:00Z")), "2026-03-29");
    assert_eq!(name_of(&c, ts("2026-03-29T01:29:59.999Z")), "2026-03-29");
    assert_eq!(name_of(&c, ts("2026-03-29T01:30:00Z")), "2026-03-30");

    // New York skips 02:00-03:00 on 2026-03-08: 02:30 EST is 03:30 EDT, 07:30Z.
    let c = cutoff("02:30", "America/New_York");
    let w = c.window(date(2026, 3, 8)).unwrap();
    assert_eq!(w.start(), ts("2026-03-07T07:30:00Z"));
    assert_eq!(w.end(), ts("2026-03-08T07:30:00Z"));
    assert_eq!(c.window(date(2026, 3, 9)).unwrap().start(), w.end());
    assert_eq!(
        c.window(date(2026, 3, 9)).unwrap().end(),
        ts("2026-03-09T06:30:00Z")
    );
}

#[test]
fn a_repeated_cutoff_is_its_first_occurrence() {
    // Berlin repeats 02:00-03:00 on 2026-10-25: the first 02:30 is CEST, 00:30Z.
    let c = cutoff("02:30", "Europe/Berlin");
    let w = c.window(date(2026, 10, 25)).unwrap();
    assert_eq!(w.start(), ts("2026-10-24T00:30:00Z"));
    assert_eq!(w.end(), ts("2026-10-25T00:30:00Z"));
    let next = c.window(date(2026, 10, 26)).unwrap();
    assert_eq!(next.end(), ts("2026-10-26T01:30:00Z"));
    assert_eq!(hours(&next), 25.0);
    // The second 02:30 (CET, 01:30Z) is in the next window.
    assert_eq!(name_of(&c, ts("2026-10-25T00:29:59.999Z")), "2026-10-25");
    assert_eq!(name_of(&c, ts("2026-10-25T00:30:00Z")), "2026-10-26");
    assert_eq!(name_of(&c, ts("2026-10-25T01:30:00Z")), "2026-10-26");

    // New York repeats 01:00-02:00 on 2026-11-01: the first 01:30 is EDT, 05:30Z.
    let c = cutoff("01:30", "America/New_York");
    let w = c.window(date(2026, 11, 1)).unwrap();
    assert_eq!(w.end(), ts("2026-11-01T05:30:00Z"));
    assert_eq!(hours(&w), 24.0);
    let next = c.window(date(2026, 11, 2)).unwrap();
    assert_eq!(
        (next.start(), next.end()),
        (w.end(), ts("2026-11-02T06:30:00Z"))
    );
    assert_eq!(hours(&next), 25.0);
    assert_eq!(name_of(&c, ts("2026-11-01T06:30:00Z")), "2026-11-02");
}

#[test]
fn windows_are_23_or_25_hours_around_dst_changes() {
    let c = cutoff("14:00", "Europe/Berlin");
    let len = |y, m, d| hours(&c.window(date(y, m, d)).unwrap());
    assert_eq!(len(2026, 3, 28), 24.0);
    assert_eq!(len(2026, 3, 29), 23.0);
    assert_eq!(len(2026, 3, 30), 24.0);
    assert_eq!(len(2026, 10, 25), 25.0);
    let w = c.window(date(2026, 3, 29)).unwrap();
    assert_eq!(w.start(), ts("2026-03-28T13:00:00Z"));
    assert_eq!(w.end(), ts("2026-03-29T12:00:00Z"));
}

#[test]
fn odd_offsets_and_odd_zones() {
    // +05:30, no DST.
    let c = cutoff("14:00", "Asia/Kolkata");
    let w = c.window(date(2026, 12, 7)).unwrap();
    assert_eq!(
        (w.start(), w.end()),
        (ts("2026-12-06T08:30:00Z"), ts("2026-12-07T08:30:00Z"))
    );
    // Lord Howe: +10:30, and +11:00 from 02:00 on 2026-10-04 (02:00-02:30 skipped).
    let c = cutoff("02:15", "Australia/Lord_Howe");
    let w = c.window(date(2026, 10, 4)).unwrap();
    assert_eq!(w.end(), ts("2026-10-03T15:45:00Z")); // 02:15 +10:30 = 02:45 +11:00
    assert_eq!(hours(&w), 24.0);
    assert_eq!(hours(&c.window(date(2026, 10, 5)).unwrap()), 23.5);
    // Samoa skipped 2011-12-30: the day that never was gets a day's window, the next day
    // an empty one, which no instant falls in.
    let c = cutoff("14:00", "Pacific/Apia");
    let skipped = c.window(date(2011, 12, 30)).unwrap();
    assert_eq!(skipped.end(), ts("2011-12-31T00:00:00Z"));
    assert_eq!(hours(&skipped), 24.0);
    let empty = c.window(date(2011, 12, 31)).unwrap();
    assert_eq!(empty.start(), empty.end());
    assert_eq!(name_of(&c, empty.start()), "2012-01-01");
    assert_eq!(name_of(&c, empty.start() - ms(1)), "2011-12-30");
}

#[test]
fn cutoffs_at_midnight_and_just_before() {
    let c = cutoff("00:00", "Europe/Berlin");
    let w = c.window(date(2026, 12, 7)).unwrap();
    assert_eq!(w.end(), ts("2026-12-06T23:00:00Z"));
    assert_eq!(name_of(&c, ts("2026-12-06T22:59:59.999Z")), "2026-12-07");
    assert_eq!(name_of(&c, ts("2026-12-06T23:00:00Z")), "2026-12-08");
    let c = cutoff("23:59", "Europe/Berlin");
    assert_eq!(name_of(&c, ts("2026-12-07T22:58:59.999Z")), "2026-12-07");
    assert_eq!(name_of(&c, ts("2026-12-07T22:59:00Z")), "2026-12-08");
}

#[test]
fn latest_closed_waits_for_the_settle_time() {
    let c = Cutoff::default();
    let settle = Duration::from_secs(300);
    let cut = ts("2026-12-07T14:00:00Z");
    let settled = cut + SignedDuration::from_secs(300);
    let latest = |now| c.latest_closed(now, settle).unwrap().name();
    assert_eq!(latest(settled - ms(1)), "2026-12-06");
    assert_eq!(latest(settled), "2026-12-07");
    assert_eq!(latest(settled + ms(1)), "2026-12-07");
    assert_eq!(latest(cut), "2026-12-06");
    let w = c.window(date(2026, 12, 7)).unwrap();
    assert!(!w.settled(settled - ms(1), settle));
    assert!(w.settled(settled, settle));
    assert_eq!(c.latest_closed(cut, Duration::ZERO).unwrap(), w);
    assert!(!w.settled(cut, Duration::from_secs(u64::MAX)));
}

#[test]
fn window_names_parse_back_and_bad_ones_are_refused() {
    let c = cutoff("14:00", "Europe/Berlin");
    let w = c.window_named("2026-12-07").unwrap();
    assert_eq!(w.name(), "2026-12-07");
    assert_eq!(parse_date(&w.name()).unwrap(), w.date());
    for bad in [
        "2026-12-7",
        "2026/12/07",
        "20261207",
        "2026-12-07 ",
        "",
        "２026-12-07",
    ] {
        let e = parse_date(bad).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("window name '{bad}': not a date written YYYY-MM-DD")
        );
    }
    for bad in ["2026-02-29", "2026-13-01", "2026-00-10", "2026-12-32"] {
        let e = parse_date(bad).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("window name '{bad}': no such date")),
            "{e}"
        );
    }
}

#[test]
fn out_of_range_instants_are_errors() {
    let c = Cutoff::default();
    let e = c.window_of_millis(u64::MAX).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "instant {} ms after the epoch is past the year 9999",
            u64::MAX
        )
    );
    assert!(c.window(date(9999, 12, 31)).is_err());
    assert!(c.window_of(Timestamp::MAX).is_err());
    assert!(c.window_of(Timestamp::MIN).is_err());
}

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "America/Sao_Paulo",
];
const TIMES: &[&str] = &[
    "00:00", "00:30", "01:30", "02:30", "14:00", "23:59", "23:59:59",
];

#[test]
fn every_day_for_decades_cutoffs_never_go_back() {
    for zone in ZONES {
        for time in TIMES {
            let c = cutoff(time, zone);
            let mut day = date(2005, 1, 1);
            let mut prev = c.window(day).unwrap();
            while day < date(2031, 1, 1) {
                day = day.tomorrow().unwrap();
                let w = c.window(day).unwrap();
                assert_eq!(w.start(), prev.end(), "{c} {day}");
                assert!(w.start() <= w.end(), "{c} {day}");
                if w.start() < w.end() {
                    assert_eq!(c.window_of(w.start()).unwrap(), w, "{c} {day}");
                    assert_eq!(c.window_of(w.end() - ms(1)).unwrap(), w, "{c} {day}");
                }
                prev = w;
            }
        }
    }
}

proptest! {
    #[test]
    fn windows_tile_time(
        zone in prop::sample::select(ZONES),
        time in prop::sample::select(TIMES),
        // 2000-01-01 to 2040-01-01, to the millisecond.
        at in 946_684_800_000i64..2_208_988_800_000i64,
    ) {
        let c = cutoff(time, zone);
        let t = Timestamp::from_millisecond(at).unwrap();
        let w = c.window_of(t).unwrap();
        prop_assert!(w.start() <= t && t < w.end(), "{} {:?} {}", c, w, t);
        prop_assert_eq!(c.window(w.date()).unwrap(), w);
        prop_assert_eq!(c.window(w.date().tomorrow().unwrap()).unwrap().start(), w.end());
        prop_assert_eq!(c.window_of(w.end()).unwrap().start(), w.end());
        prop_assert_eq!(c.window_of(w.start()).unwrap(), w);
        prop_assert_eq!(c.window_of_millis(at as u64).unwrap(), w);
        prop_assert_eq!(parse_date(&w.name()).unwrap(), w.date());
        prop_assert_eq!(c.window_named(&w.name()).unwrap(), w);
        let settle = Duration::from_millis(at as u64 % 7_200_000);
        let latest = c.latest_closed(t, settle).unwrap();
        prop_assert!(latest.settled(t, settle));
        let after = c.window(latest.date().tomorrow().unwrap()).unwrap();
        prop_assert!(!after.settled(t, settle));
    }
}
