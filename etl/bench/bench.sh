#!/usr/bin/env bash
# Benchmark: `etl process` end to end (moto S3 -> parse -> transform -> COPY) against `psql \copy` of the same,
# already transformed rows into the same table (the physical limit of the load), plus etl's peak RSS.
#
#   etl/bench/bench.sh [ROWS]          ROWS defaults to $BENCH_ROWS or 1000000 (~180 bytes a row)
#   BENCH_REPEAT=3 etl/bench/bench.sh  best of 3 for both loads
#
# Starts its own PostgreSQL (as the `postgres` user when run as root) and moto_server on free loopback ports and
# stops them by pid on exit. Scratch files go to .work/bench (gitignored).
set -euo pipefail

ROWS="${1:-${BENCH_ROWS:-1000000}}"
REPEAT="${BENCH_REPEAT:-1}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$ROOT/.work/bench"
BIN="$ROOT/target/release/etl"
COLUMNS="event_id, occurred_at, user_id, country, device, event_type, amount, session_seconds, is_fraud, comment"

# shellcheck source=etl/bench/lib.sh
. "$ROOT/etl/bench/lib.sh"

echo "building etl (release)..." >&2
cargo build --release -p etl --quiet --manifest-path "$ROOT/Cargo.toml"

start_servers "$WORK" -c max_wal_size=8GB -c shared_buffers=256MB -c synchronous_commit=off

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
export ETL_BUCKET=bench ETL_PREFIX=bench ETL_DATASET="$ROOT/data/events.toml" ETL_LOG_FORMAT=json
export ETL_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)

CSV="$WORK/events-$ROWS.csv"
EXPECTED="$WORK/events-$ROWS.tsv"
if [ ! -s "$CSV" ] || [ ! -s "$EXPECTED" ]; then
  echo "generating $ROWS rows..." >&2
  python3 "$ROOT/data/gen_events.py" --rows "$ROWS" --seed 42 --pad --csv "$CSV" --expected "$EXPECTED" \
    --copy-object-id 1
fi
BYTES="$(stat -c %s "$CSV")"
python3 -c "import boto3; boto3.client('s3', endpoint_url='$AWS_ENDPOINT_URL').create_bucket(Bucket='bench')"
echo "uploading $((BYTES / 1048576)) MiB with etl ingest..." >&2
t0="$(now)"
"$BIN" ingest "$CSV" >"$WORK/ingest.log"
INGEST_S="$(echo "$(now) - $t0" | bc)"
"$BIN" migrate >"$WORK/migrate.log"

reset_tables() {
  "${PSQL[@]}" -c "TRUNCATE events, etl_rejects, etl_objects RESTART IDENTITY" -c "CHECKPOINT"
}

best_etl=""; best_copy=""; rss_kib=0
for i in $(seq "$REPEAT"); do
  reset_tables
  t0="$(now)"
  "${PSQL[@]}" -c "\\copy events ($COLUMNS, etl_object_id) FROM '$EXPECTED'"
  copy_s="$(echo "$(now) - $t0" | bc)"
  reset_tables
  t0="$(now)"
  /usr/bin/time -f "%M %U %S" -o "$WORK/rss" "$BIN" process >"$WORK/process.log"
  etl_s="$(echo "$(now) - $t0" | bc)"
  read -r run_rss run_user run_sys < "$WORK/rss"
  rss_kib="$(( run_rss > rss_kib ? run_rss : rss_kib ))"
  if [ -z "$best_etl" ] || [ "$(echo "$etl_s < $best_etl" | bc)" = 1 ]; then best_etl="$etl_s"; fi
  if [ -z "$best_copy" ] || [ "$(echo "$copy_s < $best_copy" | bc)" = 1 ]; then best_copy="$copy_s"; fi
  echo "run $i: etl process ${etl_s}s (etl cpu user ${run_user}s sys ${run_sys}s), psql \\copy ${copy_s}s" >&2
done

# The table etl loaded must equal the generator's independently computed rows.
"${PSQL[@]}" -c "\\copy (SELECT $COLUMNS, etl_object_id FROM events ORDER BY event_id) TO '$WORK/loaded.tsv'"
if ! cmp -s "$WORK/loaded.tsv" "$EXPECTED"; then
  echo "MISMATCH: the table etl loaded differs from $EXPECTED" >&2
  exit 1
fi

printf 'rows                 %d (%d MiB of CSV)\n' "$ROWS" "$((BYTES / 1048576))"
printf 'etl ingest           %.2f s (upload to moto, informational)\n' "$INGEST_S"
printf 'etl process          %.2f s (%.0f rows/s)\n' "$best_etl" "$(echo "$ROWS / $best_etl" | bc -l)"
printf 'psql \\copy           %.2f s (%.0f rows/s)\n' "$best_copy" "$(echo "$ROWS / $best_copy" | bc -l)"
printf 'ratio etl / \\copy    %.3f (target <= 1.15)\n' "$(echo "$best_etl / $best_copy" | bc -l)"
printf 'etl peak RSS         %.1f MiB (target <= 32)\n' "$(echo "$rss_kib / 1024" | bc -l)"
