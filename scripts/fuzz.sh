#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of HubCore (Tests/Fuzz/Targets/*.swift).
#
#   scripts/fuzz.sh [--seconds N] [--build-only] [target ...]
#
# Default: every target, 60 s each, one after the other. HubCore is compiled once (from a snapshot of
# Sources/HubCore, with coverage and AddressSanitizer) into .build-fuzz/lib and rebuilt only when its sources change;
# each target (its file plus Tests/Fuzz/Support) is linked against it, and rebuilt only when one of them or HubCore
# changed. JSON targets get Tests/Fuzz/json.dict plus Tests/Fuzz/Dictionaries/<target>.dict as a libFuzzer dictionary.
# Each run starts from the committed seeds (Tests/Fuzz/Corpus/<target>) copied into a working corpus
# (.build-fuzz/corpus/<target>, kept between runs); the committed corpus is never written. A run stops at its first
# crash; reproducers go to .build-fuzz/artifacts/<target>/, logs to .build-fuzz/logs/<target>.log.
# Exits non-zero when a target crashed (or failed to build).
#
# Reproduce a crash:  SWIFT_BACKTRACE=enable=no .build-fuzz/bin/<target> <crash file>
# Minimise it:        SWIFT_BACKTRACE=enable=no .build-fuzz/bin/<target> -minimize_crash=1 -runs=10000 <crash file>
set -euo pipefail

cd "$(dirname "$0")/.."
out=.build-fuzz
fuzz=Tests/Fuzz
order=(json device_message dashboard_message mqtt_payload alert_rules ws_frames ws_stream series_query)
json_targets=(json device_message dashboard_message mqtt_payload alert_rules) # inputs that are JSON (json.dict)

seconds=60
build_only=false
targets=()
while (($#)); do
    case "$1" in
    --seconds)
        [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || { echo "error: --seconds needs a number" >&2; exit 2; }
        seconds=$2
        shift 2
        ;;
    --seconds=*) seconds=${1#--seconds=}; shift ;;
    --build-only) build_only=true; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
    esac
done
[[ $seconds =~ ^[0-9]+$ ]] || { echo "error: --seconds needs a number" >&2; exit 2; }

# Every target with a file, in the usual order, then any others.
available=()
for name in "${order[@]}"; do [[ -f $fuzz/Targets/$name.swift ]] && available+=("$name"); done
for file in "$fuzz"/Targets/*.swift; do
    name=$(basename "$file" .swift)
    [[ " ${available[*]} " == *" $name "* ]] || available+=("$name")
done
if ((${#targets[@]} == 0)); then targets=("${available[@]}"); fi
for name in "${targets[@]}"; do
    [[ -f $fuzz/Targets/$name.swift ]] || { echo "error: no target '$name' (have: ${available[*]})" >&2; exit 2; }
done

# --- Toolchain --------------------------------------------------------------------------------------------------
if ! command -v swiftc >/dev/null 2>&1; then
    if [[ -x /opt/swift/usr/bin/swiftc ]]; then
        export PATH=/opt/swift/usr/bin:$PATH
    else
        echo "error: the Swift 6 toolchain is not installed (swiftc not on PATH)" >&2
        exit 1
    fi
fi
toolchain_bin=$(dirname "$(command -v swiftc)")
resource_dir=$(swiftc -print-target-info | sed -n 's/.*"runtimeResourcePath": "\(.*\)".*/\1/p')
arch=$(uname -m)
if ! compgen -G "$resource_dir/clang/lib/linux/libclang_rt.fuzzer-$arch.a" >/dev/null; then
    echo "error: this Swift toolchain has no libFuzzer runtime" >&2
    echo "       ($resource_dir/clang/lib/linux/libclang_rt.fuzzer-$arch.a); the swift.org Linux toolchains ship it" >&2
    exit 1
fi
# What linking a sanitized Swift program needs from Debian (the C library, the GCC runtime, libstdc++ and the linker).
if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    gcc_version=$(find /usr/lib/gcc/"$arch"-linux-gnu -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null |
        sort -V | tail -1)
    gcc_version=${gcc_version%%.*}
    wanted=(binutils libc6-dev "libgcc-${gcc_version:-12}-dev" "libstdc++-${gcc_version:-12}-dev")
    missing=()
    for package in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if ((${#missing[@]})); then
        echo "installing: ${missing[*]}"
        sudo=""
        if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get update -qq
        $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
fi
if [[ -x $toolchain_bin/llvm-symbolizer ]]; then export ASAN_SYMBOLIZER_PATH=$toolchain_bin/llvm-symbolizer; fi

hash_of() { sha256sum | cut -c1-64; }
sources_hash() { # hash of the .swift files under $1, by relative path and content
    (cd "$1" && find . -name '*.swift' -type f -print0 | sort -z | xargs -0 sha256sum) | hash_of
}

# --- HubCore, once --------------------------------------------------------------------------------------------------
sanitize=(-sanitize=fuzzer,address)
swift_flags=(-O -gline-tables-only -parse-as-library "${sanitize[@]}")
mkdir -p "$out"/lib "$out"/bin "$out"/logs
start_build=$(date +%s)

# Snapshot the sources first (someone may be editing them); retry if they change while being copied.
for attempt in 1 2 3 4 5; do
    rm -rf "$out/src"
    mkdir -p "$out/src"
    cp -R Sources/HubCore "$out/src/HubCore"
    snapshot=$(sources_hash "$out/src/HubCore")
    [[ $snapshot == "$(sources_hash Sources/HubCore)" ]] && break
    if ((attempt == 5)); then echo "error: Sources/HubCore keeps changing; try again" >&2; exit 1; fi
    sleep 2
done
lib_stamp=$(printf '%s\n' "$snapshot" "$(swiftc --version 2>&1)" "${swift_flags[*]}" | hash_of)
if [[ ! -f $out/lib/libHubCore.a || "$(cat "$out/lib/stamp" 2>/dev/null)" != "$lib_stamp" ]]; then
    echo "building HubCore ($(find "$out/src/HubCore" -name '*.swift' | wc -l) files) ..."
    rm -f "$out/lib/stamp"
    lib_start=$(date +%s)
    mapfile -t lib_sources < <(find "$out/src/HubCore" -name '*.swift' | sort)
    if ! swiftc "${swift_flags[@]}" -wmo -num-threads "$(nproc)" -module-name HubCore -static -emit-library \
        -o "$out/lib/libHubCore.a" -emit-module -emit-module-path "$out/lib/HubCore.swiftmodule" \
        "${lib_sources[@]}" >"$out/logs/build-HubCore.log" 2>&1; then
        cat "$out/logs/build-HubCore.log" >&2
        echo "error: HubCore did not build (log: $out/logs/build-HubCore.log)" >&2
        exit 1
    fi
    echo "$lib_stamp" >"$out/lib/stamp"
    echo "built HubCore in $(($(date +%s) - lib_start)) s"
fi

# --- Targets ------------------------------------------------------------------------------------------------------
build_failed=()
for name in "${targets[@]}"; do
    target_stamp=$(
        { echo "$lib_stamp"; cat "$fuzz/Targets/$name.swift" "$fuzz"/Support/*.swift; } | hash_of
    )
    if [[ -x $out/bin/$name && "$(cat "$out/bin/$name.stamp" 2>/dev/null)" == "$target_stamp" ]]; then continue; fi
    echo "building $name ..."
    rm -f "$out/bin/$name.stamp"
    if ! swiftc "${swift_flags[@]}" -module-name "fuzz_$name" -I "$out/lib" -L "$out/lib" -lHubCore \
        "$fuzz"/Support/*.swift "$fuzz/Targets/$name.swift" -o "$out/bin/$name" \
        >"$out/logs/build-$name.log" 2>&1; then
        cat "$out/logs/build-$name.log" >&2
        echo "error: target $name did not build" >&2
        build_failed+=("$name")
        continue
    fi
    echo "$target_stamp" >"$out/bin/$name.stamp"
done
echo "build: $(($(date +%s) - start_build)) s"
if ((${#build_failed[@]})); then
    echo "error: did not build: ${build_failed[*]}" >&2
    exit 1
fi
if $build_only; then exit 0; fi

# --- Runs ---------------------------------------------------------------------------------------------------------
export SWIFT_BACKTRACE=enable=no # otherwise a crash waits minutes for the Swift backtracer
crashed=()
for name in "${targets[@]}"; do
    corpus=$out/corpus/$name
    artifacts=$out/artifacts/$name
    mkdir -p "$corpus" "$artifacts"
    if [[ -d $fuzz/Corpus/$name ]]; then cp -R "$fuzz/Corpus/$name/." "$corpus/"; fi
    # Dictionary: the JSON tokens for JSON targets, plus the target's own tokens.
    dict=()
    mkdir -p "$out/dict"
    : >"$out/dict/$name.dict"
    if [[ " ${json_targets[*]} " == *" $name "* ]]; then cat "$fuzz/json.dict" >>"$out/dict/$name.dict"; fi
    if [[ -f $fuzz/Dictionaries/$name.dict ]]; then cat "$fuzz/Dictionaries/$name.dict" >>"$out/dict/$name.dict"; fi
    if [[ -s $out/dict/$name.dict ]]; then dict=("-dict=$out/dict/$name.dict"); fi
    marker=$out/artifacts/.start-$name
    touch "$marker"
    started=$(date +%s.%N)
    status=0
    "$out/bin/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "$corpus" >"$out/logs/$name.log" 2>&1 ||
        status=$?
    elapsed=$(awk -v from="$started" -v to="$(date +%s.%N)" 'BEGIN { printf "%.1f", to - from }')
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/logs/$name.log" | tail -1)
    crashes=$(find "$artifacts" -maxdepth 1 -type f -newer "$marker" \
        \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
    rm -f "$marker"
    if ((status != 0 && crashes == 0)); then crashes=1; fi # died without an artifact (see the log)
    printf 'fuzz %s: %s executions in %.0f s, %d crashes\n' "$name" "${executions:-?}" "$elapsed" "$crashes"
    if ((crashes > 0)); then
        crashed+=("$name")
        grep -m1 -E '^==[0-9]+==ERROR|Fatal error|fuzz invariant failed|deadly signal|ALARM|out-of-memory' \
            "$out/logs/$name.log" | sed 's/^/    /' || true
        echo "    log: $out/logs/$name.log; artifacts: $artifacts/"
    fi
done
if ((${#crashed[@]})); then
    echo "crashed: ${crashed[*]}" >&2
    exit 1
fi
