#!/usr/bin/env bash
# Benchmark of the event path: objects/s with 1, 2 and 4 `etl process --queue` worker processes draining one
# queue that moto's S3 notifications filled (PostgreSQL with fsync and synchronous_commit on, as on RDS).
#
#   etl/bench/queue.sh [OBJECTS] [ROWS]    defaults: $BENCH_OBJECTS or 300 objects of $BENCH_ROWS or 100 rows
#   BENCH_WORKERS="1 2 4" etl/bench/queue.sh
#
# Each round empties the tables, uploads every object again (one ObjectCreated event each), starts the workers
# with --exit-when-idle, and measures from their start to the last commit (the idle poll at the end is not
# counted). Starts its own PostgreSQL (as the `postgres` user when run as root) and moto_server on free loopback
# ports and stops them by pid on exit. Scratch files go to .work/bench-queue (gitignored).
set -euo pipefail

OBJECTS="${1:-${BENCH_OBJECTS:-300}}"
ROWS="${2:-${BENCH_ROWS:-100}}"
WORKERS="${BENCH_WORKERS:-1 2 4}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$ROOT/.work/bench-queue"

# shellcheck source=etl/bench/lib.sh
. "$ROOT/etl/bench/lib.sh"
build_etl "$ROOT"

rm -rf "$WORK"
mkdir -p "$WORK/pg"
PGBIN="$(pg_config --bindir)"
AS_PG=()
if [ "$(id -u)" = 0 ]; then
  chown -R postgres:postgres "$WORK/pg"
  AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done
  rm -rf "$WORK/pg"
}
trap cleanup EXIT

PG_PORT="$(free_port)"
"${AS_PG[@]}" "$PGBIN/initdb" -U postgres -A trust -E UTF8 --locale=C -D "$WORK/pg/data" >/dev/null
"${AS_PG[@]}" "$PGBIN/postgres" -D "$WORK/pg/data" -p "$PG_PORT" -h 127.0.0.1 -k "$WORK/pg/data" \
  -c fsync=on -c synchronous_commit=on >"$WORK/pg.log" 2>&1 &
PIDS+=($!)
MOTO_PORT="$(free_port)"
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
PIDS+=($!)
until "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres; do sleep 0.1; done
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $MOTO_PORT))" 2>/dev/null; do sleep 0.1; done

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
export ETL_BUCKET=bench ETL_PREFIX=in ETL_DATASET="$ROOT/data/events.toml" ETL_LOG_FORMAT=json
export ETL_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
PSQL=(psql -X -q -t -A -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)

python3 "$ROOT/data/gen_events.py" --rows "$ROWS" --seed 42 --csv "$WORK/object.csv"
# The queue (visibility sized for a load, a dead-letter queue after 5 receives) and the bucket's notification.
QUEUE_URL="$(python3 - <<'EOF'
import json, boto3
sqs, s3 = boto3.client("sqs"), boto3.client("s3")
dlq = sqs.create_queue(QueueName="bench-dlq")["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
url = sqs.create_queue(QueueName="bench-events", Attributes={
    "VisibilityTimeout": "60",
    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}),
})["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
s3.create_bucket(Bucket="bench")
s3.put_bucket_notification_configuration(Bucket="bench", NotificationConfiguration={
    "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
print(url)
EOF
)"
"$BIN" migrate >"$WORK/migrate.log"

# Uploads every object again: one event each (the same content under N keys, N ledger rows).
upload() {
  python3 - "$OBJECTS" "$WORK/object.csv" <<'EOF'
import sys, boto3
s3, body = boto3.client("s3"), open(sys.argv[2], "rb").read()
for i in range(int(sys.argv[1])):
    s3.put_object(Bucket="bench", Key=f"in/part-{i:05}.csv", Body=body)
EOF
}

# Seconds from $1 (epoch seconds) to the last "Loaded object." log line of the given logs.
last_commit() {
  python3 - "$@" <<'EOF'
import datetime, json, sys
start, last = float(sys.argv[1]), 0.0
for path in sys.argv[2:]:
    for line in open(path):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("message") == "Loaded object.":
            at = datetime.datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()
            last = max(last, at)
print(f"{last - start:.3f}")
EOF
}

declare -A RESULT
for workers in $WORKERS; do
  "${PSQL[@]}" -c "TRUNCATE events, etl_rejects, etl_objects RESTART IDENTITY"
  upload
  start="$(date +%s.%N)"
  pids=()
  for w in $(seq "$workers"); do
    "$BIN" process --queue "$QUEUE_URL" --queue-wait-seconds 1 --exit-when-idle >"$WORK/worker-$workers-$w.log" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  seconds="$(last_commit "$start" "$WORK"/worker-"$workers"-*.log)"
  loaded="$("${PSQL[@]}" -c "SELECT count(*) FROM etl_objects")"
  rows="$("${PSQL[@]}" -c "SELECT count(*) FROM events")"
  if [ "$loaded" != "$OBJECTS" ] || [ "$rows" != "$((OBJECTS * ROWS))" ]; then
    echo "MISMATCH with $workers worker(s): $loaded objects, $rows rows loaded" >&2
    exit 1
  fi
  RESULT[$workers]="$(echo "$OBJECTS / $seconds" | bc -l)"
  printf 'workers %d: %d objects in %.2f s (%.1f objects/s)\n' "$workers" "$OBJECTS" "$seconds" "${RESULT[$workers]}" >&2
done

printf 'objects              %d of %d rows (fsync and synchronous_commit on)\n' "$OBJECTS" "$ROWS"
for workers in $WORKERS; do
  printf 'workers %-12d %.1f objects/s\n' "$workers" "${RESULT[$workers]}"
done
