#!/usr/bin/env bash
# End-to-end import benchmark: TPC-H at a scale factor, imported by the
# importer (local and tidb backends) and by its peers (myloader, LOAD DATA)
# in one run, next to the machine's limits. See bench/README.md.
#
#   bench/run.sh [--sf 1] [--threads N] [--only local,tidb,myloader,loaddata,limits]
#                [--work /work/tmp-bench] [--no-build] [--keep]
#
# Writes bench/RESULTS.md, bench/results.csv and bench/throughput.svg.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null 2>&1 || { echo "bench: python3 not found" >&2; exit 1; }
exec python3 "$here/harness.py" "$@"
