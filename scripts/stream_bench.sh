#!/usr/bin/env bash
# Dashboard stream benchmarks (BENCHMARKS.md, "Issue 10: live streams"): two `tally serve` on one
# database, then every mode of examples/stream_bench.rs against them.
#   TALLY_DATABASE_URL=postgres://postgres@127.0.0.1:5432/tally_streams scripts/stream_bench.sh
# The database must be EMPTY (or SQLite: leave TALLY_DATABASE_URL unset for a temporary file).
# Knobs: RATE (commands/s for the latency run, 1000), DURATION (seconds per run, 10),
# IDLE_STREAMS (10000), WRITE_STREAMS (streams open during the write run, 1000), ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."

RATE=${RATE:-1000}
DURATION=${DURATION:-10}
IDLE_STREAMS=${IDLE_STREAMS:-10000}
WRITE_STREAMS=${WRITE_STREAMS:-1000}
ROUNDS=${ROUNDS:-3}
A=127.0.0.1:${PORT_A:-18090}
B=127.0.0.1:${PORT_B:-18091}

# Apart: built with the example, the server would get the dev-dependencies' features too.
cargo build --release --quiet --bin tally
cargo build --release --quiet --example stream_bench
bin=target/release/tally
bench=target/release/examples/stream_bench

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

export TALLY_DATA_DIR=$work
export TALLY_JWT_SECRET=${TALLY_JWT_SECRET:-stream-bench-secret-that-is-at-least-32-bytes}
export RUST_LOG=warn
export TALLY_MAX_CONNECTIONS=$((IDLE_STREAMS + 200))
export TALLY_MAX_STREAMS=$((IDLE_STREAMS + 100))
export TALLY_STREAMS_PER_USER=$WRITE_STREAMS
# Each stream is a socket on both sides: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%FT%TZ)"
echo "database: ${TALLY_DATABASE_URL:-sqlite (temporary file)}"

wait_for() { for _ in $(seq 1 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1"; exit 1; }
TALLY_LISTEN=$A $bin serve & pids+=($!)
node_a=$!
wait_for "http://$A/api/dashboard/health"
TALLY_LISTEN=$B $bin serve & pids+=($!)
wait_for "http://$B/api/dashboard/health"

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

echo "== commit-to-delivery at $RATE commands/s, same node and other node"
for _ in $(seq 1 "$ROUNDS"); do $bench latency "$A" "$B" "$RATE" "$DURATION"; done

echo "== the write path without and with $WRITE_STREAMS streams of the written users (alternating)"
for _ in $(seq 1 "$ROUNDS"); do
    $bench writes "$A" 0 "$DURATION"
    $bench writes "$A" "$WRITE_STREAMS" "$DURATION"
done

echo "== the write path without and with $WRITE_STREAMS streams of other users (alternating)"
for _ in $(seq 1 "$ROUNDS"); do
    $bench writes "$A" 0 "$DURATION"
    $bench idle "$A" "$WRITE_STREAMS" $((DURATION * 3)) >"$work/others.log" &
    others=$!
    for _ in $(seq 1 600); do grep -q holding "$work/others.log" && break; sleep 0.5; done
    echo -n "with $WRITE_STREAMS streams of other users: "
    $bench writes "$A" 0 "$DURATION"
    kill "$others" 2>/dev/null || true
    wait "$others" 2>/dev/null || true
done

echo "== $IDLE_STREAMS idle streams on one node"
before=$(rss_kib "$node_a")
$bench idle "$A" "$IDLE_STREAMS" $((DURATION * 3)) >"$work/idle.log" &
idle=$!
for _ in $(seq 1 1200); do grep -q holding "$work/idle.log" && break; sleep 0.5; done
cat "$work/idle.log"
sleep 2
open=$(rss_kib "$node_a")
t0=$(cpu_ticks "$node_a")
sleep "$DURATION"
t1=$(cpu_ticks "$node_a")
echo "server RSS: $before KiB before, $open KiB with $IDLE_STREAMS streams:" \
    "$(((open - before) * 1024 / IDLE_STREAMS)) bytes per stream"
echo "server CPU while they idle: $((t1 - t0)) ticks in ${DURATION} s ($(getconf CLK_TCK) ticks = 1 s of one core)"
wait "$idle"

echo "== a stalled client (its stream never read) while its user's commands run"
before=$(rss_kib "$node_a")
$bench stalled "$A" 500 "$DURATION"
after=$(rss_kib "$node_a")
$bench stalled "$A" 500 "$DURATION"
again=$(rss_kib "$node_a")
echo "server RSS: $before KiB before, $after KiB after one run, $again KiB after a second"
