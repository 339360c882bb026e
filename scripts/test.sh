#!/usr/bin/env bash
# The whole test suite, as CI runs it: system packages, formatting, lints,
# a throw-away MariaDB and object stores (S3, GCS, Azure) on loopback, then
# every test of the workspace.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

"$REPO_ROOT/scripts/setup.sh" test

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== build"
cargo build --workspace --all-targets --locked

mysql_dir=$(mktemp -d "${TMPDIR:-/tmp}/importer-mariadb.XXXXXX")
objstore_dir=$(mktemp -d "${TMPDIR:-/tmp}/importer-objstore.XXXXXX")
cleanup() {
    "$REPO_ROOT/scripts/mariadb.sh" stop "$mysql_dir" || true
    "$REPO_ROOT/scripts/objstore.sh" stop "$objstore_dir" || true
    rm -rf "$mysql_dir" "$objstore_dir"
}
trap cleanup EXIT
echo "== starting MariaDB in $mysql_dir"
eval "$("$REPO_ROOT/scripts/mariadb.sh" start "$mysql_dir")"
echo "== starting the object stores in $objstore_dir"
eval "$("$REPO_ROOT/scripts/objstore.sh" start "$objstore_dir")"

echo "== cargo test"
if ! cargo test --workspace --all-targets --locked "$@"; then
    # A server that died under the tests explains failures far from it.
    "$REPO_ROOT/scripts/mariadb.sh" report "$mysql_dir" >&2
    "$REPO_ROOT/scripts/objstore.sh" report "$objstore_dir" >&2
    exit 1
fi
# Doc tests are not part of --all-targets.
cargo test --workspace --doc --locked

# A short fuzz run of every target (scripts/fuzz.sh; longer: scripts/fuzz.sh 3600).
# IMPORTER_FUZZ_SECONDS=0 skips it.
fuzz_seconds=${IMPORTER_FUZZ_SECONDS:-20}
if ((fuzz_seconds > 0)); then
    echo "== fuzzing (${fuzz_seconds}s per target)"
    "$REPO_ROOT/scripts/fuzz.sh" "$fuzz_seconds"
fi
