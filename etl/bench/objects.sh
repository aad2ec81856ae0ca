#!/usr/bin/env bash
# Benchmark: many small objects behind S3-like latency. 1,000 objects x 100 rows (the `events` dataset) sit in
# moto behind etl/bench/latency_proxy.py, which holds each response's first byte until 20 ms after its request.
# In one run it times, through the same proxy:
#   - the S3 floor: list + GET every object with 32 parallel requests (boto3 thread pool);
#   - `etl process` at the default jobs and grouping (target <= 1.3x the floor), and with --jobs 1 --group-objects 1
#     (one object at a time, as before concurrency) for comparison;
#   - a re-run with nothing new against the listing alone (target <= 1.2x);
# and etl's peak RSS, also for 8 large objects loaded at once at the defaults (target <= 64 MiB).
#
#   etl/bench/objects.sh [OBJECTS [ROWS_PER_OBJECT]]     defaults 1000 and 100
#
# PostgreSQL runs with the durable defaults (fsync and synchronous_commit on). PostgreSQL, moto_server and the proxy
# are started on free loopback ports and stopped by pid on exit. Scratch files go to .work/bench-objects.
set -euo pipefail

OBJECTS="${1:-1000}"
PER_OBJECT="${2:-100}"
BIG_OBJECTS=8
BIG_ROWS=100000
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/etl/bench"
WORK="$ROOT/.work/bench-objects"

# shellcheck source=etl/bench/lib.sh
. "$HERE/lib.sh"

build_etl "$ROOT"

# The durable defaults, stated: a commit waits for its WAL to reach the disk.
start_servers "$WORK" -c fsync=on -c synchronous_commit=on -c max_connections=100
PROXY_PORT="$(free_port)"
python3 "$HERE/latency_proxy.py" "$PROXY_PORT" "$MOTO_PORT" 20 >"$WORK/proxy.log" 2>&1 &
PIDS+=($!)
wait_port "$PROXY_PORT"

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export ETL_BUCKET=bench ETL_DATASET="$ROOT/data/events.toml" ETL_LOG_FORMAT=json
export ETL_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
DIRECT="http://127.0.0.1:$MOTO_PORT"
PROXIED="http://127.0.0.1:$PROXY_PORT"
PSQL=(psql -X -q -t -A -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)

ROWS=$((OBJECTS * PER_OBJECT))
echo "generating and uploading $OBJECTS objects x $PER_OBJECT rows, and $BIG_OBJECTS x $BIG_ROWS rows..." >&2
python3 "$ROOT/data/gen_events.py" --rows "$ROWS" --seed 42 --csv "$WORK/small.csv"
python3 "$ROOT/data/gen_events.py" --rows "$((BIG_OBJECTS * BIG_ROWS))" --seed 43 --pad --csv "$WORK/big.csv"
AWS_ENDPOINT_URL="$DIRECT" python3 "$HERE/s3_floor.py" put bench small "$WORK/small.csv" "$OBJECTS"
AWS_ENDPOINT_URL="$DIRECT" python3 "$HERE/s3_floor.py" put bench big "$WORK/big.csv" "$BIG_OBJECTS"
"$BIN" migrate >"$WORK/migrate.log"

reset_tables() { "${PSQL[@]}" -c "TRUNCATE events, etl_rejects, etl_objects RESTART IDENTITY" -c "CHECKPOINT"; }
# Runs `etl process` with the given flags; sets SECONDS_TAKEN and RSS_MIB.
etl_process() {
  local log="$1"; shift
  local t0; t0="$(now)"
  /usr/bin/time -f "%M" -o "$WORK/rss" "$BIN" process "$@" >"$WORK/$log.log" || {
    echo "etl process $* failed, see $WORK/$log.log" >&2; exit 1; }
  SECONDS_TAKEN="$(echo "$(now) - $t0" | bc)"
  RSS_MIB="$(echo "$(cat "$WORK/rss") / 1024" | bc -l)"
}
check_rows() {
  local got; got="$("${PSQL[@]}" -c "SELECT count(*) + (SELECT count(*) FROM etl_rejects) FROM events")"
  [ "$got" = "$1" ] || { echo "MISMATCH: $got rows and rejects loaded, expected $1" >&2; exit 1; }
}

export AWS_ENDPOINT_URL="$PROXIED"
floor_s="$(python3 "$HERE/s3_floor.py" floor bench small/)"
reset_tables
etl_process default --prefix small
default_s="$SECONDS_TAKEN"; default_rss="$RSS_MIB"
check_rows "$ROWS"
list_s="$(python3 "$HERE/s3_floor.py" list bench small/)"
etl_process rerun --prefix small
rerun_s="$SECONDS_TAKEN"
loaded="$("${PSQL[@]}" -c "SELECT count(*) FROM etl_objects")"
[ "$loaded" = "$OBJECTS" ] || { echo "MISMATCH: $loaded ledger rows after the re-run" >&2; exit 1; }
reset_tables
etl_process one --prefix small --jobs 1 --group-objects 1
one_s="$SECONDS_TAKEN"
check_rows "$ROWS"

export AWS_ENDPOINT_URL="$DIRECT"
reset_tables
etl_process big --prefix big
big_s="$SECONDS_TAKEN"; big_rss="$RSS_MIB"
check_rows "$((BIG_OBJECTS * BIG_ROWS))"

ratio() { echo "$1 / $2" | bc -l; }
printf 'objects              %d x %d rows behind a 20 ms first-byte proxy\n' "$OBJECTS" "$PER_OBJECT"
printf 'S3 floor             %.2f s (%.0f objects/s: list + GET with %d parallel requests)\n' \
  "$floor_s" "$(ratio "$OBJECTS" "$floor_s")" 32
printf 'etl process          %.2f s (%.0f objects/s, default jobs), peak RSS %.1f MiB\n' \
  "$default_s" "$(ratio "$OBJECTS" "$default_s")" "$default_rss"
printf 'ratio etl / floor    %.3f (target <= 1.3)\n' "$(ratio "$default_s" "$floor_s")"
printf 'etl --jobs 1         %.2f s (%.0f objects/s, one object per transaction)\n' \
  "$one_s" "$(ratio "$OBJECTS" "$one_s")"
printf 'listing alone        %.2f s\n' "$list_s"
printf 'rerun, nothing new   %.2f s\n' "$rerun_s"
printf 'ratio rerun / list   %.3f (target <= 1.2)\n' "$(ratio "$rerun_s" "$list_s")"
printf 'big objects          %d x %d rows at once (no proxy): %.2f s, peak RSS %.1f MiB (target <= 64)\n' \
  "$BIG_OBJECTS" "$BIG_ROWS" "$big_s" "$big_rss"
