#!/usr/bin/env bash
# Runs the real function binaries (ledger, consumer) behind Lambda's Runtime and Invoke APIs,
# so the local driver can invoke them at
# http://127.0.0.1:$CONVOY_LAMBDA_PORT/2015-03-31/functions/<name>/invocations.
#
# `cargo lambda watch --only-lambda-apis` serves the two APIs; the binaries are built here
# once and run unchanged, each instance a Lambda execution environment polling
# $AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next, as in AWS. (Letting
# cargo lambda build and start them would compile the dependency tree a second time.)
#
# Usage: infra/lambdas.sh start|stop|status
# The functions get the stack's settings (table, queue) from the local driver
# (`convoy local env`: the stack's CloudFormation outputs) and talk to the emulator through
# AWS_ENDPOINT_URL, as they would to AWS.
# Env: CONVOY_LAMBDA_PORT (9000), CONVOY_LAMBDA_CONCURRENCY (instances per function, 4).
set -euo pipefail

# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CONVOY_LOG_TAG=lambdas

PORT="${CONVOY_LAMBDA_PORT:-9000}"
PID_FILE="$CONVOY_LOCAL_DIR/lambdas.pid"
LOG="$CONVOY_LOCAL_DIR/lambdas.log"
CONCURRENCY="${CONVOY_LAMBDA_CONCURRENCY:-4}"
CARGO_LAMBDA="$CONVOY_TOOLS_VENV/bin/cargo-lambda"

running() { convoy_pids_alive "$PID_FILE"; }

invoke_ready() {
  # The Invoke API answers a GET with 405 once the server is up (a GET of / would wait
  # for a function).
  curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/2015-03-31/functions/ready/invocations" 2>/dev/null
}

start() {
  if running; then
    log "already running (pid $(head -n1 "$PID_FILE"))"
    return 0
  fi
  [[ -x "$CARGO_LAMBDA" ]] || die "cargo-lambda missing; run infra/install.sh"
  # Builds the binaries (as `cargo test --workspace` does) and reads the stack's outputs.
  log "building the binaries, reading the stack"
  local settings
  settings="$(convoy_cli local env)" || die "no stack to run the functions against (see above)"
  eval "$settings"
  log "starting Lambda's Runtime and Invoke APIs on 127.0.0.1:$PORT"
  : >"$LOG"
  (
    cd "$CONVOY_REPO"
    exec setsid "$CARGO_LAMBDA" lambda watch --only-lambda-apis \
      --invoke-address 127.0.0.1 --invoke-port "$PORT" --timeout 900 \
      </dev/null >>"$LOG" 2>&1
  ) &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 120); do
    invoke_ready && break
    running || { tail -n 30 "$LOG" >&2; die "cargo lambda watch exited"; }
    sleep 0.5
  done
  invoke_ready || { tail -n 30 "$LOG" >&2; die "cargo lambda watch did not answer on port $PORT"; }
  local fn i
  for fn in ledger consumer; do
    for i in $(seq 1 "$CONCURRENCY"); do
      # An instance whose runtime exits is started again, as Lambda replaces an execution
      # environment whose runtime dies (cargo lambda's Runtime API answers a long-idle
      # `next` without a request id, and lambda_runtime panics on that).
      (
        while :; do
          rc=0
          env -i PATH="$PATH" HOME="${HOME:-/root}" \
            AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$PORT/.rt/$fn" \
            AWS_LAMBDA_FUNCTION_NAME="$fn" AWS_LAMBDA_FUNCTION_VERSION='$LATEST' \
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 AWS_LAMBDA_LOG_STREAM_NAME="local/$fn/$i" \
            AWS_ENDPOINT_URL="$CONVOY_ENDPOINT_URL" AWS_REGION="$CONVOY_REGION" \
            AWS_DEFAULT_REGION="$CONVOY_REGION" \
            AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
            TABLE_NAME="$CONVOY_TABLE_NAME" TRANSACTIONS_QUEUE_URL="$CONVOY_TRANSACTIONS_QUEUE_URL" \
            LEDGER_QUEUE_URL="$CONVOY_LEDGER_QUEUE_URL" \
            METRICS_NAMESPACE="LedgerConvoy/local" \
            RUST_LOG="${RUST_LOG:-info}" \
            "$CONVOY_REPO/target/debug/$fn" || rc=$?
          echo "[lambdas] $fn instance $i exited with status $rc; starting it again"
          sleep 1
        done
      ) </dev/null >>"$LOG" 2>&1 &
      echo $! >>"$PID_FILE"
    done
  done
  sleep 0.5
  while read -r pid; do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$LOG" >&2; die "a function instance exited at start"; }
  done <"$PID_FILE"
  log "ready: ledger and consumer, $CONCURRENCY instances each (log ${LOG#"$CONVOY_REPO"/})"
}

stop() {
  convoy_stop_pids "$PID_FILE"
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
