#!/usr/bin/env bash
# The write path of this build against another, side by side in one run, as MEASURING.md says:
# for each round, each build seeds a fresh store through the real command path (creates,
# completes, reopens and one task in five shared with another user) and rebuilds it; wall time
# of each, rounds alternating so machine noise falls on both builds alike. SQLite always;
# PostgreSQL too when POSTGRES names a server (each build gets a fresh database of its own
# there, made and dropped by the run), as in compare_reads.sh.
#   OTHER=/path/to/old/tally scripts/compare_writes.sh
#   OTHER=… POSTGRES=postgres://postgres@127.0.0.1:5432 scripts/compare_writes.sh
# Knobs: ROUNDS (2), USERS (100 on SQLite, half on PostgreSQL), TASKS (1000 a user).
set -euo pipefail
cd "$(dirname "$0")/.."

: "${OTHER:?OTHER must name the tally binary of the other build}"
ROUNDS=${ROUNDS:-2}
USERS=${USERS:-100}
TASKS=${TASKS:-1000}

cargo build --release --quiet --bin tally
declare -A binary=([new]=$PWD/target/release/tally [old]=$OTHER)

work=$(mktemp -d)
cleanup() {
    if [ -n "${POSTGRES:-}" ]; then
        for name in old new; do psql -q "$POSTGRES/postgres" -c "drop database if exists compare_writes_$name"; done
    fi
    rm -rf "$work"
}
trap cleanup EXIT
export TALLY_JWT_SECRET=compare-writes-secret-of-at-least-32-bytes RUST_LOG=warn
export PGOPTIONS='-c client_min_messages=warning' # no NOTICE for a database not there

seconds() { # seconds COMMAND...: runs it, prints its wall time
    local began ended
    began=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    ended=$(date +%s.%N)
    printf '%.2f' "$(echo "$ended - $began" | bc -l)"
}

# round BACKEND USERS NAME: seeds a fresh store with build NAME and rebuilds it.
round() {
    local backend=$1 users=$2 name=$3 url
    if [ "$backend" = sqlite ]; then
        rm -rf "$work/$name" && mkdir -p "$work/$name"
        url="sqlite://$work/$name/tally.db"
    else
        local database="compare_writes_$name"
        psql -q "$POSTGRES/postgres" -c "drop database if exists $database" -c "create database $database"
        url="$POSTGRES/$database"
    fi
    export TALLY_DATA_DIR=$work/$name TALLY_DATABASE_URL=$url
    local seed rebuild
    seed=$(seconds "${binary[$name]}" seed --users "$users" --tasks "$TASKS")
    if [ "$backend" = postgres ]; then psql -q "$url" -c analyze; fi
    rebuild=$(seconds "${binary[$name]}" rebuild)
    echo "$backend $name: seed $seed s, rebuild $rebuild s"
}

backends=(sqlite)
if [ -n "${POSTGRES:-}" ]; then backends+=(postgres); fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%FT%TZ)"
for backend in "${backends[@]}"; do
    users=$USERS
    if [ "$backend" = postgres ]; then users=$((USERS / 2)); fi
    echo "$backend: seed --users $users --tasks $TASKS, then rebuild"
    for r in $(seq 1 "$ROUNDS"); do
        for name in old new; do
            echo -n "round $r: "
            round "$backend" "$users" "$name"
        done
    done
done
