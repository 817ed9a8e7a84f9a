#!/usr/bin/env bash
# Several `tally serve` on one PostgreSQL database (BENCHMARKS.md, "Issue 22"): the write
# ceiling with 1, 2 and 3 nodes (the advisory lock lets one batch commit at a time, whatever the
# number of nodes), the dashboard read and the task list through all of them at once, then
# `tally verify`.
#   POSTGRES=postgres://postgres@127.0.0.1:5432 scripts/multi_node.sh
# Knobs: DURATION (seconds per run, 10), CLIENTS (connections in all, split over the nodes, 16),
# STANDBY (a hot standby of POSTGRES, e.g. postgres://postgres@127.0.0.1:5433: the nodes read
# from it, TALLY_DATABASE_READ_URL). A standby beside Debian's cluster, once:
#   pg_createcluster 15 standby -p 5433; rm -rf /var/lib/postgresql/15/standby/*
#   (a `host replication all 127.0.0.1/32 trust` line in the primary's pg_hba.conf)
#   su postgres -c "pg_basebackup -h 127.0.0.1 -p 5432 -D /var/lib/postgresql/15/standby -R -X stream"
#   pg_ctlcluster 15 standby start
# Correctness under mixed load with tokens is a test: tests/api/consistency.rs,
# `on_postgres_three_nodes_under_mixed_load_with_tokens_lose_nothing_and_converge`.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${POSTGRES:?a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432}"
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-16}
database=multi_node_bench

cargo build --release --quiet --bin tally
bin=$PWD/target/release/tally
work=$(mktemp -d)
pids=()
stop_nodes() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; pids=(); }
trap 'stop_nodes; psql -q "$POSTGRES/postgres" -c "drop database if exists $database"; rm -rf "$work"' EXIT
psql -q "$POSTGRES/postgres" -c "drop database if exists $database" -c "create database $database"

export TALLY_DATABASE_URL=$POSTGRES/$database TALLY_DATA_DIR=$work RUST_LOG=warn
if [ -n "${STANDBY:-}" ]; then export TALLY_DATABASE_READ_URL=$STANDBY/$database; fi
export TALLY_JWT_SECRET=multi-node-secret-of-at-least-32-bytes
export TALLY_JOB_ROLL_OVER=off TALLY_JOB_SAMPLE_VERIFY=off TALLY_JOB_EXPIRE_KEYS=off
"$bin" seed --users 100 --tasks 100 >/dev/null
auth="Authorization: Bearer $("$bin" token --user seed-0 --ttl 2h)"

start_nodes() { # start_nodes N: nodes on ports 18090, 18091, …
    for n in $(seq 0 $(($1 - 1))); do
        TALLY_LISTEN=127.0.0.1:$((18090 + n)) "$bin" serve &
        pids+=($!)
    done
    for n in $(seq 0 $(($1 - 1))); do
        for _ in $(seq 1 100); do
            curl -sf -o /dev/null "http://127.0.0.1:$((18090 + n))/api/dashboard/health" && break
            sleep 0.1
        done
    done
}

# load N METHOD PATH [BODY]: CLIENTS connections split over N nodes for DURATION; total req/s.
load() {
    local nodes=$1 method=$2 path=$3 body=${4:-} outputs=() loaders=()
    for n in $(seq 0 $((nodes - 1))); do
        outputs+=("$work/hey-$n")
        hey -z "${DURATION}s" -c $((CLIENTS / nodes)) -m "$method" -H "$auth" \
            -T application/json ${body:+-d "$body"} "http://127.0.0.1:$((18090 + n))$path" >"$work/hey-$n" &
        loaders+=($!)
    done
    wait "${loaders[@]}"
    awk '/Requests\/sec/ {sum += $2} END {printf "%.0f", sum}' "${outputs[@]}"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%FT%TZ); $CLIENTS clients, ${DURATION}s a run; standby: ${STANDBY:-none}"
echo "| nodes | creates/s (all nodes) | dashboard reads/s (all nodes) | task lists/s (all nodes) |"
echo "|---|---|---|---|"
for nodes in 1 2 3; do
    start_nodes "$nodes"
    writes=$(load "$nodes" POST /api/tasks '{"title":"multi-node"}')
    reads=$(load "$nodes" GET /api/dashboard)
    lists=$(load "$nodes" GET '/api/tasks?limit=20')
    echo "| $nodes | $writes | $reads | $lists |"
    stop_nodes
done
"$bin" verify >/dev/null && echo "tally verify: no drift"
