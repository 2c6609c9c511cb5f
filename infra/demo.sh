#!/usr/bin/env bash
# The main job: one ledger through the whole pipeline on this machine, without Docker.
#
# Usage: infra/demo.sh [LEDGER] [--expect ORDERS.jsonl] [--timeout SECONDS]
#        (LEDGER defaults to infra/samples/demo.jsonl; --expect compares the output with
#        expected order JSON lines, every field but `duplicates`)
#
# Installs what it needs (once, into .local/), starts LocalStack (S3, SQS, DynamoDB),
# provisions template.yaml's resources, runs the real ledger and consumer binaries behind
# Lambda's Runtime API (cargo lambda watch), plays Lambda's event source mappings, uploads
# the ledger under ledgers/, waits until its status is final and the FIFO queue is drained,
# and prints every order the ledger reached as one JSON line on stdout. Progress, the
# ledger's status and the rejects report go to stderr.
# It stops what it started (LocalStack stays up if it was already running).
set -euo pipefail

# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CONVOY_LOG_TAG=demo

LEDGER="$CONVOY_INFRA/samples/demo.jsonl"
if [[ $# -gt 0 && "$1" != --* ]]; then
  LEDGER="$1"
  shift
fi
[[ -f "$LEDGER" ]] || die "no such ledger file: $LEDGER"
LEDGER="$(cd "$(dirname "$LEDGER")" && pwd -P)/$(basename "$LEDGER")"
cd "$CONVOY_REPO"

bash infra/install.sh
started_localstack=0
if ! bash infra/localstack.sh status >/dev/null 2>&1; then
  bash infra/localstack.sh start
  started_localstack=1
fi
cleanup() {
  bash infra/lambdas.sh stop || true
  if [[ "$started_localstack" == 1 ]]; then
    bash infra/localstack.sh stop || true
  fi
}
trap cleanup EXIT

bash infra/provision.sh
bash infra/lambdas.sh start # builds every binary, the driver convoy-local among them

convoy_local demo "$LEDGER" \
  --lambda-endpoint "http://127.0.0.1:${CONVOY_LAMBDA_PORT:-9000}" --timeout "${CONVOY_DEMO_TIMEOUT:-600}" "$@"
