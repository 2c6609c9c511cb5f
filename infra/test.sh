#!/usr/bin/env bash
# The test command: formatting, lints, unit and property tests, then the whole pipeline
# against LocalStack on this machine (no Docker), with the real function binaries too.
#
# Usage: infra/test.sh          (CONVOY_SAM_BUILD=release: the last step builds for release)
# Installs what it needs (once, into .local/), starts a fresh LocalStack (SQS FIFO
# deduplication lasts 5 minutes, so every run starts from empty queues and tables),
# provisions template.yaml with short visibility timeouts so retries take seconds, runs
# every test of the workspace, and stops what it started.
set -euo pipefail

# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CONVOY_LOG_TAG=test
cd "$CONVOY_REPO"
SECONDS=0

step() { log "[$SECONDS s] $*"; }

# A fresh clone builds once: incremental caches would only take disk (and CI's is limited).
if [[ "${CI:-}" == true ]]; then export CARGO_INCREMENTAL=0; fi

step "installing local tools (idempotent)"
bash infra/install.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "template: sam validate --lint, cfn-lint"
SAM_CLI_TELEMETRY=0 "$CONVOY_TOOLS_VENV/bin/sam" validate --lint --template template.yaml >&2
"$CONVOY_TOOLS_VENV/bin/cfn-lint" template.yaml >&2

step "template: checkov (offline; each finding fixed or skipped in the template with a reason)"
"$CONVOY_CHECKOV_VENV/bin/checkov" --file template.yaml --framework cloudformation \
  --quiet --compact --skip-download >&2

step "building tests and binaries"
cargo test --workspace --no-run >&2

# Every test that needs the emulator finds it through the AWS environment: LocalStack's
# endpoint and dummy credentials (never real ones; no AWS config or credentials file).
convoy_emulator_env

step "starting a fresh LocalStack"
bash infra/localstack.sh stop
cleanup() {
  convoy_stop_pids "$CONVOY_LOCAL_DIR/mappings.pid" "local mappings" || true # convoy local up's
  bash infra/lambdas.sh stop || true
  bash infra/localstack.sh stop || true
}
trap cleanup EXIT
bash infra/localstack.sh start

step "provisioning template.yaml"
CONVOY_TRANSACTIONS_VISIBILITY_TIMEOUT="${CONVOY_TRANSACTIONS_VISIBILITY_TIMEOUT:-10}" \
  CONVOY_LEDGER_VISIBILITY_TIMEOUT="${CONVOY_LEDGER_VISIBILITY_TIMEOUT:-30}" \
  bash infra/provision.sh

step "starting the function binaries behind the Lambda APIs"
bash infra/lambdas.sh start
export CONVOY_LAMBDA_ENDPOINT="http://127.0.0.1:${CONVOY_LAMBDA_PORT:-9000}"

step "cargo test --workspace"
cargo test --workspace

step "the main job: the demo's sample through the real binaries, output checked"
bash infra/convoy local demo infra/samples/demo.jsonl --expect infra/samples/demo.jsonl.expected >/dev/null

step "the main job exits 1 while a message waits in a dead-letter queue"
eval "$(convoy_cli local env)"
aws=("$CONVOY_TOOLS_VENV/bin/aws" --endpoint-url "$AWS_ENDPOINT_URL" sqs --output text) # CLI v1: no AWS_ENDPOINT_URL
"${aws[@]}" send-message --queue-url "$CONVOY_TRANSACTIONS_DLQ_URL" --message-group-id ci-dead-letter \
  --message-deduplication-id "ci-$(date +%s%N)" --message-body '{"dead":"letter"}' >/dev/null
rc=0
bash infra/convoy local demo infra/samples/demo.jsonl >/dev/null || rc=$?
listed=$(convoy_cli --json dlq list --queue transactions)
"${aws[@]}" purge-queue --queue-url "$CONVOY_TRANSACTIONS_DLQ_URL"
grep -q '"group_id":"ci-dead-letter"' <<<"$listed" || die "convoy dlq list does not show the dead letter: $listed"
[[ "$rc" == 1 ]] || die "with a message in the transactions dead-letter queue the demo exited $rc, not 1"

step "the watchdog finds the demo's order waiting behind its gap"
stalled=$(convoy_cli --json orders stalled --after 0)
grep -q '"order_id":"E-1"' <<<"$stalled" || die "convoy orders stalled does not list E-1: $stalled"

step "an operator voids E-1's missing seq 4 (its line was refused): the order drains"
voided=$(convoy_cli --json order void E-1 --seq 4 --reason "refused at the ledger, never resent")
grep -q '"voided":"now","next_seq":6' <<<"$voided" || die "convoy order void: $voided"
again=$(convoy_cli --json order void E-1 --seq 4 --reason "again")
grep -q '"voided":"already"' <<<"$again" || die "convoy order void a second time: $again"
if refused=$(convoy_cli order void E-1 --seq 2 --reason "not missing" 2>&1); then
  die "voiding a processed seq succeeded: $refused"
fi
grep -q "seq 2 was processed meanwhile" <<<"$refused" || die "voiding a processed seq: $refused"

step "convoy local up (event source mappings in the background), an upload followed to done, status, down"
bash infra/convoy local up >/dev/null
bash infra/convoy local status >/dev/null || die "convoy local status: not everything runs after convoy local up"
bash infra/convoy --local upload infra/samples/demo.jsonl --key ci/local-up.jsonl --wait --timeout 300 >/dev/null ||
  die "convoy upload --wait through convoy local up's mappings did not end done"
bash infra/convoy local down
if bash infra/convoy local status >/dev/null 2>&1; then die "convoy local status: still running after convoy local down"; fi

step "sam build: every function with BuildMethod rust-cargolambda, for this machine's architecture"
case "$(uname -m)" in aarch64 | arm64) arch=arm64 ;; *) arch=x86_64 ;; esac
# A debug build by default (SAM_BUILD_MODE=debug: `cargo lambda build` without --release):
# it checks that SAM builds every function, in a fraction of the release builds' time.
# CONVOY_SAM_BUILD=release builds them as `sam build` does for a deployment.
case "${CONVOY_SAM_BUILD:-debug}" in
  debug) mode=debug ;;
  release) mode="" ;;
  *) die "CONVOY_SAM_BUILD must be debug or release" ;;
esac
# cargo-lambda finds zig through the tools venv's python (`python3 -m ziglang`).
PATH="$CONVOY_TOOLS_VENV/bin:$PATH" SAM_CLI_TELEMETRY=0 SAM_BUILD_MODE="$mode" \
  "$CONVOY_TOOLS_VENV/bin/sam" build \
  --config-env ci --template template.yaml --build-dir "$CONVOY_LOCAL_DIR/sam-build" \
  --parameter-overrides "Architecture=$arch" >&2
for fn in LedgerFunction ConsumerFunction WatchdogFunction BatchFunction; do
  [[ -x "$CONVOY_LOCAL_DIR/sam-build/$fn/bootstrap" ]] || die "sam build made no $fn/bootstrap"
done

step "done"
