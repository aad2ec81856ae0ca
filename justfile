# The single front door for development tasks. `just` lists the recipes.
# Every recipe runs from the repository root.

set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments := true

# Tools installed by .ci/setup (just, checkov, zizmor, actionlint) live in this venv.
export PATH := justfile_directory() / ".work/venv/bin:" + env_var("PATH")

# List the recipes.
default:
    @just --list --unsorted

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

# License, source and duplicate-version policy (needs cargo-deny; advisories need network).
[group('quality')]
deny:
    command -v cargo-deny >/dev/null || cargo install --locked cargo-deny
    cargo deny check licenses bans sources

# ── Test ────────────────────────────────────────────────────────────────────────────────────────

# The test command: unit, snapshot, schema, terraform, PostgreSQL/moto integration, scans, end to end.
[group('test')]
test: test-rust check checkov lint-workflows e2e

# Rust tests of both crates (real terraform, PostgreSQL and moto_server on loopback ports).
[group('test')]
test-rust:
    cargo test --workspace --locked

# Review pending insta snapshots.
[group('test')]
snap:
    cargo insta review

# What CI runs: .ci/run installs the tools, then runs this.
[group('test')]
ci: lint test

# ── Infrastructure (infra-gen → out/ → Terraform) ───────────────────────────────────────────────

# Write out/*.tf.json from platform.toml (or the defaults).
[group('infra')]
gen:
    cargo run -q -p infra-gen -- gen

# Fail with a diff when out/ is stale, missing a file or has an extra one.
[group('infra')]
check:
    cargo run -q -p infra-gen -- gen --check

# terraform init (offline from the provider mirror when there is one) and validate, on a copy of out/.
[group('infra')]
validate:
    #!/usr/bin/env bash
    set -euo pipefail
    dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
    cp out/*.tf.json "$dir/"
    mirror=${INFRA_GEN_TF_PLUGIN_DIR:-/opt/tf-plugins}; args=()
    [[ -d $mirror/registry.terraform.io ]] && args=(-plugin-dir="$mirror")
    terraform -chdir="$dir" init -backend=false -input=false "${args[@]}" >/dev/null
    terraform -chdir="$dir" validate

# checkov on out/ (0 failed checks; the reasoned skips live in infra-gen/checkov.yaml).
[group('infra')]
checkov:
    checkov --config-file infra-gen/checkov.yaml

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

# Benchmark `etl process` against `psql \copy` and a Python peer, median of 3 (default 100k and 1M rows).
[group('etl')]
bench *rows:
    etl/bench/bench.sh {{ rows }}

# Regenerate the sample data and its independently computed expected output.
[group('etl')]
etl-data:
    python3 data/gen_events.py --rows 3000 --seed 7 --csv data/events.csv --expected data/events.expected.tsv --rejects data/events.rejects.tsv

# ── Delivery ────────────────────────────────────────────────────────────────────────────────────

# zizmor and actionlint on the workflows, shellcheck, checkov on the Dockerfile, host runtime tests.
[group('delivery')]
lint-workflows:
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

# End to end: apply on moto, converged second plan, expected rows, destroy leaves nothing, down.
[group('test')]
e2e:
    infra-gen/local/platform.sh e2e
