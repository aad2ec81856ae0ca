#!/usr/bin/env bash
# Benchmark: `etl process` end to end (moto S3 -> parse -> transform -> binary COPY) against, in the same run and
# interleaved, `psql \copy` of the already transformed rows into the same table (the physical limit of the load) and
# a streaming Python peer (etl/bench/peer.py: boto3 -> csv -> re -> psycopg COPY).
#
#   etl/bench/bench.sh [ROWS...]      sizes to run; default $BENCH_ROWS or "100000 1000000" (~180 bytes a row)
#   etl/bench/bench.sh 10000000       the 10M-row size on request (1.7 GiB of CSV, about 15 minutes)
#   BENCH_REPEAT=3                    runs of each tool per size, interleaved; medians are reported (default 3)
#
# Starts its own PostgreSQL (as the `postgres` user when run as root) with fsync and synchronous_commit on, and
# moto_server, on free loopback ports; stops them by pid on exit. Every load is dumped and compared byte for byte
# with the rows data/gen_events.py computed independently. The peer needs psycopg in .work/venv; it is installed
# there on first use. Scratch files go to .work/bench (gitignored).
set -euo pipefail

read -r -a SIZES <<<"${*:-${BENCH_ROWS:-100000 1000000}}"
REPEAT="${BENCH_REPEAT:-3}"
# shellcheck source=etl/bench/lib.sh
. "$(dirname "$0")/lib.sh"
WORK="$ROOT/.work/bench"

build_etl "$ROOT"
venv_install "$PY" 'import psycopg, boto3' "$PSYCOPG"
start_servers "$WORK" -c fsync=on -c synchronous_commit=on -c max_wal_size=8GB -c shared_buffers=256MB
bench_env

for ROWS in "${SIZES[@]}"; do
  CSV="$WORK/events-$ROWS.csv"
  EXPECTED="$WORK/events-$ROWS.tsv"
  if [ ! -s "$CSV" ] || [ ! -s "$EXPECTED" ]; then
    echo "generating $ROWS rows..." >&2
    python3 "$ROOT/data/gen_events.py" --rows "$ROWS" --seed 42 --pad --csv "$CSV" --expected "$EXPECTED" \
      --copy-object-id 1
  fi
  PREFIX="bench/$ROWS"
  echo "uploading $(($(stat -c %s "$CSV") / 1048576)) MiB with etl ingest..." >&2
  "$BIN" ingest "$CSV" --prefix "$PREFIX" >"$WORK/ingest.log"
  rm -f "$WORK"/times-*-"$ROWS"
  for i in $(seq "$REPEAT"); do
    reset_tables
    timed copy "$ROWS" "${PSQL[@]}" -c "\\copy events ($COLUMNS, etl_object_id) FROM '$EXPECTED'"
    check_load "psql \\copy" "$EXPECTED"
    reset_tables
    timed etl "$ROWS" "$BIN" process --prefix "$PREFIX"
    check_load "etl process" "$EXPECTED"
    reset_tables
    timed peer "$ROWS" "$PY" "$ROOT/etl/bench/peer.py" --bucket bench --key "$PREFIX/$(basename "$CSV")" \
      --dataset "$ROOT/data/events.toml" --dsn "${ETL_DATABASE_URL%%\?*}" --object-id 1
    check_load "the Python peer" "$EXPECTED"
    echo "$ROWS rows, run $i of $REPEAT: \\copy $(tail -n1 "$WORK/times-copy-$ROWS" | cut -d' ' -f1)s," \
      "etl $(tail -n1 "$WORK/times-etl-$ROWS" | cut -d' ' -f1)s, peer $(tail -n1 "$WORK/times-peer-$ROWS" | cut -d' ' -f1)s" >&2
  done
done

python3 - "$WORK" "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "${SIZES[@]}" <<'PY'
import statistics
import sys

work, cores, cpu, sizes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
print(f"machine: {cpu}, {cores} cores; PostgreSQL with fsync and synchronous_commit on; medians [min-max]")
names = ["rows".rjust(10), "psql \\copy".rjust(21), "etl process".rjust(21), "Python peer".rjust(21)]
print(" | ".join(names + ["etl/\\copy", "peer/etl", "etl CPU", "etl peak RSS"]))
rss = []
for rows in sizes:
    runs = {}
    for tool in ("copy", "etl", "peer"):
        with open(f"{work}/times-{tool}-{rows}") as f:
            runs[tool] = [tuple(float(x) for x in line.split()) for line in f]
    med = {tool: statistics.median(r[0] for r in v) for tool, v in runs.items()}
    cell = lambda tool: "{:7.2f} s [{:.2f}-{:.2f}]".format(
        med[tool], min(r[0] for r in runs[tool]), max(r[0] for r in runs[tool]))
    peak = max(r[1] for r in runs["etl"]) / 1024
    rss.append(peak)
    cpu_s = statistics.median(r[2] for r in runs["etl"])
    print(f"{int(rows):>10,} | {cell('copy')} | {cell('etl')} | {cell('peer')} | {med['etl'] / med['copy']:8.2f}x"
          f" | {med['peer'] / med['etl']:7.2f}x | {cpu_s:5.2f} s | {peak:6.1f} MiB")
print("targets: etl/\\copy <= 0.85 at 1M rows; peer/etl >= 2.5; etl peak RSS <= 32 MiB, flat across sizes"
      f" (here {min(rss):.1f}-{max(rss):.1f} MiB)")
PY
