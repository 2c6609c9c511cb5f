use super::*;

fn emulator() -> Emulator {
    Emulator {
        endpoint_url: "http://127.0.0.1:4566".into(),
        region: "us-east-1".into(),
    }
}

const AT: Option<&str> = Some("http://127.0.0.1:4566");

/// The outputs as DescribeStacks reports them for the stack of template.yaml.
fn outputs() -> HashMap<String, String> {
    let q = "http://127.0.0.1:4566/000000000000";
    let arn = "arn:aws:sqs:us-east-1:000000000000";
    [
        (
            "BucketName",
            "ledger-convoy-ledgers-000000000000".to_owned(),
        ),
        ("LedgerQueueUrl", format!("{q}/ledger-convoy-ledgers")),
        ("LedgerQueueArn", format!("{arn}:ledger-convoy-ledgers")),
        (
            "LedgerDeadLetterQueueUrl",
            format!("{q}/ledger-convoy-ledgers-dlq"),
        ),
        (
            "TransactionsQueueUrl",
            format!("{q}/ledger-convoy-transactions.fifo"),
        ),
        (
            "TransactionsQueueArn",
            format!("{arn}:ledger-convoy-transactions.fifo"),
        ),
        (
            "TransactionsDeadLetterQueueUrl",
            format!("{q}/ledger-convoy-transactions-dlq.fifo"),
        ),
        ("TableName", "ledger-convoy-orders".to_owned()),
        ("LedgerFunctionArn", "-".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn batch_config(s: &Stack) -> [&str; 4] {
    let b = &s.batch;
    [
        &b.cutoff_time,
        &b.cutoff_time_zone,
        &b.settle_seconds,
        &b.consumer_timeout_seconds,
    ]
    .map(String::as_str)
}

#[test]
fn outputs_map_to_the_stack() {
    let s = Stack::from_outputs("ledger-convoy", AT, "us-east-1", &outputs()).unwrap();
    assert_eq!(s.name, "ledger-convoy");
    assert_eq!(s.bucket, "ledger-convoy-ledgers-000000000000");
    assert_eq!(
        s.ledger_queue_url,
        "http://127.0.0.1:4566/000000000000/ledger-convoy-ledgers"
    );
    assert_eq!(
        s.ledger_dlq_url,
        "http://127.0.0.1:4566/000000000000/ledger-convoy-ledgers-dlq"
    );
    assert_eq!(
        s.transactions_queue_arn,
        "arn:aws:sqs:us-east-1:000000000000:ledger-convoy-transactions.fifo"
    );
    assert_eq!(
        s.transactions_dlq_url,
        "http://127.0.0.1:4566/000000000000/ledger-convoy-transactions-dlq.fifo"
    );
    assert_eq!(s.table_name, "ledger-convoy-orders");
    // A stack older than the cutoff outputs: the defaults.
    let defaults = ["14:00", "UTC", "960", "900"];
    assert_eq!(batch_config(&s), defaults);
    let mut o = outputs();
    for (k, v) in [
        ("CutoffTime", "17:30"),
        ("CutoffTimeZone", "Europe/Berlin"),
        ("BatchSettleSeconds", "1200"),
        ("ConsumerTimeoutSeconds", "600"),
    ] {
        o.insert(k.into(), v.into());
    }
    let s = Stack::from_outputs("ledger-convoy", AT, "us-east-1", &o).unwrap();
    assert_eq!(batch_config(&s), ["17:30", "Europe/Berlin", "1200", "600"]);
    assert_eq!(
        (s.endpoint_url.as_deref(), s.region.as_str()),
        (AT, "us-east-1")
    );
}

#[test]
fn a_missing_output_is_named() {
    let mut o = outputs();
    o.remove("TableName");
    let e = Stack::from_outputs("s", AT, "us-east-1", &o).unwrap_err();
    assert_eq!(
        e.to_string(),
        "stack s has no output TableName: it is not a ledger convoy stack, or an older one (deploy template.yaml again)"
    );
}

#[test]
fn a_queue_elsewhere_is_refused() {
    let mut o = outputs();
    o.insert(
        "TransactionsQueueUrl".into(),
        "https://sqs.us-east-1.amazonaws.com/1/q.fifo".into(),
    );
    let e = Stack::from_outputs("s", AT, "us-east-1", &o).unwrap_err();
    assert!(
        matches!(
            e,
            StackError::Elsewhere {
                output: "TransactionsQueueUrl",
                ..
            }
        ),
        "{e}"
    );
    // On AWS (no endpoint) the queues are AWS's own.
    let s = Stack::from_outputs("s", None, "eu-west-1", &o).unwrap();
    assert_eq!(
        s.transactions_queue_url,
        "https://sqs.us-east-1.amazonaws.com/1/q.fifo"
    );
    assert_eq!(s.endpoint_url, None);
}

#[test]
fn not_found_says_what_to_run() {
    let e = StackError::NotFound {
        stack: "ledger-convoy".into(),
        place: format!("at {DEFAULT_ENDPOINT}"),
    };
    assert_eq!(
        e.to_string(),
        "stack ledger-convoy not found at http://127.0.0.1:4566: deploy it (sam deploy --guided; on the emulator: convoy local up), or name another with --stack"
    );
    assert!(is_missing_stack(
        "Stack with id ledger-convoy does not exist"
    ));
}

#[test]
fn emulator_from_the_environment_or_the_defaults() {
    assert_eq!(Emulator::from_vars(|_| None), emulator());
    let vars = |name: &str| match name {
        "AWS_ENDPOINT_URL" => Some("http://localhost:4567".to_owned()),
        "AWS_REGION" => Some(String::new()),
        "AWS_DEFAULT_REGION" => Some("eu-west-1".to_owned()),
        _ => None,
    };
    assert_eq!(
        Emulator::from_vars(vars),
        Emulator {
            endpoint_url: "http://localhost:4567".into(),
            region: "eu-west-1".into()
        }
    );
}

#[test]
fn shell_quoting() {
    assert_eq!(
        shell_quote("http://127.0.0.1:4566/0/q.fifo"),
        "http://127.0.0.1:4566/0/q.fifo"
    );
    assert_eq!(shell_quote(""), "''");
    assert_eq!(shell_quote("a b"), "'a b'");
    assert_eq!(shell_quote("it's"), r#"'it'"'"'s'"#);
    assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    assert_eq!(shell_quote("a\nb"), "'a\nb'");
}

#[test]
fn exports_every_variable_quoted() {
    let mut s = Stack::from_outputs("ledger-convoy", AT, "us-east-1", &outputs()).unwrap();
    s.table_name = "odd name".into();
    let text = s.exports();
    assert!(
        text.starts_with("export CONVOY_STACK_NAME=ledger-convoy\n"),
        "{text}"
    );
    assert!(
        text.contains("export CONVOY_TABLE_NAME='odd name'\n"),
        "{text}"
    );
    assert!(
        text.contains("export AWS_ENDPOINT_URL=http://127.0.0.1:4566\n"),
        "{text}"
    );
    assert!(text.contains("export AWS_ACCESS_KEY_ID=test\n"), "{text}");
    assert_eq!(text.lines().count(), 16);
    assert!(text.lines().all(|l| l.starts_with("export ")));
}
