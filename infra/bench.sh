#!/usr/bin/env bash
# Every benchmark of docs/BENCHMARKS.md in one run, each printing its figures (about an hour
# here, most of it builds and the 1 GB memory cases; CONVOY_BENCH_SCALE=0.1 shrinks the
# pipeline's workloads).
#
# Usage: infra/bench.sh [decoder|sequencer|units|memory|binaries|coldstart|pipeline]...
#        (default: all of them, in this order)
# The pipeline benchmark needs the emulator: it starts a fresh LocalStack (SQS FIFO
# deduplication lasts 5 minutes), provisions the stack with short visibility timeouts and
# stops it afterwards, as infra/test.sh does.
set -euo pipefail

# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CONVOY_LOG_TAG=bench
cd "$CONVOY_REPO"

all=(decoder sequencer units memory binaries coldstart pipeline)
wanted=("$@")
[[ ${#wanted[@]} -gt 0 ]] || wanted=("${all[@]}")

run() {
  case "$1" in
    decoder) cargo bench -p ledger-format --bench ledger ;;
    sequencer) cargo bench -p convoy-core --bench apply ;;
    units) cargo bench -p consumer --bench units ;;
    memory) cargo bench -p ledger --bench memory ;;
    binaries)
      cargo build --release --bin ledger --bin consumer --bin watchdog --bin batch >&2
      for b in ledger consumer watchdog batch; do
        printf '%-10s %8.1f MB (stripped, %s)\n' "$b" \
          "$(($(stat -c %s "target/release/$b") / 100000))e-1" "$(uname -m)"
      done
      ;;
    coldstart)
      cargo build --release --bin ledger --bin consumer >&2
      cargo bench -p convoy-tests --bench coldstart
      ;;
    pipeline)
      bash infra/install.sh
      convoy_emulator_env
      bash infra/localstack.sh stop
      trap 'bash infra/localstack.sh stop || true' EXIT
      bash infra/localstack.sh start
      CONVOY_TRANSACTIONS_VISIBILITY_TIMEOUT=30 CONVOY_LEDGER_VISIBILITY_TIMEOUT=120 bash infra/provision.sh
      cargo bench -p convoy-tests --bench pipeline
      ;;
    *) die "no benchmark $1 (one of: ${all[*]})" ;;
  esac
}

for b in "${wanted[@]}"; do
  log "== $b"
  run "$b"
done
