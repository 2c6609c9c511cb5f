#!/usr/bin/env bash
# Provisions the stack of template.yaml on the local LocalStack (resources only:
# DeployFunctions=false) with `sam deploy`, and writes its outputs to .local/stack.env
# (shell-sourceable; read by the Rust local driver and tests).
#
# Usage: infra/provision.sh [--check] [--force]
#   --check   also verify the S3 -> ledger queue notification: an object under
#             ledgers/ notifies, one under rejects/ does not (test objects and
#             messages are cleaned up). Run it while nothing else polls the ledger
#             queue (no local driver), or that consumer gets the test message.
#   --force   run `sam deploy` even when the stack is up to date
#
# Starts LocalStack first when it is not running (infra/localstack.sh start).
# A second run with an unchanged template and parameters only re-writes stack.env.
#
# Env (defaults in brackets):
#   CONVOY_STACK_NAME [ledger-convoy]
#   CONVOY_LEDGER_VISIBILITY_TIMEOUT [60]        ledger queue visibility, seconds
#   CONVOY_TRANSACTIONS_VISIBILITY_TIMEOUT [10]  transactions queue visibility, seconds
#   CONVOY_MAX_RECEIVE_COUNT [5]                 redrive to the DLQs after this many receives
#   CONVOY_PARAMETER_OVERRIDES                   more Key=Value template parameters
set -euo pipefail

# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CONVOY_LOG_TAG=provision

check=0
force=0
for arg in "$@"; do
  case "$arg" in
  --check) check=1 ;;
  --force) force=1 ;;
  -h | --help)
    sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *) die "unknown argument: $arg (try --help)" ;;
  esac
done

STACK_NAME="${CONVOY_STACK_NAME:-ledger-convoy}"
[[ "$STACK_NAME" =~ ^[a-z][a-z0-9-]{0,25}$ ]] ||
  die "CONVOY_STACK_NAME must be lower-case letters, digits and '-', at most 26 characters (it is part of the bucket name)"
ARTIFACTS_BUCKET="${STACK_NAME}-sam-artifacts"
TEMPLATE="$CONVOY_REPO/template.yaml"
PARAMS=(
  "DeployFunctions=false"
  "LedgerQueueVisibilityTimeout=${CONVOY_LEDGER_VISIBILITY_TIMEOUT:-60}"
  "TransactionsQueueVisibilityTimeout=${CONVOY_TRANSACTIONS_VISIBILITY_TIMEOUT:-10}"
  "MaxReceiveCount=${CONVOY_MAX_RECEIVE_COUNT:-5}"
)
if [[ -n "${CONVOY_PARAMETER_OVERRIDES:-}" ]]; then
  read -r -a extra <<<"$CONVOY_PARAMETER_OVERRIDES"
  PARAMS+=("${extra[@]}")
fi

SAM="$CONVOY_TOOLS_VENV/bin/sam"
PY="$CONVOY_TOOLS_VENV/bin/python"
[[ -x "$SAM" && -x "$PY" ]] || die "tools not installed; run infra/install.sh"

start=$SECONDS
"$CONVOY_INFRA/localstack.sh" start
convoy_emulator_env
# Never read the user's AWS config/credentials for the emulator.
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

mkdir -p "$CONVOY_STAMPS"
stamp="$CONVOY_STAMPS/provision-$STACK_NAME"
key="$(printf '%s\n' "${PARAMS[@]}" | cat - "$TEMPLATE" | sha256sum | cut -c1-16)"

# Prints the stack status, or NONE. Deletes a stack that cannot be updated.
stack_state() {
  STACK_NAME="$STACK_NAME" "$PY" - <<'EOF'
import os, boto3, botocore
cf = boto3.client("cloudformation")
name = os.environ["STACK_NAME"]
try:
    status = cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
except botocore.exceptions.ClientError as e:
    if "does not exist" in str(e):
        print("NONE"); raise SystemExit
    raise
if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"):
    cf.delete_stack(StackName=name)
    cf.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    print("NONE")
else:
    print(status)
EOF
}

deployed=0
state="$(stack_state)"
if [[ $force -eq 0 && -f "$stamp" && "$(cat "$stamp")" == "$key" && "$state" =~ _COMPLETE$ && "$state" != DELETE_COMPLETE ]]; then
  log "stack $STACK_NAME is up to date ($state); skipping sam deploy"
else
  rm -f "$stamp"
  deploy_start=$SECONDS
  log "deploying stack $STACK_NAME ($state) with ${PARAMS[*]}"
  ARTIFACTS_BUCKET="$ARTIFACTS_BUCKET" "$PY" -c '
import os, boto3
s3 = boto3.client("s3")
name = os.environ["ARTIFACTS_BUCKET"]
if name not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
    s3.create_bucket(Bucket=name)
'
  deploy_log="$CONVOY_LOCAL_DIR/sam-deploy.log"
  if ! (cd "$CONVOY_REPO" && SAM_CLI_POLL_DELAY="${SAM_CLI_POLL_DELAY:-0.5}" "$SAM" deploy \
    --config-env local \
    --template-file "$TEMPLATE" \
    --stack-name "$STACK_NAME" \
    --region "$CONVOY_REGION" \
    --s3-bucket "$ARTIFACTS_BUCKET" \
    --s3-prefix "$STACK_NAME" \
    --capabilities CAPABILITY_IAM \
    --parameter-overrides "${PARAMS[@]}" \
    --no-confirm-changeset \
    --no-fail-on-empty-changeset \
    --no-progressbar \
    </dev/null >"$deploy_log" 2>&1); then
    tail -n 40 "$deploy_log" >&2
    die "sam deploy failed (full log: $deploy_log)"
  fi
  printf '%s\n' "$key" >"$stamp"
  deployed=1
  log "deployed in $((SECONDS - deploy_start)) s"
fi

# Outputs -> .local/stack.env (written atomically).
STACK_NAME="$STACK_NAME" OUT="$CONVOY_STACK_ENV" "$PY" - <<'EOF'
import os, shlex, boto3
name, out = os.environ["STACK_NAME"], os.environ["OUT"]
stack = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
o = {x["OutputKey"]: x["OutputValue"] for x in stack.get("Outputs", [])}
env = {
    "CONVOY_STACK_NAME": name,
    "CONVOY_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
    "CONVOY_REGION": os.environ["AWS_REGION"],
    "CONVOY_BUCKET": o["BucketName"],
    "CONVOY_LEDGER_QUEUE_URL": o["LedgerQueueUrl"],
    "CONVOY_LEDGER_QUEUE_ARN": o["LedgerQueueArn"],
    "CONVOY_LEDGER_DLQ_URL": o["LedgerDeadLetterQueueUrl"],
    "CONVOY_TRANSACTIONS_QUEUE_URL": o["TransactionsQueueUrl"],
    "CONVOY_TRANSACTIONS_QUEUE_ARN": o["TransactionsQueueArn"],
    "CONVOY_TRANSACTIONS_DLQ_URL": o["TransactionsDeadLetterQueueUrl"],
    "CONVOY_TABLE_NAME": o["TableName"],
}
for k in ("CONVOY_LEDGER_QUEUE_URL", "CONVOY_LEDGER_DLQ_URL",
          "CONVOY_TRANSACTIONS_QUEUE_URL", "CONVOY_TRANSACTIONS_DLQ_URL"):
    if not env[k].startswith(env["CONVOY_ENDPOINT_URL"] + "/"):
        raise SystemExit(f"{k}={env[k]} is not served at {env['CONVOY_ENDPOINT_URL']}")
aws = {
    "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
    "AWS_REGION": os.environ["AWS_REGION"],
    "AWS_DEFAULT_REGION": os.environ["AWS_REGION"],
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
}
lines = ["# Written by infra/provision.sh: outputs of the local stack. Source it: . .local/stack.env"]
lines += [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
lines += ["# The emulator (dummy credentials; never real ones)."]
lines += [f"export {k}={shlex.quote(v)}" for k, v in aws.items()]
tmp = out + ".tmp"
with open(tmp, "w") as f:
    f.write("\n".join(lines) + "\n")
os.replace(tmp, out)
EOF
log "wrote ${CONVOY_STACK_ENV#"$CONVOY_REPO"/}"

# S3 sends an s3:TestEvent message when the notification is configured. The ledger
# function ignores it, but tests expect a quiet queue: remove it after a deploy.
# With --check: an object under ledgers/ must notify, one under rejects/ must not.
# Messages that are not ours are kept invisible meanwhile and released afterwards.
ledger_queue_tool() { # drop-test-events | check
  # shellcheck source=/dev/null
  . "$CONVOY_STACK_ENV"
  "$PY" - "$1" <<'EOF'
import json, os, sys, time, uuid, boto3
mode = sys.argv[1]
s3, sqs = boto3.client("s3"), boto3.client("sqs")
bucket, queue = os.environ["CONVOY_BUCKET"], os.environ["CONVOY_LEDGER_QUEUE_URL"]
tag = uuid.uuid4().hex
notified, silent = f"ledgers/_convoy-check/{tag}.txt", f"rejects/_convoy-check/{tag}.jsonl"
others = {}

def drain(want, seconds):
    """Receives for `seconds`; deletes our messages and S3 test events; returns our keys seen."""
    seen, deadline = set(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        msgs = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   VisibilityTimeout=60).get("Messages", [])
        for m in msgs:
            body = json.loads(m["Body"])
            keys = [r["s3"]["object"]["key"] for r in body.get("Records", [])]
            ours = [k for k in keys if f"/_convoy-check/{tag}" in k]
            if ours or (body.get("Event") == "s3:TestEvent" and body.get("Bucket") == bucket):
                seen.update(ours)
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            else:
                others[m["MessageId"]] = m["ReceiptHandle"]
        if want is None and not msgs:
            break
        if want and want <= seen:
            break
    return seen

try:
    if mode == "drop-test-events":
        drain(None, 5)
    else:
        s3.put_object(Bucket=bucket, Key=silent, Body=b"{}\n")
        s3.put_object(Bucket=bucket, Key=notified, Body=b"check\n")
        seen = drain({notified}, 15)
        seen |= drain(set(), 2)  # anything late for rejects/?
        assert notified in seen, (
            f"no notification for {notified} within 15 s; note that --check needs an idle "
            "ledger queue: a local driver or function polling it takes the message first")
        assert silent not in seen, f"unexpected notification for {silent}"
finally:
    for handle in others.values():
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=0)
    if mode == "check":
        for key in (notified, silent):
            listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
            for v in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
                s3.delete_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])
EOF
}

if [[ $deployed -eq 1 ]]; then
  ledger_queue_tool drop-test-events
fi
if [[ $check -eq 1 ]]; then
  log "checking S3 notifications (ledgers/ notifies, rejects/ does not)"
  ledger_queue_tool check
  log "notification check passed"
fi
log "done in $((SECONDS - start)) s; use it with: . ${CONVOY_STACK_ENV#"$CONVOY_REPO"/}"
