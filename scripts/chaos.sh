#!/usr/bin/env bash
# Chaos test of TelemetryHub's durability: kills the hub (WebSocket mode) or restarts the MQTT broker (MQTT mode)
# at random moments while devices stream, then checks that every sample the hub or the broker acknowledged is
# stored. See scripts/chaos.py for what it does and its options:
#
#   scripts/chaos.sh [--mode ws|mqtt|both] [--cycles 20] [--devices 8] [--rate 50] [--seed N]
#                    [--bin PATH] [--keep]
#
# Sets up (once) a Python venv under .build-chaos/venv with websockets and paho-mqtt, installs Debian's mosquitto
# if it is missing, and runs scripts/chaos.py with the given arguments. Needs a built hub
# (.build/debug/telemetryhub, or --bin / TELEMETRYHUB_BIN).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.build-chaos/venv"
PYTHON="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "chaos: creating $VENV" >&2
    mkdir -p "$ROOT/.build-chaos"
    "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import websockets, paho.mqtt, sys; sys.exit(0 if paho.mqtt.__version__.startswith("2.") else 1)' 2>/dev/null; then
    echo "chaos: installing websockets and paho-mqtt into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check websockets 'paho-mqtt>=2,<3'
fi

if ! command -v mosquitto >/dev/null 2>&1 && [[ ! -x /usr/sbin/mosquitto ]]; then
    echo "chaos: installing mosquitto" >&2
    SUDO=""
    [[ "$(id -u)" -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q mosquitto
fi

exec "$VENV/bin/python" "$ROOT/scripts/chaos.py" "$@"
