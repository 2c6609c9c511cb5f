//! Least privilege, proven: each function's role in `template.yaml` grants exactly the
//! actions its adapters call, plus a short list of grants that change an answer rather
//! than allow a call (each with its reason). A new SDK call without its grant, or a grant
//! without a call, fails the test command. Every table statement is held to key prefixes
//! of the function's own (`dynamodb:LeadingKeys`), each prefix granted by one statement, and
//! every resource is one of the template's own (never `*`). The waiting index the watchdog's role may query is the one the store's
//! code queries, keys and projection alike. No emulator needed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test file: a failed unwrap is a failed test

use std::collections::BTreeSet;
use yaml_rust2::{Yaml, YamlLoader};

const TEMPLATE: &str = include_str!("../../template.yaml");

/// One function: its resource, the source of every adapter it runs (what calls AWS), the
/// calls it makes through another function's adapter (named, with where), the grants that
/// allow no call of their own, the table key prefixes of the items it reads or writes, and
/// the partition key prefix of the index it queries, if any.
struct Function {
    resource: &'static str,
    adapters: &'static [(&'static str, &'static str)],
    shared_calls: &'static [(&'static str, &'static str)],
    without_call: &'static [(&'static str, &'static str)],
    table_prefixes: Vec<String>,
    index_prefix: Option<String>,
}

fn functions() -> [Function; 4] {
    use convoy_store::keys::{ORDER_PREFIX, RECEIPTS_PREFIX, WAITING_PREFIX};
    [
        Function {
            resource: "LedgerFunction",
            adapters: &[
                (
                    "functions/ledger/src/aws/dynamodb.rs",
                    include_str!("../../functions/ledger/src/aws/dynamodb.rs"),
                ),
                (
                    "functions/ledger/src/aws/s3.rs",
                    include_str!("../../functions/ledger/src/aws/s3.rs"),
                ),
                (
                    "functions/ledger/src/aws/sqs.rs",
                    include_str!("../../functions/ledger/src/aws/sqs.rs"),
                ),
            ],
            shared_calls: &[],
            without_call: &[("s3:GetObjectVersion", "GetObject of the event's version id")],
            table_prefixes: vec![ledger::LedgerStatus::pk_for("", "")
                .trim_end_matches('/')
                .to_owned()],
            index_prefix: None,
        },
        Function {
            resource: "ConsumerFunction",
            adapters: &[
                // The order store's calls; its reader (dynamo/reader.rs) is the operator's
                // and the batch function's.
                (
                    "functions/store/src/dynamo.rs",
                    include_str!("../../functions/store/src/dynamo.rs"),
                ),
                // The receipt counter and a paying step's transaction (log item + receipt).
                (
                    "functions/store/src/dynamo/receipts.rs",
                    include_str!("../../functions/store/src/dynamo/receipts.rs"),
                ),
                (
                    "functions/consumer/src/sqs.rs",
                    include_str!("../../functions/consumer/src/sqs.rs"),
                ),
            ],
            shared_calls: &[],
            without_call: &[(
                "dynamodb:ConditionCheckItem",
                "the seal's ConditionCheck in a paying step's TransactWriteItems",
            )],
            table_prefixes: vec![ORDER_PREFIX.to_owned(), RECEIPTS_PREFIX.to_owned()],
            index_prefix: None,
        },
        Function {
            resource: "WatchdogFunction",
            adapters: &[
                (
                    "functions/store/src/dynamo/waiting.rs",
                    include_str!("../../functions/store/src/dynamo/waiting.rs"),
                ),
                (
                    "functions/consumer/src/sqs.rs",
                    include_str!("../../functions/consumer/src/sqs.rs"),
                ),
            ],
            // The order store's reads and its conditional delete, in dynamo.rs (whose
            // commit the watchdog never calls).
            shared_calls: &[
                (
                    "dynamodb:Query",
                    "OrderStore::load of each waiting order's head",
                ),
                (
                    "dynamodb:GetItem",
                    "OrderStore::fetch of its next parked transaction",
                ),
                (
                    "dynamodb:DeleteItem",
                    "clear_waiting, through DynamoOrderStore::delete",
                ),
            ],
            without_call: &[],
            table_prefixes: vec![ORDER_PREFIX.to_owned()],
            index_prefix: Some(WAITING_PREFIX.to_owned()),
        },
        Function {
            resource: "BatchFunction",
            adapters: &[
                // The window's receipts, a query per hourly partition.
                (
                    "functions/store/src/dynamo/batch.rs",
                    include_str!("../../functions/store/src/dynamo/batch.rs"),
                ),
                // HeadObject and the conditional PutObject of a window's file.
                (
                    "functions/batch/src/s3.rs",
                    include_str!("../../functions/batch/src/s3.rs"),
                ),
            ],
            // The window's receipts and each paid order's items (read as the operator's
            // reader reads an order): the store's one paged query, in dynamo.rs.
            shared_calls: &[(
                "dynamodb:Query",
                "ReceiptReader::receipts and OrderReader::load_stored_order, through DynamoOrderStore::query_partition",
            )],
            without_call: &[(
                "s3:ListBucket",
                "HeadObject of a batch not written yet answers 404, not 403, only with it",
            )],
            table_prefixes: vec![RECEIPTS_PREFIX.to_owned(), ORDER_PREFIX.to_owned()],
            index_prefix: None,
        },
    ]
}

/// The IAM action of an SDK client call.
fn action(call: &str) -> Option<&'static str> {
    Some(match call {
        "get_item" => "dynamodb:GetItem",
        "put_item" => "dynamodb:PutItem",
        "update_item" => "dynamodb:UpdateItem",
        "delete_item" => "dynamodb:DeleteItem",
        "query" => "dynamodb:Query",
        "scan" => "dynamodb:Scan",
        "batch_get_item" => "dynamodb:BatchGetItem",
        "batch_write_item" => "dynamodb:BatchWriteItem",
        "transact_write_items" => "dynamodb:PutItem", // plus the actions it holds; none here
        "send_message" | "send_message_batch" => "sqs:SendMessage",
        "get_object" | "head_object" => "s3:GetObject",
        "put_object" => "s3:PutObject",
        "delete_object" => "s3:DeleteObject",
        "list_objects_v2" => "s3:ListBucket",
        _ => return None,
    })
}

/// What a function needs of the customer-managed key, when `KmsKeyArn` is set: SQS
/// (send, receive) and S3 (get, put) encrypt and decrypt with it on the caller's behalf.
const KMS_ACTIONS: [&str; 2] = ["kms:Decrypt", "kms:GenerateDataKey"];

/// Methods of a client that are no request.
const NOT_REQUESTS: [&str; 2] = ["clone", "config"];

/// The SDK calls of `source`: every `client.<operation>()`, across line breaks.
fn calls(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in source.match_indices("client") {
        let rest = source[at + "client".len()..].trim_start();
        let Some(rest) = rest.strip_prefix('.') else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        let request = !name.is_empty() && !NOT_REQUESTS.contains(&name.as_str());
        if request && rest[name.len()..].starts_with("()") {
            out.push(name);
        }
    }
    out
}

fn strings(y: &Yaml) -> Vec<String> {
    match y {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Array(a) => a.iter().flat_map(strings).collect(),
        other => panic!("expected a string or a list of strings, got {other:?}"),
    }
}

/// One statement of a role.
struct Statement {
    /// The condition it is under (`!If [Cond, statement, AWS::NoValue]`), if any.
    condition: Option<String>,
    effect: String,
    actions: Vec<String>,
    yaml: Yaml,
}

/// The role's statements.
fn statements(template: &Yaml, resource: &str) -> Vec<Statement> {
    let policies = &template["Resources"][resource]["Properties"]["Policies"];
    let policies = policies
        .as_vec()
        .unwrap_or_else(|| panic!("{resource}: no Policies list"));
    let mut out = Vec::new();
    for p in policies {
        let Some(statement) = p["Statement"].as_vec() else {
            panic!("{resource}: a policy that is not an inline document (a SAM policy template?): {p:?}");
        };
        for s in statement {
            let (condition, s) = match s {
                Yaml::Array(branches) => {
                    assert!(
                        branches.len() == 3 && branches[2].as_str() == Some("AWS::NoValue"),
                        "{resource}: a conditional statement other than !If [Cond, statement, !Ref AWS::NoValue]: {s:?}"
                    );
                    (branches[0].as_str().map(str::to_owned), &branches[1])
                }
                s => (None, s),
            };
            out.push(Statement {
                condition,
                effect: s["Effect"].as_str().unwrap_or_default().to_owned(),
                actions: strings(&s["Action"]),
                yaml: s.clone(),
            });
        }
    }
    out
}

#[test]
fn each_role_grants_exactly_what_its_adapters_call() {
    let docs = YamlLoader::load_from_str(TEMPLATE).unwrap();
    let template = &docs[0];
    for f in functions() {
        let mut called = BTreeSet::new();
        for (path, source) in f.adapters {
            let found = calls(source);
            assert!(!found.is_empty(), "{path}: no SDK call found");
            for call in found {
                let a = action(&call).unwrap_or_else(|| {
                    panic!("{path}: no IAM action known for client call `{call}`: add it here")
                });
                called.insert(a.to_owned());
            }
        }
        for (action, _) in f.shared_calls {
            called.insert(action.to_string());
        }
        let mut granted = BTreeSet::new();
        for s in statements(template, f.resource) {
            assert_eq!(s.effect, "Allow", "{}: {:?}", f.resource, s.yaml);
            if let Some(condition) = &s.condition {
                // Only with a customer-managed key: what S3 and SQS ask of their callers.
                assert_eq!(condition, "HasKmsKey", "{}", f.resource);
                assert_eq!(s.actions, KMS_ACTIONS, "{}", f.resource);
                assert_eq!(
                    s.yaml["Resource"].as_str(),
                    Some("KmsKeyArn"),
                    "{}",
                    f.resource
                );
                continue;
            }
            for r in strings(&s.yaml["Resource"]) {
                assert!(
                    r != "*" && !r.starts_with("arn:aws:"),
                    "{}: resource {r}: name the template's own resources",
                    f.resource
                );
            }
            for a in s.actions {
                assert!(!a.contains('*'), "{}: wildcard action {a}", f.resource);
                granted.insert(a);
            }
        }
        let extra: BTreeSet<String> = f.without_call.iter().map(|(a, _)| a.to_string()).collect();
        let needed: BTreeSet<String> = called.union(&extra).cloned().collect();
        let missing: Vec<_> = needed.difference(&granted).collect();
        let unused: Vec<_> = granted.difference(&needed).collect();
        assert!(
            missing.is_empty() && unused.is_empty(),
            "{}: called but not granted {missing:?}; granted but never called {unused:?}",
            f.resource
        );
    }
}

#[test]
fn every_table_statement_is_held_to_the_functions_own_keys() {
    let docs = YamlLoader::load_from_str(TEMPLATE).unwrap();
    let template = &docs[0];
    for f in functions() {
        let own: BTreeSet<String> = f.table_prefixes.iter().map(|p| format!("{p}*")).collect();
        assert_eq!(
            own.len(),
            f.table_prefixes.len(),
            "{}: prefixes listed twice",
            f.resource
        );
        // Which table statement grants each key prefix: one each.
        let mut granted: Vec<String> = Vec::new();
        let mut on_index = 0;
        for Statement {
            actions, yaml: s, ..
        } in statements(template, f.resource)
        {
            if !actions.iter().any(|a| a.starts_with("dynamodb:")) {
                continue;
            }
            assert!(
                actions.iter().all(|a| a.starts_with("dynamodb:")),
                "{}: one statement per service: {actions:?}",
                f.resource
            );
            let resources = strings(&s["Resource"]);
            let index = resources.iter().all(|r| r.contains("/index/"));
            assert!(
                index || resources.iter().all(|r| !r.contains("/index/")),
                "{}: a statement for the table or for an index: {resources:?}",
                f.resource
            );
            let keys = strings(&s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]);
            if index {
                assert_eq!(
                    actions,
                    ["dynamodb:Query"],
                    "{}: an index is queried",
                    f.resource
                );
                let prefix = f
                    .index_prefix
                    .as_deref()
                    .unwrap_or_else(|| panic!("{}: an index statement", f.resource));
                assert_eq!(
                    keys,
                    [format!("{prefix}*")],
                    "{}: the index statement's LeadingKeys",
                    f.resource
                );
                on_index += 1;
                continue;
            }
            assert!(
                !keys.is_empty() && keys.iter().all(|k| own.contains(k)),
                "{}: the statement's LeadingKeys {keys:?} are not among {own:?}",
                f.resource
            );
            granted.extend(keys);
        }
        granted.sort();
        assert_eq!(
            granted,
            own.iter().cloned().collect::<Vec<_>>(),
            "{}: each key prefix granted by exactly one table statement",
            f.resource
        );
        assert_eq!(
            on_index,
            usize::from(f.index_prefix.is_some()),
            "{}: its index statements",
            f.resource
        );
    }
}

#[test]
fn the_receipt_counter_is_one_of_the_receipts_keys() {
    // The consumer's `ReceiptSequence` statement (`receipts#*`) covers the counter too.
    use convoy_store::keys;
    assert!(keys::RECEIPT_COUNTER_PK.starts_with(keys::RECEIPTS_PREFIX));
    assert!(keys::receipts_pk(0).starts_with(keys::RECEIPTS_PREFIX));
}

#[test]
fn the_call_reader_finds_calls_across_lines() {
    let source = "self.client\n    .get_item()\n    .table_name(t);\nlet c = client.scan();\nclient.config();";
    assert_eq!(calls(source), ["get_item", "scan"]);
    assert!(calls("Self::new(self.client.clone(), t)").is_empty());
    assert!(action("no_such_call").is_none());
}

#[test]
fn the_waiting_index_of_the_template_is_the_one_the_store_queries() {
    use convoy_store::keys;
    let docs = YamlLoader::load_from_str(TEMPLATE).unwrap();
    let table = &docs[0]["Resources"]["OrdersTable"]["Properties"];
    let index = table["GlobalSecondaryIndexes"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|i| i["IndexName"].as_str() == Some(keys::WAITING_INDEX))
        .expect("the template declares WaitingIndex");
    let key: Vec<(String, String)> = index["KeySchema"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|k| {
            let s = |f: &str| k[f].as_str().unwrap().to_owned();
            (s("AttributeName"), s("KeyType"))
        })
        .collect();
    assert_eq!(
        key,
        [
            (keys::WAITING_SHARD.to_owned(), "HASH".to_owned()),
            (keys::WAITING_SINCE.to_owned(), "RANGE".to_owned())
        ]
    );
    assert_eq!(
        strings(&index["Projection"]["NonKeyAttributes"]),
        keys::WAITING_PROJECTION
    );
    let types: Vec<(String, String)> = table["AttributeDefinitions"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| {
            let s = |f: &str| a[f].as_str().unwrap().to_owned();
            (s("AttributeName"), s("AttributeType"))
        })
        .collect();
    assert!(types.contains(&(keys::WAITING_SHARD.to_owned(), "S".to_owned())));
    assert!(types.contains(&(keys::WAITING_SINCE.to_owned(), "N".to_owned())));
}
