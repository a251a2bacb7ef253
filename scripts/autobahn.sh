#!/usr/bin/env bash
# WebSocket conformance check: runs Autobahn|Testsuite (fuzzingclient) against
# the hub's echo route /ws/echo (telemetryhub serve --conformance-echo).
#
#   scripts/autobahn.sh
#
# - The suite runs only on Python 2.7. If no Python 2.7 interpreter is found
#   (pyenv's or on PATH) the check is SKIPPED loudly and the script exits 0.
# - Tooling is built once and cached under <repo>/.build-autobahn/:
#     venv3/      Python 3 venv holding virtualenv<20.22 (last to make 2.7 envs)
#     py27/       Python 2.7 env with the suite's pinned dependencies + wstest
#     logs/       setup logs (pip, virtualenv, swift build)
#     reports/    last run: spec.json, wstest.log, hub.log, index.json, cases
# - The hub binary is $TELEMETRYHUB_BIN, else <repo>/.build/debug/telemetryhub
#   (built with `swift build` when missing; rebuild it yourself when stale).
# - Cases 12.* and 13.* (permessage-deflate) are excluded: the hub does not
#   offer compression.
# - Exit status: 0 when every case passed (or the suite was skipped), 1
#   otherwise. The last line is `autobahn: N passed, M failed`.
#
# Optional environment:
#   TELEMETRYHUB_BIN        hub binary to test
#   AUTOBAHN_PYTHON27       Python 2.7 interpreter to use
#   AUTOBAHN_PYTHON3        Python 3 interpreter for the venv and the checker
#   AUTOBAHN_TIMEOUT        seconds allowed for the whole suite (default 1800)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
TOOLS="$ROOT/.build-autobahn"
VENV3="$TOOLS/venv3"
PY27_ENV="$TOOLS/py27"
LOG_DIR="$TOOLS/logs"
REPORT_DIR="$TOOLS/reports"
STAMP="$TOOLS/py27.stamp"
SUITE_TIMEOUT="${AUTOBAHN_TIMEOUT:-1800}"

export CI="${CI:-true}"
export PIP_NO_INPUT=1
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PYTHONDONTWRITEBYTECODE=1
export VIRTUALENV_OVERRIDE_APP_DATA="$TOOLS/virtualenv-appdata"

# The suite's own pinned dependency list (installed into the 2.7 env).
PINNED=(
  "setuptools==44.0.0"
  "txaio==2.1.0"
  "incremental==16.10.1"
  "pyOpenSSL==19.1.0"
  "cryptography==3.3.2"
  "Twisted==19.10.0"
  "zope.interface==4.6.0"
  "jinja2==2.11.3"
  "markupsafe==1.1.1"
  "Werkzeug==1.0.1"
  "klein==17.10.0"
  "service_identity==18.1.0"
  "unittest2==1.1.0"
  "six==1.16.0"
  "autobahn[accelerate,twisted]==0.10.9"
)
SUITE="autobahntestsuite==25.10.1"
# Their transitive dependencies, pinned to the versions known to work on 2.7
# so that a new release on PyPI cannot change what gets installed.
CONSTRAINTS="argparse==1.4.0
attrs==21.4.0
Automat==22.10.0
cffi==1.15.1
constantly==15.1.0
enum34==1.1.10
hyperlink==21.0.0
idna==2.10
ipaddress==1.0.23
linecache2==1.0.0
pyasn1==0.5.1
pyasn1-modules==0.3.0
pycparser==2.21
PyHamcrest==1.10.1
traceback2==1.4.0
typing==3.10.0.0
ujson==2.0.3
wsaccel==0.6.6"

say() { printf 'autobahn: %s\n' "$*"; }
die() {
  printf 'autobahn: ERROR: %s\n' "$*" >&2
  exit 1
}

# Runs a command with its output appended to a log; on failure shows the tail.
run_logged() {
  local what="$1" log="$2"
  shift 2
  say "$what"
  printf '\n=== %s\n$ %s\n' "$what" "$*" >>"$log"
  if ! "$@" >>"$log" 2>&1 </dev/null; then
    printf 'autobahn: ERROR: %s failed; last lines of %s:\n' "$what" "$log" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
}

is_python27() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (2, 7) else 1)' \
    >/dev/null 2>&1 </dev/null
}

find_python27() {
  local candidates=() roots=() root c name
  [[ -n "${AUTOBAHN_PYTHON27:-}" ]] && candidates+=("$AUTOBAHN_PYTHON27")
  if command -v pyenv >/dev/null 2>&1; then
    root="$(pyenv root 2>/dev/null </dev/null || true)"
    [[ -n "$root" ]] && roots+=("$root")
  fi
  [[ -n "${PYENV_ROOT:-}" ]] && roots+=("$PYENV_ROOT")
  [[ -n "${HOME:-}" ]] && roots+=("$HOME/.pyenv")
  for root in ${roots[@]+"${roots[@]}"}; do
    for c in "$root"/versions/2.7*/bin/python2.7; do
      [[ -x "$c" ]] && candidates+=("$c")
    done
  done
  for name in python2.7 python2; do
    c="$(command -v "$name" 2>/dev/null || true)"
    [[ -n "$c" ]] && candidates+=("$c")
  done
  for c in ${candidates[@]+"${candidates[@]}"}; do
    if is_python27 "$c"; then
      printf '%s\n' "$c"
      return 0
    fi
  done
  return 1
}

# A Python 3 for the virtualenv venv and the checker; 3.7-3.11 preferred
# (virtualenv<20.22 predates 3.12).
find_python3() {
  local c path
  for c in ${AUTOBAHN_PYTHON3:-} python3.11 python3.10 python3.9 python3.8 python3.7; do
    path="$(command -v "$c" 2>/dev/null || true)"
    [[ -n "$path" ]] || continue
    if "$path" -c 'import sys; sys.exit(0 if (3, 7) <= sys.version_info[:2] < (3, 12) else 1)' \
      >/dev/null 2>&1 </dev/null; then
      printf '%s\n' "$path"
      return 0
    fi
  done
  path="$(command -v python3 2>/dev/null || true)"
  if [[ -n "$path" ]] && "$path" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 7) else 1)' \
    >/dev/null 2>&1 </dev/null; then
    printf '%s\n' "$path"
    return 0
  fi
  return 1
}

skip_loudly() {
  cat <<'EOF'

##########################################################################
##                                                                      ##
##   WEBSOCKET CONFORMANCE SUITE (Autobahn|Testsuite) WAS SKIPPED!      ##
##                                                                      ##
##   Python 2.7 is missing: no python2.7 under pyenv (pyenv root) nor   ##
##   on PATH. The suite runs only on Python 2.7, so /ws/echo was NOT    ##
##   checked for RFC 6455 conformance in this run.                      ##
##                                                                      ##
##   To run it: install a Python 2.7 (e.g. `pyenv install 2.7.18`) or   ##
##   point AUTOBAHN_PYTHON27 at one, then rerun scripts/autobahn.sh.    ##
##                                                                      ##
##########################################################################

EOF
}

START_TIME=$SECONDS

# --- 1. Python 2.7 ------------------------------------------------------------
if ! PY2="$(find_python27)"; then
  skip_loudly
  exit 0
fi
PY2_REAL="$("$PY2" -c 'import sys; print(sys.executable)' </dev/null)"
PY2_VERSION="$("$PY2" -c 'import platform; print(platform.python_version())' </dev/null)"
PY3="$(find_python3)" || die "no Python 3 (>= 3.7) found; it is needed for the tooling venv and the checker"
say "using Python $PY2_VERSION at $PY2_REAL; Python 3 at $PY3"

mkdir -p "$TOOLS" "$LOG_DIR"

# One run at a time: the tooling and the reports folder are shared.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$TOOLS/.lock"
  if ! flock -n 9; then
    say "another autobahn run holds $TOOLS/.lock; waiting for it"
    flock -w 3600 9 || die "timed out waiting for $TOOLS/.lock"
  fi
fi

# --- 2. Tooling (cached) ----------------------------------------------------------
STAMP_WANT="$(printf 'python2=%s\nversion=%s\n%s\n%s\n%s\n' \
  "$PY2_REAL" "$PY2_VERSION" "${PINNED[*]}" "$SUITE" "$CONSTRAINTS")"

tooling_works() {
  [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$STAMP_WANT" ]] || return 1
  [[ -x "$PY27_ENV/bin/wstest" ]] || return 1
  "$PY27_ENV/bin/wstest" --autobahnversion 2>/dev/null </dev/null | grep -q 'AutobahnTestSuite' || return 1
  "$PY27_ENV/bin/wstest" --help >/dev/null 2>&1 </dev/null || return 1
}

if tooling_works; then
  say "reusing cached tooling in $TOOLS"
else
  SETUP_LOG="$LOG_DIR/setup.log"
  : >"$SETUP_LOG"
  say "building tooling in $TOOLS (first run takes a minute or two; log: $SETUP_LOG)"
  rm -rf "$VENV3" "$PY27_ENV" "$STAMP"
  printf '%s\n' "$CONSTRAINTS" >"$TOOLS/constraints.txt"
  run_logged "creating Python 3 venv" "$SETUP_LOG" "$PY3" -m venv "$VENV3"
  run_logged "installing virtualenv<20.22" "$SETUP_LOG" \
    "$VENV3/bin/python" -m pip install --no-input 'virtualenv<20.22'
  run_logged "creating Python 2.7 env" "$SETUP_LOG" \
    "$VENV3/bin/python" -m virtualenv --no-periodic-update -p "$PY2_REAL" "$PY27_ENV"
  run_logged "installing the suite's pinned dependencies" "$SETUP_LOG" \
    "$PY27_ENV/bin/python" -m pip install --no-input -c "$TOOLS/constraints.txt" "${PINNED[@]}"
  run_logged "installing $SUITE" "$SETUP_LOG" \
    "$PY27_ENV/bin/python" -m pip install --no-input -c "$TOOLS/constraints.txt" "$SUITE"
  run_logged "checking wstest" "$SETUP_LOG" "$PY27_ENV/bin/wstest" --autobahnversion
  printf '%s\n' "$STAMP_WANT" >"$STAMP"
  tooling_works || die "wstest does not work after setup; see $SETUP_LOG"
  say "tooling ready ($((SECONDS - START_TIME)) s)"
fi

# --- 3. Hub binary ----------------------------------------------------------------
if [[ -n "${TELEMETRYHUB_BIN:-}" ]]; then
  HUB_BIN="$TELEMETRYHUB_BIN"
else
  HUB_BIN="$ROOT/.build/debug/telemetryhub"
  if [[ ! -x "$HUB_BIN" ]]; then
    # shellcheck disable=SC2016  # $1 expands in the inner shell
    run_logged "building telemetryhub (swift build)" "$LOG_DIR/swift-build.log" \
      bash -c 'cd "$1" && swift build --product telemetryhub' _ "$ROOT"
  fi
fi
[[ -x "$HUB_BIN" ]] || die "hub binary $HUB_BIN is missing or not executable"

# --- 4. Start the hub -------------------------------------------------------------
rm -rf "$REPORT_DIR"
mkdir -p "$REPORT_DIR"
RUN_TMP="$(mktemp -d "${TMPDIR:-/tmp}/telemetryhub-autobahn.XXXXXX")"
HUB_PID=""
WSTEST_PID=""
HUB_OUT="$REPORT_DIR/hub.stdout.log"
HUB_ERR="$REPORT_DIR/hub.stderr.log"

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  if [[ -n "$WSTEST_PID" ]] && kill -0 "$WSTEST_PID" 2>/dev/null; then
    kill -TERM "$WSTEST_PID" 2>/dev/null || true
    wait "$WSTEST_PID" 2>/dev/null || true
  fi
  if [[ -n "$HUB_PID" ]] && kill -0 "$HUB_PID" 2>/dev/null; then
    kill -TERM "$HUB_PID" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$HUB_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$HUB_PID" 2>/dev/null; then
      kill -KILL "$HUB_PID" 2>/dev/null || true
    fi
    wait "$HUB_PID" 2>/dev/null || true
  fi
  rm -rf "$RUN_TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$RUN_TMP/data"
printf '{"limits": {"max_frame_bytes": 20971520, "max_fragments_per_message": 1000000}}\n' >"$RUN_TMP/config.json"

say "starting $HUB_BIN"
: >"$HUB_OUT"
: >"$HUB_ERR"
"$HUB_BIN" serve --conformance-echo --no-auth --host 127.0.0.1 --port 0 \
  --data-dir "$RUN_TMP/data" --config "$RUN_TMP/config.json" --log-level warning \
  >"$HUB_OUT" 2>"$HUB_ERR" </dev/null 9>&- &
HUB_PID=$!

hub_failed() {
  printf 'autobahn: ERROR: %s\n' "$1" >&2
  printf -- '--- hub stdout (%s):\n' "$HUB_OUT" >&2
  tail -n 20 "$HUB_OUT" >&2 || true
  printf -- '--- hub stderr (%s):\n' "$HUB_ERR" >&2
  tail -n 40 "$HUB_ERR" >&2 || true
}

PORT=""
for ((i = 0; i < 600; i++)); do
  PORT="$(sed -nE 's#^telemetryhub listening on http://[^ ]*:([0-9]+).*#\1#p' "$HUB_OUT" 2>/dev/null | head -n 1 || true)"
  [[ -n "$PORT" ]] && break
  if ! kill -0 "$HUB_PID" 2>/dev/null; then
    hub_failed "the hub exited before it was listening"
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$PORT" ]]; then
  hub_failed "the hub did not print its 'listening on' line within 60 s"
  exit 1
fi

if ! "$PY3" - "$PORT" <<'EOF'; then
import socket, sys, time
port = int(sys.argv[1])
deadline = time.time() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        if time.time() > deadline:
            sys.exit(1)
        time.sleep(0.1)
EOF
  hub_failed "port $PORT does not accept connections"
  exit 1
fi
URL="ws://127.0.0.1:$PORT/ws/echo"
say "hub is listening; echo route $URL"

# --- 5. Run the suite -------------------------------------------------------------
"$PY3" - "$REPORT_DIR/spec.json" "$REPORT_DIR" "$URL" <<'EOF'
import json, sys
spec_path, outdir, url = sys.argv[1:4]
spec = {
    "options": {"failByDrop": False},
    "outdir": outdir,
    "servers": [{"agent": "telemetryhub", "url": url}],
    "cases": ["*"],
    "exclude-cases": ["12.*", "13.*"],
    "exclude-agent-cases": {},
}
with open(spec_path, "w") as handle:
    json.dump(spec, handle, indent=2)
EOF

WSTEST_LOG="$REPORT_DIR/wstest.log"
TIMEOUT_CMD=()
if command -v timeout >/dev/null 2>&1; then
  TIMEOUT_CMD=(timeout --kill-after=10 "$SUITE_TIMEOUT")
fi
say "running wstest fuzzingclient (cases 12.* and 13.* excluded; log: $WSTEST_LOG)"
SUITE_START=$SECONDS
WSTEST_RC=0
# In the background so that a signal to this script is handled at once
# (cleanup stops wstest and the hub) instead of after the suite ends.
(cd "$REPORT_DIR" &&
  exec ${TIMEOUT_CMD[@]+"${TIMEOUT_CMD[@]}"} "$PY27_ENV/bin/wstest" -m fuzzingclient -s "$REPORT_DIR/spec.json") \
  >"$WSTEST_LOG" 2>&1 </dev/null 9>&- &
WSTEST_PID=$!
wait "$WSTEST_PID" || WSTEST_RC=$?
WSTEST_PID=""
say "suite ran in $((SECONDS - SUITE_START)) s (total $((SECONDS - START_TIME)) s); reports in $REPORT_DIR"

STATUS=0
if [[ "$WSTEST_RC" -ne 0 ]]; then
  STATUS=1
  if [[ "$WSTEST_RC" -eq 124 ]]; then
    printf 'autobahn: ERROR: wstest timed out after %s s; last lines of %s:\n' "$SUITE_TIMEOUT" "$WSTEST_LOG" >&2
  else
    printf 'autobahn: ERROR: wstest exited with %s; last lines of %s:\n' "$WSTEST_RC" "$WSTEST_LOG" >&2
  fi
  tail -n 40 "$WSTEST_LOG" >&2
fi
if ! kill -0 "$HUB_PID" 2>/dev/null; then
  STATUS=1
  HUB_RC=0
  wait "$HUB_PID" 2>/dev/null || HUB_RC=$?
  HUB_PID=""
  hub_failed "the hub died during the suite (exit status $HUB_RC)"
fi

# --- 6. Judge the results (prints the closing 'autobahn: N passed, M failed') -----
CHECK_RC=0
"$PY3" "$SCRIPT_DIR/autobahn-check.py" --agent telemetryhub "$REPORT_DIR/index.json" </dev/null || CHECK_RC=$?
if [[ "$CHECK_RC" -ne 0 || "$STATUS" -ne 0 ]]; then
  exit 1
fi
exit 0
