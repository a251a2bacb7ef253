#!/usr/bin/env bash
# The MQTT bridge's figures in one command: starts a mosquitto broker (scripts/mosquitto/test-plain.conf) and a
# release hub bridging it, both on 127.0.0.1 and free ports, runs `telemetryhub bench mqtt` against them with
# their process ids (for the hub's, its bridge thread's and the broker's CPU), then stops both.
#
#   scripts/bench-mqtt.sh [bench mqtt options, e.g. --messages 500000 --devices 1000]
#
# Needs Debian's mosquitto (`scripts/install-deps.sh test`). Storage is SQLite in a scratch data directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${TELEMETRYHUB_BIN:-$ROOT/.build/release/telemetryhub}"
if [[ ! -x "$BIN" ]]; then
    (cd "$ROOT" && swift build -c release)
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SCRATCH="$(mktemp -d /tmp/telemetryhub-bench-mqtt.XXXXXX)"
BROKER_PORT="$(free_port)"
HUB_PORT="$(free_port)"
mkdir -p "$SCRATCH/broker"
sed -e "s#{{PORT}}#$BROKER_PORT#" -e "s#{{DATA}}#$SCRATCH/broker#" -e "s#{{DIR}}#$ROOT/scripts/mosquitto#" \
    "$ROOT/scripts/mosquitto/test-plain.conf" > "$SCRATCH/mosquitto.conf"
cleanup() {
    [[ -n "${HUB_PID:-}" ]] && kill "$HUB_PID" 2>/dev/null && wait "$HUB_PID" 2>/dev/null || true
    [[ -n "${BROKER_PID:-}" ]] && kill "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null || true
    rm -rf "$SCRATCH"
}
trap cleanup EXIT
/usr/sbin/mosquitto -c "$SCRATCH/mosquitto.conf" 2> "$SCRATCH/broker.log" &
BROKER_PID=$!
"$BIN" serve --no-auth --port "$HUB_PORT" --data-dir "$SCRATCH/hub" --log-level error \
    --mqtt "mqtt://127.0.0.1:$BROKER_PORT" > "$SCRATCH/hub.log" 2>&1 &
HUB_PID=$!
for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$HUB_PORT/healthz" | grep -q '"state":"connected"'; then break; fi
    sleep 0.1
done
"$BIN" bench mqtt --url "http://127.0.0.1:$HUB_PORT" --broker "mqtt://127.0.0.1:$BROKER_PORT" \
    --hub-pid "$HUB_PID" --broker-pid "$BROKER_PID" "$@"
