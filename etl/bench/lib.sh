# shellcheck shell=bash
# Shared by the benchmarks (sourced): free loopback ports, timing, and a PostgreSQL and a moto_server started on
# free ports and stopped by pid (with the scratch data directory removed) when the benchmark exits.

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
