#!/usr/bin/env bash
# HTTP load run over real sockets, as MEASURING.md describes: build, seed, serve, load, report.
#   scripts/load.sh                 # SQLite (synchronous=FULL) in a temporary folder
#   TALLY_DATABASE_URL=postgres://… scripts/load.sh   # an EMPTY PostgreSQL database
# Knobs: USERS, TASKS (seeded store), DURATION (seconds per wrk/hey run).
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-100}
TASKS=${TASKS:-1000}
DURATION=${DURATION:-10}
TALLY_PORT=${TALLY_PORT:-18080}
CEILING_PORT=${CEILING_PORT:-18081}

need() { command -v "$1" >/dev/null || { apt-get update -q && apt-get install -y -q "$2"; }; }
need wrk wrk
need hey hey

cargo build --release --quiet --bin tally --example ceiling
bin=target/release/tally

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

export TALLY_DATA_DIR=$work
export TALLY_JWT_SECRET=${TALLY_JWT_SECRET:-load-run-secret-that-is-at-least-32-bytes}
export RUST_LOG=warn

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%FT%TZ)"
echo "seeding $USERS users x $TASKS tasks"
$bin seed --users "$USERS" --tasks "$TASKS"

wait_for() { for _ in $(seq 1 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1"; exit 1; }

TALLY_LISTEN=127.0.0.1:$TALLY_PORT $bin serve & pids+=($!)
tally_pid=$!
target/release/examples/ceiling 127.0.0.1:$CEILING_PORT & pids+=($!)
wait_for "http://127.0.0.1:$TALLY_PORT/api/dashboard/health"
sleep 0.5
token=$($bin token --user seed-0 --ttl 1h)
auth="Authorization: Bearer $token"

wrk_rps() { wrk -t1 -c10 -d"${DURATION}s" --latency -H "$auth" "$1" | tee -a "$work/wrk.log" | awk '/Requests\/sec/ {print $2}'; }
hey_p99() { hey -z "${DURATION}s" -c 10 -q 500 -H "$auth" "$1" | tee -a "$work/hey.log" | awk '/ 99% in/ {print $3 * 1000}'; }

declare -A rps p99
for route in statistics; do
    rps[ceiling]=$(wrk_rps "http://127.0.0.1:$CEILING_PORT/api/dashboard/$route")
    rps[tally]=$(wrk_rps "http://127.0.0.1:$TALLY_PORT/api/dashboard/$route")
    p99[ceiling]=$(hey_p99 "http://127.0.0.1:$CEILING_PORT/api/dashboard/$route")
    p99[tally]=$(hey_p99 "http://127.0.0.1:$TALLY_PORT/api/dashboard/$route")
done
for path in /api/dashboard/activity /api/dashboard/shared /api/dashboard; do
    echo "GET $path: $(wrk_rps "http://127.0.0.1:$TALLY_PORT$path") req/s"
done

cat > "$work/create.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"title":"load"}'
wrk.headers["Content-Type"] = "application/json"
LUA
commands=$(wrk -t2 -c16 -d"${DURATION}s" -H "$auth" -s "$work/create.lua" "http://127.0.0.1:$TALLY_PORT/api/tasks" | awk '/Requests\/sec/ {print $2}')
rss=$(awk '/VmHWM/ {print $2 / 1024}' /proc/$tally_pid/status)

echo
echo "| figure | tally | ceiling (bare axum + JWT) | ratio |"
echo "|---|---|---|---|"
printf '| dashboard/statistics, wrk -t1 -c10 | %s req/s | %s req/s | %.0f%% |\n' "${rps[tally]}" "${rps[ceiling]}" "$(echo "100 * ${rps[tally]} / ${rps[ceiling]}" | bc -l)"
printf '| dashboard/statistics p99 at 5,000 req/s (hey) | %s ms | %s ms | |\n' "${p99[tally]}" "${p99[ceiling]}"
printf '| create over HTTP, wrk -c16 | %s commands/s | | |\n' "$commands"
printf '| server peak RSS | %s MiB | | |\n' "$rss"
