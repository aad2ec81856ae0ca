# shellcheck shell=bash
# Sourced by .ci/setup and infra-gen/local/platform.sh: the one list of the machine's prerequisites, each with the
# hint that installs it, and the one place that says where PostgreSQL's server binaries and moto_server are found.
# Defines functions only.

# The directory holding initdb and pg_ctl: pg_config's, else the newest /usr/lib/postgresql/*/bin, else PATH's.
pg_bindir() {
  local dir
  dir=$(pg_config --bindir 2>/dev/null || true)
  if [[ -n $dir && -x $dir/pg_ctl && -x $dir/initdb ]]; then
    printf '%s\n' "$dir"
    return
  fi
  for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
    if [[ -x $dir/pg_ctl && -x $dir/initdb ]]; then
      printf '%s\n' "$dir"
      return
    fi
  done
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"
    return
  fi
  return 1
}

# moto_server of the project's venv (VENV, where .ci/setup installs it when PATH has none), else PATH's.
moto_server_path() {
  local venv=$1
  if [[ -x $venv/bin/moto_server ]]; then
    printf '%s\n' "$venv/bin/moto_server"
  else
    command -v moto_server
  fi
}

# Succeeds when the prerequisite NAME is there.
prerequisite_present() {
  local bindir
  case $1 in
    cargo | python3 | terraform) command -v "$1" >/dev/null 2>&1 ;;
    postgresql) pg_bindir >/dev/null ;;
    psql)
      bindir=$(pg_bindir || true)
      [[ -n $bindir && -x $bindir/psql ]] || command -v psql >/dev/null 2>&1
      ;;
    postgres-user) ((EUID != 0)) || id -u postgres >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

# What the prerequisite NAME is and how to install it.
prerequisite_hint() {
  case $1 in
    cargo) echo "cargo: install Rust with rustup: curl https://sh.rustup.rs -sSf | sh (https://rustup.rs)" ;;
    python3) echo "python3: apt-get install python3 python3-venv" ;;
    terraform)
      echo "terraform: install Terraform >= 1.11 (https://developer.hashicorp.com/terraform/install) and put it on PATH"
      ;;
    postgresql) echo "PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql" ;;
    psql) echo "psql: apt-get install postgresql-client" ;;
    postgres-user) echo "OS user postgres (PostgreSQL refuses to run as root): useradd --system postgres" ;;
    *) echo "$1: not a prerequisite .ci/prereqs.sh knows" ;;
  esac
}

# One "setup: missing ..." line on stderr per missing prerequisite among NAMES (default: all of them); fails when
# any is missing.
check_prerequisites() {
  local name missing=0
  (($#)) || set -- cargo python3 terraform postgresql psql postgres-user
  for name in "$@"; do
    prerequisite_present "$name" && continue
    printf 'setup: missing %s\n' "$(prerequisite_hint "$name")" >&2
    missing=1
  done
  return "$missing"
}
