use super::*;
use clap::Parser;

fn parse(argv: &str) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("convoy").chain(argv.split_whitespace()))
}

#[test]
fn the_cli_is_well_formed() {
    <Cli as clap::CommandFactory>::command().debug_assert();
}

#[test]
fn demo_arguments() {
    let Ok(Cli {
        command: Command::Local(LocalCommand::Demo { demo, .. }),
        ..
    }) = parse(
        "local demo my.jsonl --expect my.expected --timeout 30 --lambda-endpoint http://127.0.0.1:9001",
    )
    else {
        panic!("not a demo");
    };
    assert_eq!(demo.ledger(), std::path::Path::new("my.jsonl"));
    assert_eq!(
        demo.expect.as_deref(),
        Some(std::path::Path::new("my.expected"))
    );
    assert_eq!(demo.timeout, Duration::from_secs(30));
    assert_eq!(demo.lambda_endpoint, "http://127.0.0.1:9001");
}

#[test]
fn demo_defaults() {
    let Ok(Cli {
        command: Command::Local(LocalCommand::Demo { demo, .. }),
        ..
    }) = parse("local demo")
    else {
        panic!("not a demo");
    };
    assert!(demo.ledger().ends_with("infra/samples/demo.jsonl"));
    assert_eq!(demo.expect, None);
    assert_eq!(demo.timeout, Duration::from_secs(600));
    assert_eq!(demo.lambda_endpoint, "http://127.0.0.1:9000");
}

#[test]
fn global_options_go_anywhere() {
    let cli = parse("orders list --json --stack other --local --status open").unwrap();
    assert!(cli.json && cli.local);
    assert_eq!(cli.stack, "other");
    let Command::Orders(OrdersCommand::List { status }) = cli.command else {
        panic!("not orders list");
    };
    assert_eq!(status.as_deref(), Some("open"));
}

#[test]
fn bad_arguments_are_refused() {
    for argv in [
        "",
        "local demo --timeout soon",
        "local demo a.jsonl b.jsonl",
        "local env --extra",
        "orders list --status lost",
        "order void A-1 --seq x --reason r",
        "order void A-1 --reason r",
        "upload",
        "dlq redrive --body fixed.json",
        "dlq list --queue other",
        "ledger status",
        "batch show",
        "batch show not-a-date",
        "batch show 2026-02-30",
        "batch show 2026-12-07 2026-12-08",
        "batch run 2026-12-07",
        "batch run --window 07.12.2026",
        "batch list --window 2026-12-07",
    ] {
        assert!(parse(argv).is_err(), "{argv} was accepted");
    }
}

#[test]
fn dead_letter_arguments() {
    let Ok(Cli {
        command: Command::Dlq(DlqCommand::List { queue }),
        ..
    }) = parse("dlq list --queue ledger")
    else {
        panic!("not a listing");
    };
    assert_eq!(queue, Dlq::Ledger);
    let Ok(Cli {
        command:
            Command::Dlq(DlqCommand::Redrive {
                queue,
                group,
                message_id,
                body,
            }),
        ..
    }) = parse("dlq redrive --group A-1 --message-id m1 --body fixed.json")
    else {
        panic!("not a redrive");
    };
    assert_eq!(queue, Dlq::Transactions);
    assert_eq!(
        (group.as_deref(), message_id.as_deref()),
        (Some("A-1"), Some("m1"))
    );
    assert_eq!(body, Some(PathBuf::from("fixed.json")));
}

#[test]
fn health_arguments() {
    let Ok(Cli {
        command: Command::Local(LocalCommand::Health(args)),
        ..
    }) = parse("local health --services s3,sqs --wait 90 --pid 42")
    else {
        panic!("not health");
    };
    assert_eq!(args.services, ["s3", "sqs"]);
    assert_eq!((args.wait, args.pid), (90, Some(42)));
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let cli = parse(&format!("completions {shell}")).unwrap();
        let mut buf = Vec::new();
        futures::executor::block_on(cli.run(&mut buf)).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(
            text.contains("convoy") && text.contains("redrive"),
            "{shell}"
        );
    }
}

#[test]
fn batch_arguments() {
    let date = |s: &str| s.parse::<jiff::civil::Date>().unwrap();
    let Ok(Cli {
        command: Command::Batch(BatchCommand::List { prefix }),
        ..
    }) = parse("batch list --prefix 2026-12")
    else {
        panic!("not batch list");
    };
    assert_eq!(prefix, "2026-12");
    let Ok(Cli {
        command: Command::Batch(BatchCommand::Show { window }),
        json: true,
        ..
    }) = parse("batch show 2026-12-07 --json")
    else {
        panic!("not batch show --json");
    };
    assert_eq!(window, date("2026-12-07"));
    let Ok(Cli {
        command: Command::Batch(BatchCommand::Run { window }),
        ..
    }) = parse("batch run --window 2020-01-01")
    else {
        panic!("not batch run");
    };
    assert_eq!(window, Some(date("2020-01-01")));
    let Ok(Cli {
        command: Command::Batch(BatchCommand::Run { window: None }),
        ..
    }) = parse("batch run")
    else {
        panic!("not batch run of the latest window");
    };
}

#[test]
fn a_bad_window_is_a_usage_error_that_says_why() {
    let e = parse("batch show 2026-13-01").unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let text = e.to_string();
    assert!(
        text.contains("window name '2026-13-01': no such date"),
        "{text}"
    );
    let e = parse("batch run --window tomorrow").unwrap_err();
    assert!(
        e.to_string().contains("not a date written YYYY-MM-DD"),
        "{e}"
    );
}
