# shellcheck shell=bash
# Shared by the benchmarks (sourced): free loopback ports, timing, and a PostgreSQL and a moto_server started on
# free ports and stopped by pid (with the scratch data directory removed) when the benchmark exits; building etl,
# the peers' venv, the environment of a load, and timing and checking one load.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# The Python peers' interpreter and the versions pinned for them (used by the scripts that source this file).
# shellcheck disable=SC2034
PY="$ROOT/.work/venv/bin/python"
PSYCOPG="psycopg[binary]==3.3.9"
# shellcheck disable=SC2034
PEER_PINS=("$PSYCOPG" "pyarrow==26.0.1" "boto3==1.43.11")
# The `events` table's columns, in the order of data/gen_events.py's expected rows.
COLUMNS="event_id, occurred_at, user_id, country, device, event_type, amount, session_seconds, is_fraud, comment"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
wait_port() { until python3 -c "import socket; socket.create_connection(('127.0.0.1', $1))" 2>/dev/null; do sleep 0.1; done; }

PIDS=()
stop_servers() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done
  rm -rf "$BENCH_WORK/pg"
}

# start_servers WORK [postgres -c options...]: PostgreSQL (as the `postgres` user when run as root) with its data
# under WORK/pg and its log in WORK/pg.log, and moto_server; sets PG_PORT, MOTO_PORT and PGBIN.
start_servers() {
  BENCH_WORK="$1"; shift
  rm -rf "$BENCH_WORK/pg"
  mkdir -p "$BENCH_WORK/pg"
  PGBIN="$(pg_config --bindir)"
  local as_pg=()
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres:postgres "$BENCH_WORK/pg"
    as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --)
  fi
  trap stop_servers EXIT
  PG_PORT="$(free_port)"
  "${as_pg[@]}" "$PGBIN/initdb" -U postgres -A trust -E UTF8 --no-sync --locale=C -D "$BENCH_WORK/pg/data" >/dev/null
  "${as_pg[@]}" "$PGBIN/postgres" -D "$BENCH_WORK/pg/data" -p "$PG_PORT" -h 127.0.0.1 -k "$BENCH_WORK/pg/data" \
    "$@" >"$BENCH_WORK/pg.log" 2>&1 &
  PIDS+=($!)
  MOTO_PORT="$(free_port)"
  moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$BENCH_WORK/moto.log" 2>&1 &
  PIDS+=($!)
  until "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres; do sleep 0.1; done
  wait_port "$MOTO_PORT"
}

# build_etl ROOT: builds etl in release mode and sets BIN to it, in the target directory cargo uses (CARGO_TARGET_DIR
# or the workspace's `target`).
build_etl() {
  echo "building etl (release)..." >&2
  cargo build --release -p etl --quiet --manifest-path "$1/Cargo.toml"
  BIN="$(cargo metadata --format-version 1 --no-deps --manifest-path "$1/Cargo.toml" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/etl"
}

# venv_install PYTHON 'import check' SPEC...: pip installs the pinned SPECs into the venv of PYTHON (created when
# missing) unless the import check already passes.
venv_install() {
  local py="$1" check="$2"
  shift 2
  [ -x "$py" ] || python3 -m venv "$(dirname "$(dirname "$py")")"
  if ! "$py" -c "$check" 2>/dev/null; then
    echo "installing $* into $(dirname "$(dirname "$py")") for the Python peers..." >&2
    "$py" -m pip install --quiet --disable-pip-version-check "$@"
  fi
}

# bench_env: the AWS and ETL_* environment for moto and the PostgreSQL of start_servers, PSQL, the bucket `bench`
# and the migrated tables. Needs ROOT, WORK and BIN.
bench_env() {
  export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
  export ETL_BUCKET=bench ETL_DATASET="$ROOT/data/events.toml" ETL_LOG_FORMAT=json
  export ETL_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
  PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)
  python3 -c "import boto3; boto3.client('s3').create_bucket(Bucket='bench')"
  "$BIN" migrate >"$WORK/migrate.log"
}

reset_tables() {
  "${PSQL[@]}" -c "TRUNCATE events, etl_rejects, etl_objects RESTART IDENTITY" -c "CHECKPOINT"
}

# check_load TOOL EXPECTED: dumps the table (COLUMNS, then etl_object_id) and compares it with the expected rows; a
# difference stops the benchmark.
check_load() {
  local tool="$1" expected="$2"
  "${PSQL[@]}" -c "\\copy (SELECT $COLUMNS, etl_object_id FROM events ORDER BY event_id) TO '$WORK/loaded.tsv'"
  if ! cmp -s "$WORK/loaded.tsv" "$expected"; then
    echo "MISMATCH: the table $tool loaded differs from $expected" >&2
    exit 1
  fi
}

# timed TOOL ROWS COMMAND...: runs COMMAND under /usr/bin/time (stdout to WORK/TOOL.log) and appends "seconds
# peak_rss_kib cpu_seconds" to WORK/times-TOOL-ROWS.
timed() {
  local tool="$1" rows="$2"
  shift 2
  local t0
  t0="$(now)"
  /usr/bin/time -f "%M %U %S" -o "$WORK/rusage" "$@" >"$WORK/$tool.log"
  local seconds rss user sys
  seconds="$(echo "$(now) - $t0" | bc)"
  read -r rss user sys <"$WORK/rusage"
  echo "$seconds $rss $(echo "$user + $sys" | bc)" >>"$WORK/times-$tool-$rows"
}
