use super::*;
use proptest::prelude::*;

/// Two orders of window 2026-12-07 (14:00 Europe/Berlin), as written in a batch file.
const ORDERS: &str = concat!(
    r#"{"order_id":"A-1","receipt":1042,"paid_at":"2026-12-07T12:59:59.123Z","currency":"EUR","total":"27.50","items":{"t1":"12.50","t2":"15.00"}}"#,
    "\n",
    r#"{"order_id":"B-7","receipt":1050,"paid_at":"2026-12-07T12:59:59.999Z","currency":"USD","total":"5.00","items":{"t1":"5.00"}}"#,
    "\n",
);

/// `ORDERS`' checksum, from `sha256sum`.
const ORDERS_SHA256: &str = "5e55178d749c8fe863f20e534c5ee049aba494a05f02783581692096b9f2deb6";

fn cutoff() -> Cutoff {
    Cutoff::new("14:00", "Europe/Berlin").unwrap()
}

fn window() -> Window {
    cutoff().window_named("2026-12-07").unwrap()
}

fn orders(jsonl: &str) -> Vec<BatchOrder> {
    jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn golden() -> String {
    let header = format!(
        concat!(
            r#"{{"batch_id":"2026-12-07/{}","window":"2026-12-07","#,
            r#""start":"2026-12-06T13:00:00.000Z","end":"2026-12-07T13:00:00.000Z","#,
            r#""cutoff":"14:00 Europe/Berlin","count":2,"checksum":"sha256:{}"}}"#,
        ),
        &ORDERS_SHA256[..16],
        ORDERS_SHA256
    );
    format!("{header}\n{ORDERS}")
}

/// A file with `body` after a header that matches it (count and checksum).
fn file_with_body(body: &str, count: usize) -> Vec<u8> {
    let checksum = checksum_of(body.as_bytes());
    let w = window();
    let header = HeaderLine {
        batch_id: batch_id(w.date(), &checksum),
        window: w.name(),
        start: format_timestamp(w.start()),
        end: format_timestamp(w.end()),
        cutoff: cutoff().to_string(),
        count: count as u64,
        checksum,
    };
    let mut out = serde_json::to_vec(&header).unwrap();
    out.push(b'\n');
    out.extend_from_slice(body.as_bytes());
    out
}

fn parse_error(bytes: &[u8]) -> String {
    parse(bytes).unwrap_err().to_string()
}

#[test]
fn renders_the_golden_bytes() {
    let bytes = render(&cutoff(), &window(), &orders(ORDERS)).unwrap();
    assert_eq!(String::from_utf8(bytes).unwrap(), golden());
}

#[test]
fn parses_the_golden_file() {
    let (header, parsed) = parse(golden().as_bytes()).unwrap();
    assert_eq!(parsed, orders(ORDERS));
    assert_eq!(parsed[0].paid_at_ms, 1_796_648_399_123);
    assert_eq!(parsed[0].total.to_string(), "27.50");
    assert_eq!(header.batch_id(), "2026-12-07/5e55178d749c8fe8");
    assert_eq!(header.window(), window().date());
    assert_eq!(
        (header.start(), header.end()),
        (window().start(), window().end())
    );
    assert_eq!(header.cutoff(), &cutoff());
    assert_eq!(header.count(), 2);
    assert_eq!(header.checksum(), format!("sha256:{ORDERS_SHA256}"));
    // The CLI reads the first KiB to list batches.
    let file = golden();
    let first_kib = &file.as_bytes()[..HEADER_MAX_BYTES.min(file.len())];
    assert_eq!(parse_header(first_kib).unwrap(), header);
    let first_line = golden().lines().next().unwrap().to_owned();
    assert_eq!(parse_header(first_line.as_bytes()).unwrap(), header);
}

#[test]
fn an_empty_window_is_a_header_alone() {
    let bytes = render(&cutoff(), &window(), &[]).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(text.matches('\n').count(), 1);
    assert!(text.ends_with("\"count\":0,\"checksum\":\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}\n"), "{text}");
    assert!(
        text.starts_with(r#"{"batch_id":"2026-12-07/e3b0c44298fc1c14","#),
        "{text}"
    );
    let (header, parsed) = parse(&bytes).unwrap();
    assert_eq!(header.count(), 0);
    assert!(parsed.is_empty());
}

#[test]
fn the_key_names_the_window() {
    assert_eq!(key(&window()), "batches/2026-12-07.jsonl");
    assert!(key(&window()).starts_with(PREFIX));
}

#[test]
fn render_refuses_misordered_receipts() {
    let mut list = orders(ORDERS);
    list[1].receipt = 1042;
    let e = render(&cutoff(), &window(), &list).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 3: receipt 1042 after receipt 1042: receipts must strictly increase"
    );
    list.reverse();
    list[0].receipt = 1050;
    let e = render(&cutoff(), &window(), &list).unwrap_err();
    assert!(matches!(
        e,
        FileError::Misordered {
            line: 3,
            receipt: 1042,
            previous: 1050
        }
    ));
}

#[test]
fn render_refuses_a_window_more_than_a_day_from_the_cutoffs() {
    // Another cutoff's window of the date is within a day: a window that meets a batch
    // written under an earlier cutoff ([`Window::continuing_from`]).
    let utc = Cutoff::default().window_named("2026-12-07").unwrap();
    assert!(render(&cutoff(), &utc, &[]).is_ok());
    let stretched = cutoff()
        .window_named("2026-12-07")
        .unwrap()
        .continuing_from("2026-12-05T12:59:59Z".parse().unwrap());
    let e = render(&cutoff(), &stretched, &[]).unwrap_err().to_string();
    assert!(e.starts_with("window 2026-12-07 (2026-12-05T12:59:59Z to 2026-12-07T13:00:00Z) is not the window of cutoff 14:00 Europe/Berlin"), "{e}");
}

#[test]
fn parse_detects_a_changed_byte() {
    let tampered = golden().replace(r#""total":"5.00""#, r#""total":"5.01""#);
    assert_eq!(
        parse_error(tampered.as_bytes()),
        format!(
            "the header's checksum is sha256:{ORDERS_SHA256} but the lines after it hash to {}",
            checksum_of(tampered.split_once('\n').unwrap().1.as_bytes())
        )
    );
}

#[test]
fn parse_detects_a_wrong_count_and_a_lost_line() {
    let wrong = golden().replace(r#""count":2"#, r#""count":3"#);
    assert_eq!(
        parse_error(wrong.as_bytes()),
        "the header counts 3 orders but the file has 2"
    );
    let golden = golden();
    let lost = &golden[..golden.trim_end().rfind('\n').unwrap() + 1];
    assert_eq!(
        parse_error(lost.as_bytes()),
        "the header counts 2 orders but the file has 1"
    );
}

#[test]
fn parse_detects_misordered_receipts_even_with_a_matching_checksum() {
    let swapped: Vec<&str> = ORDERS.lines().rev().collect();
    let body = format!("{}\n{}\n", swapped[0], swapped[1]);
    assert_eq!(
        parse_error(&file_with_body(&body, 2)),
        "line 3: receipt 1042 after receipt 1050: receipts must strictly increase"
    );
}

#[test]
fn parse_names_the_line_and_the_fault() {
    let golden = golden();
    let cases: [(String, &str); 8] = [
        (String::new(), "line 1: the file is empty: expected a header"),
        (golden.trim_end().to_owned(), "line 3: the last line does not end with a newline (truncated file?)"),
        (format!("{golden}\n"), "line 4: empty line: expected an order"),
        (golden.replace(r#""receipt":1050,"#, ""), "line 3: not a batch order: missing field `receipt` (column "),
        (golden.replace(r#""currency":"USD""#, r#""currency":"USD","note":1"#), "line 3: not a batch order: unknown field `note`"),
        (golden.replace("12:59:59.999Z", "12:59:59Z"), "line 3: not a batch order: paid_at '2026-12-07T12:59:59Z' is not an RFC 3339 UTC time with milliseconds"),
        (golden.replace("12:59:59.999Z", "13:59:59.999+01:00"), "line 3: not a batch order: paid_at '2026-12-07T13:59:59.999+01:00' is not"),
        (golden.replacen('{', "[", 1), "line 1: not a batch header: "),
    ];
    for (text, expected) in cases {
        let e = parse_error(text.as_bytes());
        assert!(e.starts_with(expected), "{e}\n  expected: {expected}");
    }
    let body = ORDERS.replace("2026-12-07T12:59:59.123Z", "1969-12-31T23:59:59.999Z");
    let e = parse_error(&file_with_body(&body, 2));
    assert!(
        e.starts_with(
            "line 2: not a batch order: paid_at '1969-12-31T23:59:59.999Z' is before 1970"
        ),
        "{e}"
    );
}

#[test]
fn parse_header_checks_every_field() {
    let header = golden().lines().next().unwrap().to_owned();
    let cases = [
        (
            header.replace("2026-12-07/5e55", "2026-12-08/5e55"),
            "line 1: batch_id '2026-12-08/5e55178d749c8fe8' is not '2026-12-07/5e55178d749c8fe8'",
        ),
        (
            header.replace(r#""window":"2026-12-07""#, r#""window":"2026-12-32""#),
            "line 1: window name '2026-12-32': no such date",
        ),
        (
            header.replace("13:00:00.000Z\",\"cutoff", "13:00:00Z\",\"cutoff"),
            "line 1: end '2026-12-07T13:00:00Z' is not an RFC 3339",
        ),
        (
            header.replace("2026-12-06T13", "2026-12-08T13"),
            "line 1: end 2026-12-07T13:00:00.000Z is before start 2026-12-08T13:00:00.000Z",
        ),
        (
            header.replace("Europe/Berlin", "Mars/Base"),
            "line 1: unknown time zone 'Mars/Base'",
        ),
        (
            header.replace("sha256:5e", "sha256:5E"),
            "line 1: checksum 'sha256:5E55",
        ),
        (
            header.replace("sha256:", "md5:"),
            "line 1: checksum 'md5:5e55",
        ),
        (
            header.replace(r#","count":2"#, ""),
            "line 1: not a batch header: missing field `count`",
        ),
    ];
    for (text, expected) in cases {
        let e = parse_header(text.as_bytes()).unwrap_err().to_string();
        assert!(e.starts_with(expected), "{e}\n  expected: {expected}");
    }
}

fn arb_amount() -> impl Strategy<Value = Amount> {
    "-?[0-9]{1,18}(\\.[0-9]{1,4})?".prop_map(|s| Amount::parse(&s).unwrap())
}

fn arb_order() -> impl Strategy<Value = (u64, u64, String, Amount, Vec<(String, Amount)>)> {
    (
        1u64..1_000,
        0u64..253_402_300_800_000, // up to 9999-12-31T23:59:59.999Z
        "[A-Z]{3}",
        arb_amount(),
        prop::collection::vec(("[a-z0-9]{1,8}", arb_amount()), 0..4),
    )
}

proptest! {
    #[test]
    fn render_then_parse_gives_back_the_orders(list in prop::collection::vec(arb_order(), 0..20)) {
        let mut receipt = 0;
        let mut orders = Vec::new();
        for (i, (step, paid_at_ms, currency, total, items)) in list.into_iter().enumerate() {
            receipt += step;
            orders.push(BatchOrder {
                order_id: format!("O-{i}\"\\é"),
                receipt,
                paid_at_ms,
                currency,
                total,
                items: items.into_iter().collect(),
            });
        }
        let bytes = render(&cutoff(), &window(), &orders).unwrap();
        prop_assert!(bytes.ends_with(b"\n"));
        let (header, parsed) = parse(&bytes).unwrap();
        prop_assert_eq!(&parsed, &orders);
        prop_assert_eq!(header.count(), orders.len() as u64);
        prop_assert_eq!(render(&cutoff(), &window(), &parsed).unwrap(), bytes);
    }
}
