#!/usr/bin/env bash
# One-big-file benchmark: TPC-H lineitem as 8 SQL files, one SQL file and one
# zstd-compressed SQL file, each imported by the importer (local and tidb
# backends) in one run, with cores busy and peak RSS. See bench/README.md.
#
#   bench/big-file.sh [--sf 0.5] [--threads N] [--strict-format]
#                     [--only local-8,local-1,local-zst,tidb-8,tidb-1,tidb-zst]
#                     [--work /work/tmp-bench] [--no-build] [--keep] [--no-report]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null 2>&1 || { echo "bench: python3 not found" >&2; exit 1; }
exec python3 "$here/big_file.py" "$@"
