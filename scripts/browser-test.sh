#!/usr/bin/env bash
# Real-browser test of the served dashboard: starts `telemetryhub demo` (6 simulated devices, memory storage, auth
# on) on a free port, runs scripts/browser-test.py against it in headless Chromium, then stops the hub.
#
#   scripts/browser-test.sh
#
# - The hub binary is $TELEMETRYHUB_BIN, else <repo>/.build/debug/telemetryhub (build it first).
# - Needs Debian's chromium, chromium-driver and libjs-dygraphs, and Selenium: Debian's python3-selenium, else
#   Selenium from PyPI installed once into <repo>/.build/venv-browser.
# - Tokens: the page opens with the viewer token the demo writes to <data-dir>/viewer.token; the alert checks also
#   use <data-dir>/operator.token and an admin token from `telemetryhub token create --role admin` (for the rules
#   API). The data directory is a temporary one, removed afterwards.
# - Writes <repo>/.build/artifacts/dashboard.png, dashboard-phone.png, dashboard-alerts.png and
#   browser-test-hub.log (the hub's output).
# - Exit status: 0 when every check passed, 1 otherwise.
#
# Optional environment:
#   TELEMETRYHUB_BIN        hub binary to test
#   BROWSER_TEST_TIMEOUT    seconds allowed for the browser part (default 180)
#   BROWSER_TEST_NO_AUTH=1  run the hub with --no-auth (no tokens; the viewer `forbidden` check is skipped)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
HUB_BIN="${TELEMETRYHUB_BIN:-$ROOT/.build/debug/telemetryhub}"
ARTIFACTS="$ROOT/.build/artifacts"
VENV="$ROOT/.build/venv-browser"
HUB_LOG="$ARTIFACTS/browser-test-hub.log"
TEST_TIMEOUT="${BROWSER_TEST_TIMEOUT:-180}"
DEVICES=6
NO_AUTH="${BROWSER_TEST_NO_AUTH:-}"

say() { printf 'browser-test: %s\n' "$*"; }
die() {
  printf 'browser-test: ERROR: %s\n' "$*" >&2
  exit 1
}

# --- 1. Prerequisites -------------------------------------------------------------
[[ -x "$HUB_BIN" ]] || die "hub binary $HUB_BIN is missing (run swift build, or set TELEMETRYHUB_BIN)"
missing=()
for path in /usr/bin/chromium /usr/bin/chromedriver /usr/share/javascript/dygraphs/dygraph.min.js; do
  [[ -e "$path" ]] || missing+=("$path")
done
if ((${#missing[@]})); then
  die "missing ${missing[*]}; install: sudo apt-get install chromium chromium-driver libjs-dygraphs python3-selenium"
fi

has_selenium() { [[ -x "$1" ]] && "$1" -c 'import selenium' >/dev/null 2>&1 </dev/null; }

PYTHON=""
for candidate in /usr/bin/python3 "$(command -v python3 || true)" "$VENV/bin/python"; do
  if [[ -n "$candidate" ]] && has_selenium "$candidate"; then
    PYTHON="$candidate"
    break
  fi
done
if [[ -z "$PYTHON" ]]; then
  say "python3-selenium is not installed; installing Selenium from PyPI into $VENV"
  python3 -m venv "$VENV" || die "cannot create $VENV (python3-venv missing?)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'selenium>=4.8,<5' </dev/null ||
    die "pip could not install selenium into $VENV"
  PYTHON="$VENV/bin/python"
fi

# --- 2. Start the hub -------------------------------------------------------------
mkdir -p "$ARTIFACTS"
DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/telemetryhub-browser.XXXXXX")"
PORT="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT/"
HUB_PID=""

stop_hub() {
  local i
  [[ -n "$HUB_PID" ]] || return 0
  if kill -0 "$HUB_PID" 2>/dev/null; then
    kill -INT "$HUB_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$HUB_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$HUB_PID" 2>/dev/null; then
      say "the hub did not stop within 10 s of SIGINT; killing it"
      kill -KILL "$HUB_PID" 2>/dev/null || true
    fi
  fi
  wait "$HUB_PID" 2>/dev/null || true
  HUB_PID=""
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_hub
  rm -rf "$DATA_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_hub_log() {
  printf -- '--- last lines of the hub log (%s):\n' "$HUB_LOG" >&2
  tail -n 30 "$HUB_LOG" >&2 || true
}

healthy() {
  "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "${URL}healthz" \
    >/dev/null 2>&1 </dev/null
}

AUTH_ARGS=()
AUTH_TEXT="auth on"
if [[ -n "$NO_AUTH" ]]; then
  AUTH_ARGS=(--no-auth)
  AUTH_TEXT="no auth"
fi
say "starting $HUB_BIN demo on port $PORT ($DEVICES devices, memory storage, $AUTH_TEXT)"
# From the repository root: the hub serves ./Dashboards.
(cd "$ROOT" && exec "$HUB_BIN" demo --host 127.0.0.1 --port "$PORT" --devices "$DEVICES" \
  --profiles "$ROOT/Devices" --data-dir "$DATA_DIR" --storage memory ${AUTH_ARGS[@]+"${AUTH_ARGS[@]}"} \
  --log-level warning) >"$HUB_LOG" 2>&1 </dev/null &
HUB_PID=$!

ready=""
for ((i = 0; i < 150; i++)); do
  if ! kill -0 "$HUB_PID" 2>/dev/null; then
    show_hub_log
    die "the hub exited before it answered /healthz"
  fi
  if healthy; then
    ready=1
    break
  fi
  sleep 0.2
done
if [[ -z "$ready" ]]; then
  show_hub_log
  die "the hub did not answer ${URL}healthz within 30 s"
fi
say "hub is up at $URL"

TOKEN_ARGS=()
if [[ -z "$NO_AUTH" ]]; then
  for role in viewer operator; do
    [[ -s "$DATA_DIR/$role.token" ]] || die "the demo did not write $DATA_DIR/$role.token"
  done
  # Signed with the secret the demo created in its data directory (or TELEMETRYHUB_SECRET, which both see).
  "$HUB_BIN" token create --role admin --ttl 1h --subject browser-test --data-dir "$DATA_DIR" \
    >"$DATA_DIR/admin.token" </dev/null || die "telemetryhub token create --role admin failed"
  [[ -s "$DATA_DIR/admin.token" ]] || die "telemetryhub token create printed no token"
  TOKEN_ARGS=(--token-dir "$DATA_DIR")
fi

# --- 3. Run the browser checks ----------------------------------------------------
TIMEOUT_CMD=()
if command -v timeout >/dev/null 2>&1; then
  TIMEOUT_CMD=(timeout --kill-after=10 "$TEST_TIMEOUT")
fi
STATUS=0
${TIMEOUT_CMD[@]+"${TIMEOUT_CMD[@]}"} "$PYTHON" "$SCRIPT_DIR/browser-test.py" "$URL" --devices "$DEVICES" \
  --artifacts "$ARTIFACTS" ${TOKEN_ARGS[@]+"${TOKEN_ARGS[@]}"} </dev/null || STATUS=$?
if ((STATUS == 124)); then
  say "the browser checks timed out after $TEST_TIMEOUT s"
fi

if ! kill -0 "$HUB_PID" 2>/dev/null; then
  show_hub_log
  die "the hub died during the browser checks"
fi
stop_hub
if ((STATUS != 0)); then
  show_hub_log
  die "browser checks failed (screenshots in $ARTIFACTS)"
fi
say "passed; screenshots: $ARTIFACTS/dashboard.png $ARTIFACTS/dashboard-phone.png $ARTIFACTS/dashboard-alerts.png"
