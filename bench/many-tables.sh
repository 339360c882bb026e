#!/usr/bin/env bash
# Many-tables benchmark: N tables x R rows in the mydumper layout, imported by
# the importer (local and tidb backends) and by myloader in one run, with time
# to the first row and peak RSS. See bench/README.md.
#
#   bench/many-tables.sh [--tables 2000] [--rows 50] [--threads N]
#                        [--only local,tidb,myloader] [--work /work/tmp-bench]
#                        [--no-build] [--keep] [--no-report]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null 2>&1 || { echo "bench: python3 not found" >&2; exit 1; }
exec python3 "$here/many_tables.py" "$@"
