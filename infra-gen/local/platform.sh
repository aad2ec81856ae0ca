#!/usr/bin/env bash
# The local platform: the generated Terraform applied to the moto AWS emulator, and the ETL loading a private
# PostgreSQL cluster that stands in for RDS. No AWS account, no network beyond 127.0.0.1.
#
#   platform.sh up       start moto + PostgreSQL, gen, terraform apply, etl migrate/ingest, the event path (S3 ->
#                        SQS -> etl process --queue), the listing sweep, print a report
#   platform.sh down     stop exactly the processes `up` started and remove their state (logs are kept)
#   platform.sh status   show what is running and where
#   platform.sh env      print the exports that point aws/etl/psql at the running local platform
#   platform.sh e2e      the end-to-end test on the all-features configuration (E2E_CONFIG, default
#                        infra-gen/tests/it/fixtures/full.toml): apply (bootstrap module, then the platform),
#                        converged plans, every resource type any configuration emits was created, ETL rows equal
#                        data/events.expected.tsv, destroy (platform, then bootstrap) leaves nothing, down; prints
#                        per-phase timings; its own instance, so it can run while a demo is up
#   platform.sh plan [CONFIG.toml|default ...]
#                        terraform plan of each configuration (default: the defaults and every fixture in
#                        infra-gen/tests/it/fixtures) against one moto, each in .work/local/plan/configs/<name>/
#                        with tfplan and plan.json (its bootstrap module planned first, in bootstrap/, and its keys
#                        applied, which the platform reads);
#                        fails naming every configuration that does not plan
#
# State lives in <repo>/.work/local/<instance>/ (instance `demo`, or `e2e`): pids, ports, logs, the PostgreSQL
# cluster, the terraform work dir. Environment overrides:
#   TF_PLUGIN_MIRROR   provider filesystem mirror (default: /opt/tf-plugins, else found with `find`)
#   TF_TIMEOUT_APPLY / TF_TIMEOUT_DESTROY / TF_TIMEOUT_PLAN / TF_TIMEOUT_INIT   seconds (600/600/300/180)
#   PLATFORM_VERBOSE=1 stream terraform and etl output instead of only writing it to the logs
#   PLATFORM_CONFIG    a platform.toml to generate from instead of out/ (e.g. infra-gen/tests/it/fixtures/full.toml,
#                      which turns the worker fleet on); generated straight into the work dir, out/ is not touched
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# The override file and the types check (localtf.py), the calls to moto (emulator.py), what is read of the ETL
# (etlreport.py).
localtf=$here/localtf.py
emulator=$here/emulator.py
etlreport=$here/etlreport.py
dataset=$root/data/events.toml
samples=("$root/data/events.csv")
expected=$root/data/events.expected.tsv
expected_rejects=$root/data/events.rejects.tsv
# The keyed sample: a merge-mode dataset loaded as a snapshot and then a correction.
keyed_dataset=$root/data/users.toml
keyed_expected=$root/data/users.expected.tsv
prefix=raw/events
venv=$root/.work/venv
fixtures_dir=$root/infra-gen/tests/it/fixtures

instance=demo
set_instance() {
  instance=$1
  state=$root/.work/local/$instance
  logs=$state/logs
  tfdir=$state/terraform
  pgdir=$state/pg
}
set_instance demo

# ── output ─────────────────────────────────────────────────────────────────────────────────────────────────────
say() { printf '%s\n' "$*"; }
note() { printf '  %s\n' "$*"; }
fail() {
  printf 'platform: %s\n' "$*" >&2
  exit 1
}
now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

phase_names=()
phase_secs=()
current_phase=
phase_start=
begin() {
  current_phase=$1
  phase_start=$(now)
  say "==> $1"
}
end() {
  local secs
  secs=$(elapsed "$phase_start")
  phase_names+=("$current_phase")
  phase_secs+=("$secs")
  say "    done: $current_phase (${secs}s)"
  current_phase=
}
timings() {
  local i
  say "Timings:"
  for i in "${!phase_names[@]}"; do
    printf '  %-28s %7ss\n' "${phase_names[$i]}" "${phase_secs[$i]}"
  done
}

# Runs a command with its output in a log file (streamed too with PLATFORM_VERBOSE=1); on failure prints the
# log's last lines and stops with a one-line reason.
logged() {
  local log=$1 what=$2
  shift 2
  local rc=0 from=1
  [[ -f $log ]] && from=$(($(wc -l <"$log") + 1))
  say "    $what (log: ${log#"$root"/})"
  if [[ ${PLATFORM_VERBOSE:-0} == 1 ]]; then
    "$@" 2>&1 | tee -a "$log" || rc=${PIPESTATUS[0]}
  else
    "$@" >>"$log" 2>&1 || rc=$?
  fi
  if ((rc != 0)); then
    # Terraform's own error blocks when there are any, else the last lines of this command's output.
    if tail -n +"$from" "$log" | grep -q '^Error: '; then
      tail -n +"$from" "$log" | sed -n '/^Error: /,$p' | head -n 40 | sed 's/^/    | /' >&2
    else
      tail -n +"$from" "$log" | tail -n 25 | sed 's/^/    | /' >&2
    fi
    if ((rc == 124)); then
      fail "$what timed out (log: $log)"
    fi
    fail "$what failed with exit code $rc (log: $log)"
  fi
}

# ── prerequisites ──────────────────────────────────────────────────────────────────────────────────────────────
# shellcheck source=SCRIPTDIR/../../.ci/prereqs.sh
source "$root/.ci/prereqs.sh"
pg_bin=
moto_bin=

# `.ci/setup demo` checks the prerequisites (one line per missing one, with how to install it) and installs
# moto_server into .work/venv where PATH has none; .ci/prereqs.sh then says where the tools are.
prerequisites() {
  bash "$root/.ci/setup" demo || fail "install the missing prerequisites above and run again"
  pg_bin=$(pg_bindir) || fail "no PostgreSQL server binaries (initdb, pg_ctl) after .ci/setup demo"
  moto_bin=$(moto_server_path "$venv") || fail "no moto_server after .ci/setup demo"
}

# ── processes ──────────────────────────────────────────────────────────────────────────────────────────────────
# A recorded pid counts only while it is alive and still the program we started (pids get reused).
alive() {
  local pidfile=$1 pattern=$2 pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pattern"
}

stop_pid() {
  local pidfile=$1 pattern=$2 name=$3 pid i
  if ! alive "$pidfile" "$pattern"; then
    rm -f "$pidfile"
    return
  fi
  pid=$(<"$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    alive "$pidfile" "$pattern" || break
    sleep 0.1
  done
  if alive "$pidfile" "$pattern"; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  note "stopped $name (pid $pid)"
  rm -f "$pidfile"
}

# Everything PostgreSQL runs as the postgres OS user when we are root (the server refuses root).
as_pg() {
  if ((EUID == 0)); then
    (cd "$pgdir" && runuser -u postgres -- "$@")
  else
    (cd "$pgdir" && "$@")
  fi
}

moto_url() { printf 'http://127.0.0.1:%s' "$(<"$state/moto.port")"; }

# A stand-in for Canonical's Ubuntu 24.04 AMI: moto has no Canonical images. No creation_date on purpose:
# moto's reset endpoint fails on AMI entries that carry one.
local_ami=ami-0ub2404local0000a
write_amis() {
  cat >"$state/amis.json" <<EOF
[
  {
    "ami_id": "$local_ami",
    "name": "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-local",
    "description": "Local stand-in for Canonical Ubuntu 24.04 LTS (moto emulator)",
    "owner_id": "099720109477",
    "public": true,
    "state": "available",
    "architecture": "x86_64",
    "virtualization_type": "hvm",
    "hypervisor": "xen",
    "image_type": "machine",
    "root_device_type": "ebs",
    "root_device_name": "/dev/sda1",
    "sriov": "simple",
    "image_location": "099720109477/ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-local"
  }
]
EOF
}

start_moto() {
  if alive "$state/moto.pid" moto_server; then
    note "moto_server already running (pid $(<"$state/moto.pid"), $(moto_url))"
    return
  fi
  # A new emulator is empty: any terraform state from an earlier one describes nothing that exists.
  # The ETL ledger then describes object versions that no longer exist: write_etl_env starts the database over.
  rm -f "$tfdir/terraform.tfstate" "$tfdir/terraform.tfstate.backup" "$state/etl.env"
  touch "$state/fresh-emulator"
  write_amis
  local port
  port=$(python3 "$emulator" port)
  # Managed policies (CloudWatch agent, SSM) can only be loaded at start; the AMI list too.
  MOTO_IAM_LOAD_MANAGED_POLICIES=true MOTO_AMIS_PATH=$state/amis.json \
    "$moto_bin" -H 127.0.0.1 -p "$port" </dev/null >>"$logs/moto.log" 2>&1 &
  echo $! >"$state/moto.pid"
  echo "$port" >"$state/moto.port"
  python3 "$emulator" wait-http "http://127.0.0.1:$port/moto-api/" 60 ||
    fail "moto_server did not start (log: $logs/moto.log)"
  alive "$state/moto.pid" moto_server || fail "moto_server exited (log: $logs/moto.log)"
  note "moto_server pid $(<"$state/moto.pid") on $(moto_url) (log: ${logs#"$root"/}/moto.log)"
}

start_pg() {
  local data=$pgdir/data
  if alive "$state/pg.pid" postgres; then
    note "PostgreSQL already running (pid $(<"$state/pg.pid"), 127.0.0.1:$(<"$state/pg.port"))"
    return
  fi
  mkdir -p "$pgdir"
  touch "$logs/postgres.log"
  if ((EUID == 0)); then
    chown postgres "$pgdir" "$logs/postgres.log"
    runuser -u postgres -- test -x "$pgdir" ||
      fail "the postgres OS user cannot reach $pgdir: make its parent directories world-searchable (chmod o+x)"
  fi
  if [[ ! -f $data/PG_VERSION ]]; then
    rm -rf "$data"
    (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(16))' >"$pgdir/password")
    ((EUID != 0)) || chown postgres "$pgdir/password"
    logged "$logs/postgres.log" "initdb" as_pg "$pg_bin/initdb" -D "$data" -U postgres --pwfile="$pgdir/password" \
      --auth=scram-sha-256 --encoding=UTF8 --no-locale
    # Loopback TCP only, no unix socket; a throwaway cluster does not need fsync.
    cat >>"$data/postgresql.conf" <<'EOF'
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
full_page_writes = off
timezone = 'UTC'
EOF
  fi
  local port
  port=$(python3 "$emulator" port)
  logged "$logs/postgres.log" "pg_ctl start" as_pg "$pg_bin/pg_ctl" -D "$data" -l "$logs/postgres.log" -w -t 60 \
    -o "-p $port" start
  head -n 1 "$data/postmaster.pid" >"$state/pg.pid"
  echo "$port" >"$state/pg.port"
  note "PostgreSQL pid $(<"$state/pg.pid") on 127.0.0.1:$port, cluster ${pgdir#"$root"/}/data (log: ${logs#"$root"/}/postgres.log)"
}

psql_local() {
  local psql_bin=psql
  [[ -x $pg_bin/psql ]] && psql_bin=$pg_bin/psql
  PGPASSWORD=$(<"$pgdir/password") PGOPTIONS='-c client_min_messages=warning' "$psql_bin" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(<"$state/pg.port")" \
    -U postgres "$@"
}

stop_all() {
  if alive "$state/pg.pid" postgres; then
    local pid
    pid=$(<"$state/pg.pid")
    as_pg "$pg_bin/pg_ctl" -D "$pgdir/data" -m fast -w -t 30 stop >>"$logs/postgres.log" 2>&1 || true
    stop_pid "$state/pg.pid" postgres "PostgreSQL"
    alive "$state/pg.pid" postgres || note "stopped PostgreSQL (pid $pid)"
  fi
  rm -f "$state/pg.pid"
  stop_pid "$state/moto.pid" moto_server "moto_server"
}

# ── terraform ──────────────────────────────────────────────────────────────────────────────────────────────────
find_mirror() {
  if [[ -n ${TF_PLUGIN_MIRROR:-} ]]; then
    [[ -d $TF_PLUGIN_MIRROR ]] || fail "TF_PLUGIN_MIRROR=$TF_PLUGIN_MIRROR is not a directory"
    printf '%s' "$TF_PLUGIN_MIRROR"
    return
  fi
  if [[ -d /opt/tf-plugins/registry.terraform.io ]]; then
    printf '/opt/tf-plugins'
    return
  fi
  local bin
  bin=$(timeout 120 find / -xdev \( -path /proc -o -path '*/.terraform' \) -prune -o \
    -path '*/registry.terraform.io/hashicorp/aws/*/terraform-provider-aws*' -print -quit 2>/dev/null || true)
  # <mirror>/registry.terraform.io/hashicorp/aws/<version>/<os_arch>/terraform-provider-aws_...
  [[ -n $bin ]] && dirname "$(dirname "$(dirname "$(dirname "$(dirname "$(dirname "$bin")")")")")"
}

# The project's own CLI config: providers from the local mirror (offline), the registry only without one; one
# plugin cache per instance, so the work dirs of `plan` link the provider instead of copying it each.
write_cli_config() {
  local mirror
  mirror=$(find_mirror || true)
  mkdir -p "$state/plugin-cache"
  if [[ -n $mirror ]]; then
    cat >"$state/terraformrc" <<EOF
plugin_cache_dir = "$state/plugin-cache"
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/*/*"]
  }
}
EOF
    note "providers from the filesystem mirror $mirror"
  else
    printf 'plugin_cache_dir = "%s"\nprovider_installation {\n  direct {}\n}\n' "$state/plugin-cache" >"$state/terraformrc"
    note "no provider mirror found (set TF_PLUGIN_MIRROR): providers come from registry.terraform.io"
  fi
}

tf() {
  local secs=$1
  shift
  TF_CLI_CONFIG_FILE=$state/terraformrc TF_IN_AUTOMATION=1 TF_INPUT=0 \
    timeout --kill-after=20 "$secs" terraform -chdir="$tfdir" "$@"
}

target_dir() {
  cargo metadata --format-version 1 --no-deps --locked 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# Builds the workspace binaries named (debug) into bin_dir: `plan` needs infra-gen only, `up` and `e2e` etl too.
build() {
  local bin args=()
  for bin in "$@"; do
    args+=(-p "$bin")
  done
  logged "$logs/build.log" "cargo build ${args[*]}" cargo build --locked --manifest-path "$root/Cargo.toml" "${args[@]}"
  bin_dir=$(cd "$root" && target_dir)/debug
  for bin in "$@"; do
    [[ -x $bin_dir/$bin ]] || fail "built binary $bin not found in $bin_dir"
  done
}

in_dir() {
  local dir=$1
  shift
  (cd "$dir" && "$@")
}
in_root() { in_dir "$root" "$@"; }

# `infra-gen gen` of CONFIG (a platform.toml, or `default` for the built-in defaults) into DIR; out/ is left alone.
gen_into() {
  local dir=$1 config=$2
  mkdir -p "$dir"
  if [[ $config == default ]]; then
    # In DIR, where no platform.toml can be picked up.
    logged "$logs/gen.log" "infra-gen gen (defaults)" in_dir "$dir" "$bin_dir/infra-gen" gen --out .
  else
    logged "$logs/gen.log" "infra-gen gen --config ${config#"$root"/}" \
      in_root "$bin_dir/infra-gen" gen --config "$config" --out "$dir"
  fi
}

# Generates a configuration into the terraform work dir and writes the local override there. Without CONFIG it
# runs `infra-gen gen` as a user would (./platform.toml or the defaults into out/) and copies out/; with CONFIG
# (a platform.toml, or `default` for the built-in defaults) it generates straight into the work dir and out/ is
# left alone.
generate() {
  local config=${1:-${PLATFORM_CONFIG:-}}
  mkdir -p "$tfdir"
  rm -f "$tfdir"/*.tf.json "$tfdir"/bootstrap/*.tf.json
  if [[ -z $config ]]; then
    logged "$logs/gen.log" "infra-gen gen" in_root "$bin_dir/infra-gen" gen
    compgen -G "$root/out/*.tf.json" >/dev/null || fail "infra-gen gen wrote no out/*.tf.json"
    cp "$root"/out/*.tf.json "$tfdir/"
  else
    gen_into "$tfdir" "$config"
  fi
  compgen -G "$tfdir/*.tf.json" >/dev/null || fail "infra-gen gen wrote no *.tf.json into $tfdir"
  write_override "$tfdir"
  printf '%s\n' "$override_region" >"$state/region"
  note "$(find "$tfdir" -maxdepth 1 -name '*.tf.json' ! -name local_override.tf.json | wc -l) generated files + local_override.tf.json in ${tfdir#"$root"/}"
}

# Writes the local override into the root module in DIR (localtf.py), then creates in moto what the configuration
# expects to find there (the AMI parameter, GitHub's OIDC provider); sets override_region to the provider's region.
override_region=
write_override() {
  local dir=$1 seeds kind key value
  seeds=$(python3 "$localtf" override "$dir" "$local_ami" "$(moto_url)") ||
    fail "writing the override in ${dir#"$root"/} failed"
  while IFS=$'\t' read -r kind key value; do
    case $kind in
      region) override_region=$key ;;
      ssm)
        python3 "$emulator" seed-ssm "$(moto_url)" "$override_region" "$key" "$value"
        note "seeded SSM parameter $key = $value in moto ($override_region)"
        ;;
      oidc)
        python3 "$emulator" seed-oidc "$(moto_url)" "$key"
        note "seeded IAM OIDC provider $key in moto ($value looks it up)"
        ;;
      *) fail "unexpected line from localtf.py override: $kind" ;;
    esac
  done <<<"$seeds"
}

tf_init() {
  write_cli_config
  logged "$logs/terraform.log" "terraform init" tf "${TF_TIMEOUT_INIT:-180}" init -input=false -no-color
}

# A heartbeat while terraform waits on the provider (RDS and S3 lifecycle waits take a minute or more).
heartbeat() {
  local log=$1 verb=$2 done_word=$3 start=$SECONDS from
  from=$(wc -l <"$log")
  while sleep 15; do
    printf '    ... %ss, %s resources %s so far\n' "$((SECONDS - start))" \
      "$(tail -n +"$((from + 1))" "$log" | grep -c "$verb complete after")" "$done_word"
  done
}

# The command runs in a subshell so that a failure (which exits) still stops the heartbeat.
with_heartbeat() {
  local verb=$1 done_word=$2 pid rc=0
  shift 2
  heartbeat "$logs/terraform.log" "$verb" "$done_word" &
  pid=$!
  ("$@") || rc=$?
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return "$rc"
}

tf_apply() {
  with_heartbeat Creation created logged "$logs/terraform.log" "terraform apply" \
    tf "${TF_TIMEOUT_APPLY:-600}" apply -input=false -auto-approve -no-color
  grep -E '^Apply complete!' "$logs/terraform.log" | tail -n 1 | sed 's/^/    /'
  tf 60 output -json >"$state/outputs.json" || fail "terraform output -json failed"
}

# Second plan on the applied configuration: exit 0 means it converged. Prints the drifting addresses otherwise.
tf_plan_converged() {
  local rc=0
  say "    terraform plan -detailed-exitcode (log: ${logs#"$root"/}/plan.log)"
  tf "${TF_TIMEOUT_PLAN:-300}" plan -input=false -detailed-exitcode -no-color >"$logs/plan.log" 2>&1 || rc=$?
  case $rc in
    0) note "no changes: the configuration converges on moto" ;;
    2)
      grep -E '^  # |^Plan:' "$logs/plan.log" | sed 's/^/    | /' >&2
      fail "second plan is not empty: the resources above drift (log: $logs/plan.log)"
      ;;
    124) fail "terraform plan timed out (log: $logs/plan.log)" ;;
    *)
      tail -n 25 "$logs/plan.log" | sed 's/^/    | /' >&2
      fail "terraform plan failed with exit code $rc (log: $logs/plan.log)"
      ;;
  esac
}

# The bootstrap module (out/bootstrap/: the state bucket, the permissions boundary the platform's roles name, the
# CI identity) in its own work dir and state, applied before the platform as an administrator does it once.
bootstrap_dir() { printf '%s/bootstrap' "$state"; }

bootstrap_apply() {
  local dir
  dir=$(bootstrap_dir)
  mkdir -p "$dir"
  rm -f "$dir"/*.tf.json
  # A configuration generated into the work dir brought its own bootstrap module; otherwise out/'s.
  if compgen -G "$tfdir/bootstrap/*.tf.json" >/dev/null; then
    cp "$tfdir"/bootstrap/*.tf.json "$dir/"
  else
    cp "$root"/out/bootstrap/*.tf.json "$dir/"
  fi
  write_override "$dir"
  tfdir=$dir logged "$logs/bootstrap.log" "terraform init (bootstrap)" \
    tf "${TF_TIMEOUT_INIT:-180}" init -input=false -no-color
  tfdir=$dir logged "$logs/bootstrap.log" "terraform apply (bootstrap)" \
    tf "${TF_TIMEOUT_APPLY:-600}" apply -input=false -auto-approve -no-color
  grep -E '^Apply complete!' "$logs/bootstrap.log" | tail -n 1 | sed 's/^/    /'
  tfdir=$dir tf_plan_converged
}

bootstrap_destroy() {
  tfdir=$(bootstrap_dir) logged "$logs/bootstrap.log" "terraform destroy (bootstrap)" \
    tf "${TF_TIMEOUT_DESTROY:-600}" destroy -input=false -auto-approve -no-color
  grep -E '^Destroy complete!' "$logs/bootstrap.log" | tail -n 1 | sed 's/^/    /'
}

tf_destroy() {
  with_heartbeat Destruction destroyed logged "$logs/terraform.log" "terraform destroy" \
    tf "${TF_TIMEOUT_DESTROY:-600}" destroy -input=false -auto-approve -no-color
  grep -E '^Destroy complete!' "$logs/terraform.log" | tail -n 1 | sed 's/^/    /'
}

output() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["value"])' "$state/outputs.json" "$1" ||
    fail "terraform output $1 is missing"
}

# Every managed resource type that the defaults or any fixture emits must be in the applied state: a type the
# e2e never creates on the emulator is a type whose apply nobody has seen work.
types_applied() {
  local dir=$state/emitted config name missing
  rm -rf "$dir"
  for config in default "$fixtures_dir"/*.toml; do
    gen_into "$dir/$(basename "$config" .toml)" "$config" >/dev/null
  done
  tf 120 show -json >"$state/applied.json" || fail "terraform show -json failed"
  if ! missing=$(python3 "$localtf" types-applied "$state/applied.json" "$dir"/*/); then
    printf '%s\n' "$missing" | sed 's/^/    | /' >&2
    fail "resource types emitted by a configuration but never applied by the e2e: add them to the e2e configuration"
  fi
  note "$missing"
}

# ── etl ────────────────────────────────────────────────────────────────────────────────────────────────────────
write_etl_env() {
  local bucket region dbname
  bucket=$(output data_bucket_name)
  region=$(output region)
  dbname=$(output database_name)
  # moto's RDS has no endpoint to connect to: the local cluster takes its place, with the same database name.
  if [[ -f $state/fresh-emulator ]]; then
    psql_local -d postgres -c "DROP DATABASE IF EXISTS \"$dbname\" WITH (FORCE)"
    rm -f "$state/fresh-emulator"
  fi
  if [[ -z $(psql_local -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$dbname'") ]]; then
    psql_local -d postgres -c "CREATE DATABASE \"$dbname\""
  fi
  {
    printf 'export AWS_ENDPOINT_URL=%q\n' "$(moto_url)"
    printf 'export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test\n'
    printf 'export AWS_REGION=%q AWS_DEFAULT_REGION=%q\n' "$region" "$region"
    printf 'export ETL_BUCKET=%q\n' "$bucket"
    printf 'export ETL_PREFIX=%q\n' "$prefix"
    printf 'export ETL_DATASET=%q\n' "$dataset"
    printf 'export ETL_DATABASE_URL=%q\n' \
      "postgres://postgres:$(<"$pgdir/password")@127.0.0.1:$(<"$state/pg.port")/$dbname?sslmode=disable"
    printf 'export ETL_DB_SSLMODE=disable\n'
    printf 'export ETL_S3_FORCE_PATH_STYLE=true\n'
    printf 'export PGHOST=127.0.0.1 PGPORT=%q PGUSER=postgres PGDATABASE=%q PGPASSWORD=%q\n' \
      "$(<"$state/pg.port")" "$dbname" "$(<"$pgdir/password")"
  } >"$state/etl.env"
  chmod 600 "$state/etl.env"
}

run_etl() {
  write_etl_env
  note "the local PostgreSQL cluster stands in for the RDS endpoint (moto's RDS has no database behind it);"
  note "S3 is moto's: s3://$(output data_bucket_name) at $(moto_url)"
  # shellcheck source=/dev/null
  source "$state/etl.env"
  logged "$logs/etl.log" "etl migrate" "$bin_dir/etl" migrate
  logged "$logs/etl.log" "etl ingest ${samples[*]#"$root"/}" "$bin_dir/etl" ingest "${samples[@]}"
  event_path
  logged "$logs/etl.log" "etl process (the listing sweep)" "$bin_dir/etl" process
  keyed_sample
}

# The keyed sample (merge mode): a snapshot, then a correction that updates, deletes and adds users, each loaded by
# its own run. Outside the event prefix, so the queue never sees it.
keyed_sample() {
  local file
  for file in snapshot correction; do
    logged "$logs/etl.log" "etl ingest data/users/$file.csv (the keyed sample)" \
      "$bin_dir/etl" ingest "$root/data/users/$file.csv" --prefix raw/users
    logged "$logs/etl.log" "etl process --dataset data/users.toml (merge)" \
      "$bin_dir/etl" process --prefix raw/users --dataset "$keyed_dataset"
  done
}

# The event path: the ingest's uploads reach the SQS queue through the bucket notification (moto delivers them, an
# s3:TestEvent first); when this etl has queue mode, `etl process --queue --exit-when-idle` drains the queue before
# the sweep runs (which then finds everything loaded).
event_path() {
  local url visible in_flight
  url=$(output etl_queue_url)
  IFS=$'\t' read -r visible in_flight < <(python3 "$emulator" queue-depth "$(moto_url)" "$(<"$state/region")" "$url")
  note "event queue ${url##*/}: $visible messages visible, $in_flight in flight after the ingest"
  ((visible + in_flight > 0)) || fail "the ingest raised no event in $url: the bucket notification does not reach the queue"
  if "$bin_dir/etl" process --help 2>/dev/null | grep -q -- '--exit-when-idle'; then
    logged "$logs/etl.log" "etl process --queue (the event path, until the queue is idle)" \
      "$bin_dir/etl" process --queue "$url" --exit-when-idle
    IFS=$'\t' read -r visible in_flight < <(python3 "$emulator" queue-depth "$(moto_url)" "$(<"$state/region")" "$url")
    note "event queue after draining: $visible visible, $in_flight in flight"
  else
    note "this etl has no queue mode (etl process --queue) yet: the events stay queued, the sweep loads the objects"
  fi
}

table_name() { python3 "$etlreport" spec-table "$dataset"; }

report() {
  local bucket table
  bucket=$(output data_bucket_name)
  table=$(table_name)
  # shellcheck source=/dev/null
  source "$state/etl.env"
  say ""
  say "Local platform report"
  note "resources created : $(tf 60 state list | grep -cv '^data\.') in moto (terraform state in ${tfdir#"$root"/})"
  note "terraform outputs : bucket=$bucket region=$(output region) instance=$(output etl_instance_id) db=$(output database_endpoint) (moto, no real host)"
  note "objects in bucket :"
  python3 "$emulator" objects "$(moto_url)" "$bucket" | awk -F'\t' '{ printf "      s3://%s/%s (%s bytes)\n", b, $1, $2 }' b="$bucket"
  python3 "$etlreport" etl-summary "$logs/etl.log" | sed 's/^/  this run: /'
  note "ledger (etl_objects), local PostgreSQL standing in for RDS:"
  psql_local -tA -F $'\t' -c "SELECT key, rows_loaded, rows_rejected FROM etl_objects ORDER BY key" |
    awk -F'\t' '{ printf "      %s: %s rows loaded, %s rejected\n", $1, $2, $3 }'
  note "rows in $table      : $(psql_local -tAc "SELECT count(*) FROM \"$table\"")"
  say "  sample of $table:"
  psql_local -P pager=off -P null='(null)' -c "SELECT * FROM \"$table\" ORDER BY 1 LIMIT 5" | sed 's/^/    /'
  say "  the keyed sample (data/users.toml, merge): users after the snapshot and the correction:"
  psql_local -P pager=off -c "SET TIME ZONE 'UTC'" -c "SELECT op, user_id, email, plan, changed_at FROM users ORDER BY user_id" |
    sed 's/^/    /'
  note "logs              : ${logs#"$root"/}/ (moto.log postgres.log terraform.log etl.log)"
  note "use it            : source <(infra-gen/local/platform.sh env)   then aws s3 ls / psql / etl ..."
}

# ── commands ───────────────────────────────────────────────────────────────────────────────────────────────────
# The tools are there and the binaries named built, as two timed phases.
prepare() {
  begin prerequisites
  prerequisites
  end
  begin build
  build "$@"
  end
}

# CONFIG as for generate: none for ./platform.toml (or the defaults) through out/.
cmd_up() {
  local config=${1:-}
  mkdir -p "$logs"
  prepare infra-gen etl
  begin services
  start_moto
  start_pg
  end
  begin "gen + init"
  generate "$config"
  tf_init
  end
  begin "bootstrap apply"
  bootstrap_apply
  end
  begin "terraform apply"
  tf_apply
  end
}

# Every configuration (the defaults and each fixture) planned against one moto: gen into its own work dir, the
# override, init (offline, the instance's plugin cache), `plan -out tfplan`, and `show -json` into plan.json for
# the IAM lint. Plans all, then fails naming each configuration whose plan failed.
cmd_plan() {
  local started config name failed=()
  started=$(now)
  fresh_instance plan
  local configs=("$@")
  if ((${#configs[@]} == 0)); then
    configs=(default "$fixtures_dir"/*.toml)
  fi
  trap 'rc=$?; stop_all >/dev/null 2>&1 || true; exit "$rc"' EXIT
  prepare infra-gen
  begin moto
  mkdir -p "$state"
  start_moto
  write_cli_config
  end
  for config in "${configs[@]}"; do
    if [[ $config == default ]]; then
      name=default
    else
      [[ -f $config ]] || fail "no configuration file $config"
      config=$(realpath "$config")
      name=$(basename "$config" .toml)
    fi
    begin "plan $name"
    if (plan_config "$name" "$config"); then
      end
    else
      failed+=("$name")
      say "    FAILED: configuration $name (log: ${logs#"$root"/}/plan-$name.log)"
    fi
  done
  stop_all >/dev/null
  trap - EXIT
  timings
  ((${#failed[@]} == 0)) || fail "terraform plan failed for configuration(s): ${failed[*]}"
  say "plan: ${#configs[@]} configuration(s) plan on moto in $(elapsed "$started")s; plans in ${state#"$root"/}/configs/*/plan.json"
}

# One configuration of cmd_plan; runs in a subshell, so `fail` ends only this configuration.
plan_config() {
  local name=$1 config=$2 log
  tfdir=$state/configs/$name
  log=$logs/plan-$name.log
  rm -rf "$tfdir"
  generate "$config"
  # The configuration's bootstrap module (the CI roles, the boundary, the state bucket, the keys) first: planned
  # for the IAM lint and the simulator. The platform reads the bootstrap's two keys by alias, so those (and only
  # those: the configurations share one moto, where the GitHub OIDC provider is account-wide) are applied before
  # the platform is planned.
  write_override "$tfdir/bootstrap"
  plan_module "$tfdir/bootstrap" "$name bootstrap" "$log"
  tfdir=$tfdir/bootstrap logged "$log" "terraform apply -target (the $name bootstrap's keys)" \
    tf "${TF_TIMEOUT_APPLY:-600}" apply -input=false -auto-approve -no-color \
    -target=aws_kms_alias.platform -target=aws_kms_alias.alarms
  plan_module "$tfdir" "$name" "$log"
}

# init, `plan -out tfplan` and `show -json` into plan.json of the root module in DIR (with its override written).
plan_module() {
  local dir=$1 what=$2 log=$3
  tfdir=$dir logged "$log" "terraform init ($what)" tf "${TF_TIMEOUT_INIT:-180}" init -input=false -no-color
  tfdir=$dir logged "$log" "terraform plan ($what)" tf "${TF_TIMEOUT_PLAN:-300}" plan -input=false -no-color -out=tfplan
  grep -E '^Plan:' "$log" | tail -n 1 | sed 's/^/    /'
  tfdir=$dir tf 120 show -json tfplan >"$dir/plan.json" 2>>"$log" ||
    fail "terraform show -json tfplan ($what) failed (log: $log)"
}

cmd_load() {
  begin "etl migrate/ingest/process"
  run_etl
  end
}

cmd_down() {
  if [[ ! -d $state ]]; then
    say "nothing to stop (${state#"$root"/} does not exist)"
    return
  fi
  pg_bin=$(pg_bindir || true)
  stop_all
  # Everything but the logs: pids, ports, the cluster, terraform work dir and state of the emulator that is gone.
  find "$state" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
  say "down: ${instance} stopped and its state removed (logs kept in ${logs#"$root"/})"
}

cmd_status() {
  local any=0 dir keep=$instance
  for dir in "$root"/.work/local/*/; do
    [[ -d $dir ]] || continue
    set_instance "$(basename "$dir")"
    any=1
    if ! alive "$state/moto.pid" moto_server && ! alive "$state/pg.pid" postgres; then
      say "$instance: down (logs in ${logs#"$root"/})"
      continue
    fi
    say "$instance (${state#"$root"/}):"
    if alive "$state/moto.pid" moto_server; then
      note "moto_server   running, pid $(<"$state/moto.pid"), $(moto_url)"
    else
      note "moto_server   not running"
    fi
    if alive "$state/pg.pid" postgres; then
      note "PostgreSQL    running, pid $(<"$state/pg.pid"), 127.0.0.1:$(<"$state/pg.port")"
    else
      note "PostgreSQL    not running"
    fi
    if [[ -f $tfdir/terraform.tfstate ]]; then
      note "terraform     $(tf 60 state list 2>/dev/null | grep -cv '^data\.') resources in ${tfdir#"$root"/}"
    fi
    note "logs          ${logs#"$root"/}"
  done
  set_instance "$keep"
  ((any)) || say "local platform is down"
}

# A clean slate for a test instance each time: a run killed earlier may have left it behind.
fresh_instance() {
  set_instance "$1"
  if [[ -d $state ]]; then
    cmd_down >/dev/null
  fi
  rm -rf "$logs"
  mkdir -p "$logs"
}

cmd_env() {
  [[ -f $state/etl.env ]] || fail "the local platform is not up: run infra-gen/local/platform.sh up"
  cat "$state/etl.env"
}

# Compares the loaded table with the committed expected rows (the etl tests' own fixture), and the rejects.
verify_rows() {
  local table got want cols
  table=$(table_name)
  # shellcheck source=/dev/null
  source "$state/etl.env"
  [[ -f $expected ]] || fail "no expected fixture $expected"
  cols=$(python3 "$etlreport" spec-columns "$dataset")
  got=$logs/actual.tsv
  psql_local -c "COPY (SELECT $cols FROM \"$table\" ORDER BY 1) TO STDOUT" >"$got"
  want=$(wc -l <"$expected")
  if ! cmp -s "$got" "$expected"; then
    diff "$expected" "$got" | head -n 20 | sed 's/^/    | /' >&2
    fail "table $table differs from ${expected#"$root"/}: $(wc -l <"$got") rows loaded, $want expected (full: $got)"
  fi
  note "table $table equals ${expected#"$root"/} ($want rows)"
  # Each line of the rejects fixture is "<line>\t<fragment of the reason>", as in the etl tests.
  local line fragment n=0 got_line got_reason
  while IFS=$'\t' read -r line fragment; do
    n=$((n + 1))
    IFS=$'\t' read -r got_line got_reason < <(psql_local -tA -F $'\t' \
      -c "SELECT line, reason FROM etl_rejects ORDER BY line OFFSET $((n - 1)) LIMIT 1")
    [[ ${got_line:-} == "$line" && ${got_reason:-} == *"$fragment"* ]] ||
      fail "reject $n: expected line $line mentioning '$fragment', got '${got_line:-none}: ${got_reason:-}'"
  done <"$expected_rejects"
  local total
  total=$(psql_local -tAc "SELECT count(*) FROM etl_rejects")
  ((total == n)) || fail "etl_rejects holds $total rows, ${expected_rejects#"$root"/} lists $n"
  note "rejected rows: $n, with the lines and reasons listed in ${expected_rejects#"$root"/}"
  psql_local -c "SET TIME ZONE 'UTC'" -c "COPY (SELECT op, user_id, email, plan, changed_at FROM users ORDER BY user_id) TO STDOUT" \
    >"$logs/users.tsv"
  cmp -s "$logs/users.tsv" "$keyed_expected" ||
    fail "table users differs from ${keyed_expected#"$root"/} (got: $logs/users.tsv)"
  note "table users equals ${keyed_expected#"$root"/}: the correction's updates, delete and stale row merged"
}

cmd_e2e() {
  local started
  started=$(now)
  fresh_instance e2e
  trap 'rc=$?; if ((rc != 0)); then say "e2e: FAILED${current_phase:+ in phase \"$current_phase\"} (logs: ${logs#"$root"/})" >&2; cmd_down >/dev/null 2>&1 || true; fi' EXIT
  local config=${E2E_CONFIG:-$fixtures_dir/full.toml}
  [[ -f $config ]] || fail "no configuration file $config (E2E_CONFIG)"
  say "e2e configuration: ${config#"$root"/}"
  cmd_up "$(realpath "$config")"
  begin "plan converged"
  tf_plan_converged
  end
  begin "resource types applied"
  types_applied
  end
  cmd_load
  begin "verify rows"
  verify_rows
  end
  begin "terraform destroy"
  tf_destroy
  bootstrap_destroy
  local left
  if ! left=$(python3 "$emulator" leftovers "$(moto_url)" "$(<"$state/region")"); then
    printf '%s\n' "$left" | sed 's/^/    | /' >&2
    fail "terraform destroy left resources in moto"
  fi
  note "moto holds no buckets, instances, DB instances, queues or Auto Scaling groups"
  end
  begin down
  cmd_down
  end
  trap - EXIT
  timings
  say "e2e: PASSED in $(elapsed "$started")s"
}

main() {
  local cmd=${1:-}
  case $cmd in
    up)
      local started
      started=$(now)
      cmd_up
      cmd_load
      report
      timings
      say "up: the local platform is running ($(elapsed "$started")s); stop it with: infra-gen/local/platform.sh down"
      ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    e2e) cmd_e2e ;;
    plan)
      shift
      cmd_plan "$@"
      ;;
    *)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
      exit 2
      ;;
  esac
}

# Sourcing the file (for a scratch test of single functions) defines everything and runs nothing.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
