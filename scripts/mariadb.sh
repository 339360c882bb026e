#!/usr/bin/env bash
# Throw-away MariaDB for tests: its own datadir, socket and free loopback port,
# no systemd. Usage:
#   eval "$(scripts/mariadb.sh start DIR)"   # prints export lines for the DSN
#   scripts/mariadb.sh stop DIR
#   scripts/mariadb.sh report DIR           # alive or not, and its error log
# `start` exports IMPORTER_TEST_MYSQL_URL (mysql://root@127.0.0.1:PORT),
# IMPORTER_TEST_MYSQL_HOST, IMPORTER_TEST_MYSQL_PORT and IMPORTER_TEST_MYSQL_SOCKET.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
server_args "$@"

case "$cmd" in
start)
    if ! command -v mariadbd >/dev/null 2>&1; then
        echo "mariadbd not found: install mariadb-server (scripts/setup.sh does)" >&2
        exit 1
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -f "$dir/pid" ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        echo "a server is already running in $dir" >&2
        exit 1
    fi
    if [[ ! -d "$dir/data/mysql" ]]; then
        mariadb-install-db --no-defaults --user=root --datadir="$dir/data" \
            --auth-root-authentication-method=normal --skip-test-db \
            --innodb-log-file-size=8M >"$dir/install.log" 2>&1 ||
            { cat "$dir/install.log" >&2; exit 1; }
    fi
    # Its own tmpdir: temporary tables and sort files stay out of a /tmp
    # that tests share (and may clean).
    mkdir -p "$dir/tmp"
    port=$(free_port)
    # Fast, non-durable settings: the datadir is thrown away after the run.
    mariadbd --no-defaults --user=root --datadir="$dir/data" --socket="$dir/sock" \
        --port="$port" --bind-address=127.0.0.1 --pid-file="$dir/pid" \
        --tmpdir="$dir/tmp" --log-error="$dir/err.log" --skip-log-bin --innodb-log-file-size=64M \
        --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0 \
        --innodb-buffer-pool-size=512M --max-connections=500 \
        --max-allowed-packet=64M --local-infile=1 --skip-name-resolve \
        >/dev/null 2>&1 &
    for _ in $(seq 1 300); do
        if mariadb-admin --no-defaults --socket="$dir/sock" -uroot ping >/dev/null 2>&1; then
            echo "$port" >"$dir/port"
            echo "export IMPORTER_TEST_MYSQL_URL=mysql://root@127.0.0.1:$port"
            echo "export IMPORTER_TEST_MYSQL_HOST=127.0.0.1"
            echo "export IMPORTER_TEST_MYSQL_PORT=$port"
            echo "export IMPORTER_TEST_MYSQL_SOCKET=$dir/sock"
            exit 0
        fi
        sleep 0.1
    done
    echo "MariaDB did not start; log follows" >&2
    tail -n 30 "$dir/err.log" >&2 || true
    exit 1
    ;;
stop)
    if [[ -S "$dir/sock" ]]; then
        mariadb-admin --no-defaults --socket="$dir/sock" -uroot shutdown >/dev/null 2>&1 || true
    fi
    if [[ -f "$dir/pid" ]]; then
        pid=$(cat "$dir/pid")
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$dir/pid"
    fi
    ;;
report)
    # For a failed test run: did the server die under it, and what did it log
    # (without the per-connection noise of killed clients)?
    if [[ -f "$dir/pid" ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        echo "MariaDB in $dir is running (pid $(cat "$dir/pid"))"
    else
        echo "MariaDB in $dir is NOT running"
    fi
    if [[ -f "$dir/err.log" ]]; then
        echo "-- $dir/err.log (last 60 lines, 'Aborted connection' left out)"
        grep -v 'Aborted connection' "$dir/err.log" | tail -n 60 || true
    fi
    ;;
*)
    echo "usage: $0 start|stop|report DIR" >&2
    exit 2
    ;;
esac
