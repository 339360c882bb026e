#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for SECONDS each (default 60)
# and fails if any finds a crash. Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Works on stable Rust: `-s none` builds with coverage instrumentation only
# (no sanitizer, which would need nightly's -Zsanitizer). cargo-fuzz is
# installed into the build cache when it is not on PATH. The corpus grows in
# the cache too (committed seeds in fuzz/seeds/ are read-only
# inputs); a crash is saved under fuzz/artifacts/<target>/ and
# reproduced with `cargo fuzz run -s none <target> <file>` from
# fuzz/. Long run: scripts/fuzz.sh 3600.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
seconds=${1:-60}
shift || true
cache="${IMPORTER_FUZZ_CACHE:-$HOME/.cache/importer}"
fuzz_dir="$REPO_ROOT/fuzz"
targets=("$@")
((${#targets[@]} > 0)) || targets=(csv sql schema config kv)

cargo_fuzz_version=0.13.2
if ! cargo fuzz --version >/dev/null 2>&1; then
    export PATH="$cache/cargo-fuzz/bin:$PATH"
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "== installing cargo-fuzz $cargo_fuzz_version into $cache/cargo-fuzz"
        cargo install --quiet --locked --root "$cache/cargo-fuzz" cargo-fuzz --version "$cargo_fuzz_version"
    fi
fi

# Our own target dir: instrumented builds share nothing with the main one.
fuzz_target_dir="$cache/fuzz-target"
cd "$fuzz_dir"
echo "== building fuzz targets ($(rustc --version))"
start=$(date +%s)
if ((${#targets[@]} == 5)); then
    cargo fuzz build -s none --target-dir "$fuzz_target_dir"
else
    for t in "${targets[@]}"; do cargo fuzz build -s none --target-dir "$fuzz_target_dir" "$t"; done
fi
echo "   built in $(($(date +%s) - start)) s"

failed=()
for t in "${targets[@]}"; do
    corpus="$cache/fuzz-corpus/$t"
    mkdir -p "$corpus"
    echo "== fuzzing $t for ${seconds}s (corpus $corpus)"
    log=$(mktemp "${TMPDIR:-/tmp}/fuzz-$t.XXXXXX")
    if cargo fuzz run -s none --target-dir "$fuzz_target_dir" "$t" "$corpus" "seeds/$t" -- \
        -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1; then
        grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | tr '\n' ' '
        echo
    else
        failed+=("$t")
        echo "!! $t FAILED:"
        grep -E -A 20 'panicked|ERROR: libFuzzer' "$log" | head -40
        grep -E 'Test unit written|Base64' "$log" || true
    fi
    rm -f "$log"
done

if ((${#failed[@]} > 0)); then
    echo "fuzzing found crashes in: ${failed[*]}" >&2
    exit 1
fi
echo "== fuzzing passed: ${targets[*]}, ${seconds}s each"
