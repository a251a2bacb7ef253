#!/usr/bin/env bash
# Installs the Debian packages TelemetryHub needs, only when something is missing.
#   scripts/install-deps.sh run    what `make run` needs
#   scripts/install-deps.sh test   what `make test` needs (a superset)
set -euo pipefail

purpose=${1:-run}
run_packages=(ca-certificates libsqlite3-dev libmosquitto-dev pkg-config libjs-dygraphs)
test_packages=("${run_packages[@]}" mosquitto mosquitto-clients chromium chromium-driver python3-selenium)

case "$purpose" in
run) wanted=("${run_packages[@]}") ;;
test) wanted=("${test_packages[@]}") ;;
*) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

if ! command -v swift >/dev/null 2>&1; then
    if [[ -x /opt/swift/usr/bin/swift ]]; then
        echo "note: swift is at /opt/swift/usr/bin; add it to PATH" >&2
    else
        echo "error: the Swift 6 toolchain is not installed (swift not on PATH)" >&2
        exit 1
    fi
fi

missing=()
for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "installing: ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
