#!/usr/bin/env bash
# The dashboard read over HTTP against the ceiling (bare axum + the same JWT check, built with
# the same profile), and optionally against another tally build, side by side in one run, as
# MEASURING.md says: wrk -t1 -c10 at saturation, rounds alternating so that machine noise falls
# on every contender alike, then hey's p99 at a fixed 5,000 req/s.
#   scripts/compare_reads.sh                          # this build vs the ceiling
#   OTHER=/path/to/old/tally scripts/compare_reads.sh  # and an older build on the same data
#   POSTGRES=postgres://postgres@127.0.0.1:5432 scripts/compare_reads.sh  # on PostgreSQL
# Knobs: ROUNDS (3), DURATION (10 s per wrk run), ROUTE (/api/dashboard/statistics), POSTGRES
# (a server: each build gets a fresh database of its own there, made and dropped by the run),
# TALLY (what runs as "tally": this build unless given, e.g. a wrapper setting a variable).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
ROUTE=${ROUTE:-/api/dashboard/statistics}

cargo build --release --quiet --bin tally --example ceiling
tally=${TALLY:-$PWD/target/release/tally}
ceiling=$PWD/target/release/examples/ceiling

work=$(mktemp -d)
pid=
stop() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    pid=
}
databases=()
drop_databases() {
    for database in "${databases[@]}"; do psql -q "$POSTGRES/postgres" -c "drop database if exists $database"; done
}
trap 'stop; drop_databases; rm -rf "$work"' EXIT

# store NAME: the TALLY_DATABASE_URL of build NAME's store (SQLite: its own data directory).
store() {
    if [ -z "${POSTGRES:-}" ]; then echo "sqlite://$work/$1/tally.db"; return; fi
    echo "$POSTGRES/compare_reads_$1"
}
for name in tally other; do
    mkdir -p "$work/$name"
    if [ -n "${POSTGRES:-}" ]; then
        databases+=("compare_reads_$name")
        psql -q "$POSTGRES/postgres" -c "drop database if exists compare_reads_$name" -c "create database compare_reads_$name"
    fi
done

# Only env vars: older builds took the same ones, whatever their flags.
export TALLY_JWT_SECRET=compare-reads-secret-of-at-least-32-bytes RUST_LOG=warn
export TALLY_JOB_ROLL_OVER=off TALLY_JOB_SAMPLE_VERIFY=off TALLY_JOB_EXPIRE_KEYS=off
# Each build seeds a store of its own (an older build cannot open a store a newer one migrated);
# seeding is the same for all, and so are the secret and the user ids the token names.
in_store() { # in_store NAME COMMAND...: runs COMMAND on build NAME's store
    local name=$1; shift
    TALLY_DATA_DIR=$work/$name TALLY_DATABASE_URL=$(store "$name") "$@"
}
in_store tally "$tally" seed --users 100 --tasks 1000 >/dev/null
if [ -n "${OTHER:-}" ]; then in_store other "$OTHER" seed --users 100 --tasks 1000 >/dev/null; fi
auth="Authorization: Bearer $("$tally" token --user seed-0 --ttl 2h)"

serve() { # serve NAME BINARY: starts it on port 18090 and waits for an answer
    case $1 in
        ceiling) "$2" 127.0.0.1:18090 & ;;
        # Not through in_store: $! must be tally's own pid, for stop to end it.
        *) TALLY_LISTEN=127.0.0.1:18090 TALLY_DATA_DIR=$work/$1 TALLY_DATABASE_URL=$(store "$1") "$2" serve & ;;
    esac
    pid=$!
    for _ in $(seq 1 100); do
        curl -sf -o /dev/null -H "$auth" "http://127.0.0.1:18090$ROUTE" && return 0
        sleep 0.1
    done
    echo "$1 did not answer" >&2; exit 1
}

contenders=(ceiling tally)
declare -A binary=([ceiling]=$ceiling [tally]=$tally)
if [ -n "${OTHER:-}" ]; then contenders+=(other); binary[other]=$OTHER; fi

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%FT%TZ); $ROUTE on $([ -n "${POSTGRES:-}" ] && echo PostgreSQL || echo SQLite)"
declare -A runs
for round in $(seq 1 "$ROUNDS"); do
    for name in "${contenders[@]}"; do
        serve "$name" "${binary[$name]}"
        rps=$(wrk -t1 -c10 -d"${DURATION}s" -H "$auth" "http://127.0.0.1:18090$ROUTE" | awk '/Requests\/sec/ {print $2}')
        runs[$name]="${runs[$name]:-} $rps"
        echo "round $round: $name $rps req/s"
        stop
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ceiling_median=$(echo "${runs[ceiling]}" | median)
echo
echo "| build | wrk -t1 -c10 req/s (runs) | median | ratio to ceiling | p99 at 5,000 req/s |"
echo "|---|---|---|---|---|"
for name in "${contenders[@]}"; do
    serve "$name" "${binary[$name]}"
    p99=$(hey -z "${DURATION}s" -c 10 -q 500 -H "$auth" "http://127.0.0.1:18090$ROUTE" | awk '/ 99% in/ {print $3 * 1000 " ms"}')
    stop
    m=$(echo "${runs[$name]}" | median)
    printf '| %s |%s | %s | %.2f | %s |\n' "$name" "${runs[$name]}" "$m" "$(echo "$m / $ceiling_median" | bc -l)" "$p99"
done
