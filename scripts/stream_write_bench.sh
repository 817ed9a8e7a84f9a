#!/usr/bin/env bash
# The write path with dashboard streams of the written users open (BENCHMARKS.md, "Issue 10:
# live streams"): for each round and each stream count, a fresh PostgreSQL database and a fresh
# `tally serve`, then `stream_bench writes` (16 connections creating tasks for 16 users as fast
# as they go, the streams spread evenly over those users), and the server's CPU time per
# command while they run (user + system, from /proc: steadier than commands/s on shared cores).
#   ROUNDS=3 STREAMS="0 16 128 1000" SECONDS_PER_RUN=5 scripts/stream_write_bench.sh
# TALLY=path/to/tally measures another build (say, an older commit's) with the same client.
# Drops and creates the database `tally_w` on PG (default postgres://postgres@127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${PG:-postgres://postgres@127.0.0.1:5432}
NODE=127.0.0.1:${PORT:-18090}
TALLY=${TALLY:-target/release/tally}
# Apart: built with the example, the server would get the dev-dependencies' features too.
cargo build --release --quiet --bin tally
cargo build --release --quiet --example stream_bench

export TALLY_JWT_SECRET=stream-bench-secret-that-is-at-least-32-bytes RUST_LOG=warn
export TALLY_MAX_CONNECTIONS=2200 TALLY_MAX_STREAMS=2100 TALLY_STREAMS_PER_USER=1000
# Each stream is a socket on both sides: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

run() {
    psql -q "$PG/postgres" -c "drop database if exists tally_w" -c "create database tally_w" 2>/dev/null
    local work
    work=$(mktemp -d)
    TALLY_DATA_DIR=$work TALLY_DATABASE_URL=$PG/tally_w TALLY_LISTEN=$NODE "$TALLY" serve &
    local pid=$!
    for _ in $(seq 1 100); do curl -sf -o /dev/null "http://$NODE/api/dashboard/health" && break; sleep 0.1; done
    TALLY_PID=$pid target/release/examples/stream_bench writes "$NODE" "$1" "${SECONDS_PER_RUN:-5}"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%FT%TZ); commit $(git rev-parse --short HEAD)"
for _ in $(seq 1 "${ROUNDS:-3}"); do
    for streams in ${STREAMS:-0 16 128 1000}; do run "$streams"; done
done
