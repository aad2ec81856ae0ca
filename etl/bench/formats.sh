#!/usr/bin/env bash
# Benchmark: the formats of issue 16 against the plain CSV load, on the SAME rows as etl/bench/bench.sh
# (data/gen_events.py --seed 42 --pad), in one run, each load interleaved with the others BENCH_REPEAT times:
#   1. `etl process` on the CSV gzip-compressed vs on the CSV as it is, and vs `gzip -dc expected.tsv.gz | psql \copy`;
#   2. `etl process` on the same records as gzip JSON Lines (a spec equal to data/events.toml with
#      `[source] format = "jsonl"`) vs the CSV load, and the Python peer (etl/bench/peer.py --format jsonl);
#   3. `etl process` on the same records as Parquet (pyarrow, Snappy, 128Ki-row groups, string columns) vs the CSV
#      load, and the Python peer (peer.py --format parquet: boto3 + pyarrow + psycopg), with etl's peak RSS and the
#      largest row group's compressed column chunks, the bound etl holds per Parquet load;
#   4. the CSV split into BENCH_OBJECTS objects (default 200) loaded from moto directly, through
#      etl/tests/it/fault_proxy.py cutting no body, and through it cutting 5% of GET bodies half-way (counting
#      etl's resumes): each of these is a first run on an empty table and must end exact.
#
#   etl/bench/formats.sh [ROWS]       default $BENCH_ROWS or 1000000 (~180 bytes a row of CSV)
#   BENCH_REPEAT=3                    runs of each load, interleaved; medians are reported (default 3)
#
# Every load is dumped and compared byte for byte with the rows data/gen_events.py computed independently. Starts
# its own PostgreSQL (fsync and synchronous_commit on), moto_server and two fault proxies on free loopback ports and
# stops them by pid on exit. The peers need psycopg, pyarrow and boto3 in .work/venv (installed on first use).
# Scratch files go to .work/bench-formats (gitignored).
set -euo pipefail

ROWS="${1:-${BENCH_ROWS:-1000000}}"
REPEAT="${BENCH_REPEAT:-3}"
OBJECTS="${BENCH_OBJECTS:-200}"
CUT=0.05

# shellcheck source=etl/bench/lib.sh
. "$(dirname "$0")/lib.sh"
HERE="$ROOT/etl/bench"
WORK="$ROOT/.work/bench-formats"

build_etl "$ROOT"
venv_install "$PY" 'import psycopg, pyarrow, boto3' "${PEER_PINS[@]}"
mkdir -p "$WORK"

DATA="$WORK/$ROWS"
CSV="$DATA/events.csv"
EXPECTED="$DATA/expected.tsv"
if [ ! -s "$DATA/events.parquet" ]; then
  echo "generating $ROWS rows as CSV, JSON Lines and Parquet..." >&2
  mkdir -p "$DATA"
  python3 "$ROOT/data/gen_events.py" --rows "$ROWS" --seed 42 --pad --csv "$CSV" --jsonl "$DATA/events.jsonl" \
    --expected "$EXPECTED" --copy-object-id 1
  gzip -c "$CSV" >"$DATA/events.csv.gz"
  gzip -c "$DATA/events.jsonl" >"$DATA/events.jsonl.gz"
  gzip -c "$EXPECTED" >"$EXPECTED.gz"
  # The split objects get other etl_object_ids: their check leaves that column out.
  cut -f1-10 "$EXPECTED" >"$DATA/expected-rows.tsv"
  "$PY" - "$DATA/events.jsonl" "$DATA/events.parquet" <<'PY'
import sys

import pyarrow as pa
import pyarrow.json
import pyarrow.parquet as pq

names = ["event_id", "occurred_at", "user_id", "country", "device", "event_type", "amount", "session_seconds",
         "is_fraud", "comment"]
schema = pa.schema([(name, pa.string()) for name in names])
table = pyarrow.json.read_json(sys.argv[1], parse_options=pyarrow.json.ParseOptions(explicit_schema=schema))
pq.write_table(table, sys.argv[2], row_group_size=128 * 1024, compression="snappy")
PY
  rm "$DATA/events.jsonl"
fi
for format in jsonl parquet; do
  { cat "$ROOT/data/events.toml"; printf '\n[source]\nformat = "%s"\n' "$format"; } >"$WORK/events-$format.toml"
done

start_servers "$WORK" -c fsync=on -c synchronous_commit=on -c max_wal_size=8GB -c shared_buffers=256MB
CLEAN_PORT="$(free_port)"
python3 "$ROOT/etl/tests/it/fault_proxy.py" "$CLEAN_PORT" "$MOTO_PORT" >"$WORK/proxy-clean.log" 2>&1 &
PIDS+=($!)
FAULT_PORT="$(free_port)"
python3 "$ROOT/etl/tests/it/fault_proxy.py" "$FAULT_PORT" "$MOTO_PORT" --cut "$CUT" >"$WORK/proxy-faults.log" 2>&1 &
PIDS+=($!)
wait_port "$CLEAN_PORT"
wait_port "$FAULT_PORT"
bench_env

echo "uploading..." >&2
for file in events.csv events.csv.gz events.jsonl.gz events.parquet; do
  "$BIN" ingest "$DATA/$file" --prefix "fmt/${file//./-}" >"$WORK/ingest.log"
done
python3 "$HERE/s3_floor.py" put bench fmt/parts "$CSV" "$OBJECTS"
read -r -a PARQUET_RG <<<"$("$PY" -c '
import sys, pyarrow.parquet as pq
m = pq.ParquetFile(sys.argv[1]).metadata
sizes = [sum(m.row_group(i).column(c).total_compressed_size for c in range(m.num_columns))
         for i in range(m.num_row_groups)]
print(m.num_row_groups, m.row_group(0).num_rows, max(sizes))' "$DATA/events.parquet")"

DSN="${ETL_DATABASE_URL%%\?*}"
# One load, timed, then checked: TOOL then the command.
load() {
  local tool="$1"
  shift
  reset_tables
  timed "$tool" "$ROWS" "$@"
  check_load "$tool" "$EXPECTED"
}
# A load of the split objects (other etl_object_ids) through the endpoint ENDPOINT, checked on the rows alone.
load_parts() {
  local tool="$1" endpoint="$2"
  reset_tables
  AWS_ENDPOINT_URL="$endpoint" timed "$tool" "$ROWS" "$BIN" process --prefix fmt/parts
  check_rows "$tool"
}
# check_rows TOOL: the table without etl_object_id equals the expected rows, and every object is in the ledger.
check_rows() {
  "${PSQL[@]}" -c "\\copy (SELECT $COLUMNS FROM events ORDER BY event_id) TO '$WORK/loaded.tsv'"
  cmp -s "$WORK/loaded.tsv" "$DATA/expected-rows.tsv" || {
    echo "MISMATCH: the table $1 loaded differs from $DATA/expected-rows.tsv" >&2
    exit 1
  }
  local objects
  objects="$("${PSQL[@]}" -t -A -c "SELECT count(*) FROM etl_objects")"
  [ "$objects" = "$OBJECTS" ] || { echo "MISMATCH: $objects objects in the ledger after $1" >&2; exit 1; }
}

rm -f "$WORK"/times-*-"$ROWS" "$WORK/resumes-$ROWS"
for i in $(seq "$REPEAT"); do
  load etl-csv "$BIN" process --prefix fmt/events-csv
  load etl-csv-gz "$BIN" process --prefix fmt/events-csv-gz
  # shellcheck disable=SC2016 # the inner bash expands them
  load pipe-gz bash -c 'gzip -dc "$1" | "${@:2}"' _ "$EXPECTED.gz" \
    "${PSQL[@]}" -c "\\copy events ($COLUMNS, etl_object_id) FROM STDIN"
  load etl-jsonl "$BIN" process --prefix fmt/events-jsonl-gz --dataset "$WORK/events-jsonl.toml"
  load peer-jsonl "$PY" "$HERE/peer.py" --format jsonl --bucket bench --key fmt/events-jsonl-gz/events.jsonl.gz \
    --dataset "$WORK/events-jsonl.toml" --dsn "$DSN" --object-id 1
  load etl-parquet "$BIN" process --prefix fmt/events-parquet --dataset "$WORK/events-parquet.toml"
  load peer-parquet "$PY" "$HERE/peer.py" --format parquet --bucket bench --key fmt/events-parquet/events.parquet \
    --dataset "$WORK/events-parquet.toml" --dsn "$DSN" --object-id 1
  load_parts etl-parts "http://127.0.0.1:$MOTO_PORT"
  load_parts etl-proxy "http://127.0.0.1:$CLEAN_PORT"
  load_parts etl-faults "http://127.0.0.1:$FAULT_PORT"
  grep -c 'Resuming the download.' "$WORK/etl-faults.log" >>"$WORK/resumes-$ROWS" || echo 0 >>"$WORK/resumes-$ROWS"
  echo "$ROWS rows, run $i of $REPEAT done ($(tail -n1 "$WORK/resumes-$ROWS") resumes)" >&2
done

python3 - "$WORK" "$ROWS" "$OBJECTS" "$CUT" "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" \
  "$(stat -c %s "$CSV")" "${PARQUET_RG[@]}" <<'PY'
import statistics
import sys

work, rows, objects, cut, cores, cpu, csv_bytes, groups, group_rows, group_bytes = sys.argv[1:]
rows = int(rows)
runs = {}
for tool in ("etl-csv", "etl-csv-gz", "pipe-gz", "etl-jsonl", "peer-jsonl", "etl-parquet", "peer-parquet",
             "etl-parts", "etl-proxy", "etl-faults"):
    with open(f"{work}/times-{tool}-{rows}") as f:
        runs[tool] = [tuple(float(x) for x in line.split()) for line in f]
with open(f"{work}/resumes-{rows}") as f:
    resumes = [int(line) for line in f]
med = {tool: statistics.median(r[0] for r in v) for tool, v in runs.items()}

print(f"machine: {cpu}, {cores} cores; PostgreSQL with fsync and synchronous_commit on; {rows:,} rows "
      f"({int(csv_bytes) / 1048576:.0f} MiB of CSV); medians of {len(runs['etl-csv'])} [min-max]")
# (tool, label, compared with, target: ("<=" or ">=", bound) or None, etl's resources shown)
lines = [
    ("etl-csv", "etl, CSV", None, None, True),
    ("etl-csv-gz", "etl, CSV gzip", "etl-csv", ("<=", 1.15), True),
    ("pipe-gz", "gzip -dc | psql \\copy", "etl-csv-gz", (">=", 1.0), False),
    ("etl-jsonl", "etl, JSON Lines gzip", "etl-csv", ("<=", 1.3), True),
    ("peer-jsonl", "peer, JSON Lines gzip", "etl-jsonl", (">=", 3.0), False),
    ("etl-parquet", "etl, Parquet Snappy", "etl-csv", ("<=", 1.0), True),
    ("peer-parquet", "peer, Parquet (pyarrow)", "etl-parquet", None, False),
    ("etl-parts", f"etl, {objects} objects direct", None, None, True),
    ("etl-proxy", f"etl, {objects} via proxy, no cut", "etl-parts", None, True),
    ("etl-faults", f"etl, {objects} via proxy, {float(cut):.0%} cut", "etl-parts", ("<=", 1.2), True),
]
print(" | ".join(["load".ljust(30), "time".rjust(21), "ratio".rjust(28), "target".rjust(14), "etl CPU",
                  "etl peak RSS"]))
held = []
for tool, label, base, target, own in lines:
    r = runs[tool]
    cell = "{:7.2f} s [{:.2f}-{:.2f}]".format(med[tool], min(x[0] for x in r), max(x[0] for x in r))
    ratio, goal = "", ""
    if base:
        value = med[tool] / med[base]
        ratio = f"{value:.2f}x {base}"
        if target:
            op, bound = target
            ok = value <= bound if op == "<=" else value >= bound
            goal = f"{op} {bound:.2f} {'held' if ok else 'MISSED'}"
            held.append(ok)
    resources = ""
    if own:
        resources = "{:5.2f} s | {:6.1f} MiB".format(statistics.median(x[2] for x in r), max(x[1] for x in r) / 1024)
    print(" | ".join([label.ljust(30), cell, ratio.rjust(28), goal.rjust(14), resources]))
print(f"resumes in the cut runs: {', '.join(map(str, resumes))} (each first run ended exact)")
print(f"Parquet: {groups} row groups of {int(group_rows):,} rows; the largest's compressed column chunks "
      f"{int(group_bytes) / 1048576:.1f} MiB; etl peak RSS {max(x[1] for x in runs['etl-parquet']) / 1024:.1f} MiB "
      f"vs {max(x[1] for x in runs['etl-csv']) / 1024:.1f} MiB for the CSV load")
print(f"targets held: {sum(held)} of {len(held)}")
PY
