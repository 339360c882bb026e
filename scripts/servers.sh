# Sourced by the throw-away server scripts (mariadb.sh, objstore.sh).

# Sets `cmd` and `dir` from the arguments `start|stop|report DIR`, or exits 2.
server_args() {
    cmd=${1:-}
    dir=${2:-}
    if [[ -z "$cmd" || -z "$dir" ]]; then
        echo "usage: $0 start|stop|report DIR" >&2
        exit 2
    fi
}

# Prints a TCP port on loopback that is free now (the kernel's choice).
free_port() {
    python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}
