#!/usr/bin/env bash
# The whole test suite, as CI runs it: system packages, formatting, lints,
# a throw-away MariaDB on loopback, then every test of the workspace.
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
cleanup() {
    "$REPO_ROOT/scripts/mariadb.sh" stop "$mysql_dir" || true
    rm -rf "$mysql_dir"
}
trap cleanup EXIT
echo "== starting MariaDB in $mysql_dir"
eval "$("$REPO_ROOT/scripts/mariadb.sh" start "$mysql_dir")"

echo "== cargo test"
cargo test --workspace --all-targets --locked "$@"
# Doc tests are not part of --all-targets.
cargo test --workspace --doc --locked
