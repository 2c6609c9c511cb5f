#!/usr/bin/env bash
# Runs the real function binaries (ledger, consumer) behind Lambda's Runtime and Invoke APIs
# with `cargo lambda watch`, so the local driver can invoke them at
# http://127.0.0.1:$CONVOY_LAMBDA_PORT/2015-03-31/functions/<name>/invocations.
#
# Usage: infra/lambdas.sh start|stop|status
# The functions get the stack's settings from .local/stack.env (written by provision.sh)
# and talk to the emulator through AWS_ENDPOINT_URL, as they would to AWS.
# Env: CONVOY_LAMBDA_PORT (9000), CONVOY_LAMBDA_CONCURRENCY (4), CONVOY_LAMBDA_RELEASE=1.
set -euo pipefail

# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CONVOY_LOG_TAG=lambdas

PORT="${CONVOY_LAMBDA_PORT:-9000}"
PID_FILE="$CONVOY_LOCAL_DIR/lambdas.pid"
LOG="$CONVOY_LOCAL_DIR/lambdas.log"
ENV_FILE="$CONVOY_LOCAL_DIR/lambdas.env"
CARGO_LAMBDA="$CONVOY_TOOLS_VENV/bin/cargo-lambda"

running() {
  [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

invoke_ready() {
  # The Invoke API answers (any HTTP status) once the server is up.
  curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/" 2>/dev/null
}

start() {
  if running; then
    log "already running (pid $(cat "$PID_FILE"))"
    return 0
  fi
  [[ -x "$CARGO_LAMBDA" ]] || die "cargo-lambda missing; run infra/install.sh"
  [[ -f "$CONVOY_STACK_ENV" ]] || die "$CONVOY_STACK_ENV missing; run infra/provision.sh"
  # shellcheck disable=SC1090
  source "$CONVOY_STACK_ENV"
  cat >"$ENV_FILE" <<ENV
AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL
AWS_REGION=$AWS_REGION
AWS_DEFAULT_REGION=$AWS_DEFAULT_REGION
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
TABLE_NAME=$CONVOY_TABLE_NAME
TRANSACTIONS_QUEUE_URL=$CONVOY_TRANSACTIONS_QUEUE_URL
RUST_LOG=${RUST_LOG:-info}
ENV
  local mode=()
  [[ "${CONVOY_LAMBDA_RELEASE:-0}" == 1 ]] && mode=(--release)
  # Build first, in the foreground, so build errors show here and not in a log.
  log "building the function binaries"
  cargo build "${mode[@]}" -p ledger -p consumer --bins >&2
  log "starting cargo lambda watch on 127.0.0.1:$PORT"
  (
    cd "$CONVOY_REPO"
    PATH="$CONVOY_TOOLS_VENV/bin:$PATH" exec setsid "$CARGO_LAMBDA" lambda watch \
      --invoke-address 127.0.0.1 --invoke-port "$PORT" --ignore-changes --timeout "${CONVOY_LAMBDA_TIMEOUT:-900}" \
      --concurrency "${CONVOY_LAMBDA_CONCURRENCY:-4}" --env-file "$ENV_FILE" "${mode[@]}" \
      </dev/null >"$LOG" 2>&1
  ) &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 120); do
    if invoke_ready; then
      log "ready (pid $(cat "$PID_FILE"), log ${LOG#"$CONVOY_REPO"/})"
      return 0
    fi
    running || { tail -n 30 "$LOG" >&2; die "cargo lambda watch exited"; }
    sleep 0.5
  done
  tail -n 30 "$LOG" >&2
  die "cargo lambda watch did not answer on port $PORT"
}

stop() {
  if ! running; then
    rm -f "$PID_FILE"
    return 0
  fi
  local pid
  pid="$(cat "$PID_FILE")"
  # setsid made it a process group leader: end the watcher and the functions it runs.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) running ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
