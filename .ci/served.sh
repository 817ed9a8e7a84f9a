# Sourced by .ci/schemathesis and .ci/mcp: a real `tally serve` per backend on a free loopback
# port, stopped with SIGTERM, then `tally verify` on what the run left in the store. Expects
# `step` and `TALLY` (the binary) to be defined; sets `tmp` (removed at exit) and `base`.

tmp=$(mktemp -d)
server_pid=
# SIGTERM, then up to 30 s for a clean stop; returns the server's exit status.
stop_server() {
    [ -n "$server_pid" ] || return 0
    local pid=$server_pid status=0
    server_pid=
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { echo "tally serve ignored SIGTERM for 30 s: killed" >&2; kill -KILL "$pid"; }
    wait "$pid" 2>/dev/null || status=$?
    return "$status"
}
trap 'stop_server || true; rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server NAME DATABASE_URL DIR: serves DATABASE_URL (data dir $tmp/NAME, exported for the
# run's own `tally` commands too), logging to DIR/server.log; sets `base`. Exits if it does not
# come up.
start_server() {
    local name=$1 port
    mkdir -p "$tmp/$name"
    export TALLY_DATABASE_URL=$2 TALLY_DATA_DIR="$tmp/$name"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    base="http://127.0.0.1:$port"
    NO_COLOR=1 TALLY_LISTEN="127.0.0.1:$port" "$TALLY" serve >"$3/server.log" 2>&1 &
    server_pid=$!
    # Up to 60 s, as the first start migrates the database; give up at once if the server died.
    for _ in $(seq 1 120); do
        curl -fsS -o /dev/null "$base/api/dashboard/health" 2>/dev/null && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.5
    done
    curl -fsS -o /dev/null "$base/api/dashboard/health" || { tail -n 20 "$3/server.log" >&2; exit 1; }
}

# finish_backend NAME DIR WHAT STATUS: stops the server and verifies the store; exits if the
# store drifted, the server did not stop cleanly, or WHAT (the run's tool) exited with STATUS ≠ 0.
finish_backend() {
    local name=$1 dir=$2 what=$3 status=$4 stop_status=0
    stop_server || stop_status=$?
    step "tally verify on $name"
    "$TALLY" verify || { echo "FAILED: tally verify found drift on $name" >&2; exit 1; }
    if [ "$status" -ne 0 ] || [ "$stop_status" -ne 0 ]; then
        tail -n 20 "$dir/server.log" >&2
        echo "FAILED on $name: $what exit $status, tally serve exit $stop_status on SIGTERM" \
            "(server log: $dir/server.log)" >&2
        exit 1
    fi
}

# fresh_postgres DB: the database DB on 127.0.0.1:5432, dropped and made anew.
fresh_postgres() {
    local psql_ci=(psql -q -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1)
    "${psql_ci[@]}" -c "drop database if exists $1 with (force)"
    "${psql_ci[@]}" -c "create database $1"
}
