#!/usr/bin/env bash
# Quick start: build the importer, import the bundled sample dump into an
# embedded target store on the default (local) backend, and list what landed.
# Usage: scripts/quickstart.sh [STORE_DIR]   (default ./importer-store)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"
store=${1:-./importer-store}

"$REPO_ROOT/scripts/setup.sh" build
# Only the binaries: tests and examples are built by scripts/test.sh. The
# selection stays --workspace, so the test build reuses this RocksDB.
echo "== building the importer (the first build compiles RocksDB's C++: about 22 minutes on 2 cores)"
cargo build --workspace --bins --locked --quiet
importer="$CARGO_TARGET_DIR/debug/importer"

# A fresh store each time, so the quick start can be rerun.
rm -rf "$store" "$store.sorted-kv" "$store.checkpoint.json"
echo "== importer -d sample --store $store"
"$importer" -d sample --store "$store" -L warn
echo "== importer store tables --store $store"
"$importer" store tables --store "$store"
echo "== importer store export shop.customers --store $store | head -4"
"$importer" store export shop.customers --store "$store" | head -4 || true
