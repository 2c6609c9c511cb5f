#!/usr/bin/env bash
# Provisions the stack of template.yaml on the local LocalStack (resources only:
# DeployFunctions=false) with `sam deploy`. The driver and the tests read its outputs from
# CloudFormation; for shell variables: eval "$(infra/convoy local env)".
#
# Usage: infra/provision.sh [--check] [--force]
#   --check   also verify the S3 -> ledger queue notification: an object under
#             ledgers/ notifies, one under rejects/ does not (test objects and
#             messages are cleaned up). Run it while nothing else polls the ledger
#             queue (no local driver), or that consumer gets the test message.
#   --force   run `sam deploy` even when the stack is up to date
#
# Starts LocalStack first when it is not running (infra/localstack.sh start). A second run
# with an unchanged template and parameters skips `sam deploy`. The logic is the local
# CLI's: `infra/convoy local provision --help`.
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

if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 0
fi
[[ -x "$CONVOY_TOOLS_VENV/bin/sam" ]] || die "tools not installed; run infra/install.sh"

bash "$CONVOY_INFRA/localstack.sh" start
convoy_cli local provision --sam "$CONVOY_TOOLS_VENV/bin/sam" --local-dir "$CONVOY_LOCAL_DIR" "$@"
