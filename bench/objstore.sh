#!/usr/bin/env bash
# Object-storage benchmark: TPC-H at a scale factor imported with the local
# backend from an S3 server (moto) and from local disk in one run, next to
# the server's own read throughput. See bench/README.md.
#
#   bench/objstore.sh [--sf 1] [--threads N] [--only disk,s3,read]
#                     [--work /work/tmp-bench] [--no-build] [--keep]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null 2>&1 || { echo "bench: python3 not found" >&2; exit 1; }
exec python3 "$here/objstore.py" "$@"
