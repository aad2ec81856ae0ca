#!/usr/bin/env bash
# Lints the delivery files: the GitHub workflows (zizmor, pedantic persona, offline; actionlint), the shell
# scripts they, the host, CI and the local platform run (shellcheck), the ETL Dockerfile (checkov), and the Python
# tests of the host runtime (etl/deploy) and of the workflow scripts (.github/scripts).
# Installs nothing: .ci/setup puts the tools in .work/venv; a missing tool fails with its name.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
# The tests must not leave __pycache__ folders in the working tree.
export PYTHONDONTWRITEBYTECODE=1

missing=()
for tool in zizmor actionlint shellcheck checkov python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  printf 'lint.sh: missing tool(s): %s; run .ci/setup (installs into .work/venv) and put .work/venv/bin on PATH\n' \
    "${missing[*]}" >&2
  exit 1
fi

step() { printf '\n== %s\n' "$*"; }

step "zizmor --offline --persona pedantic .github/workflows"
zizmor --offline --persona pedantic --no-progress .github/workflows

step "actionlint"
actionlint -no-color

step "shellcheck"
shellcheck --external-sources .github/lint.sh .github/scripts/*.sh etl/deploy/deploy.sh \
  .ci/run .ci/setup .ci/prereqs.sh .ci/env infra-gen/local/platform.sh

step "checkov --framework dockerfile (etl/Dockerfile)"
# BC_SKIP_MAPPING and --skip-download keep checkov offline (it would otherwise fetch guideline links).
BC_SKIP_MAPPING=TRUE checkov --framework dockerfile --file etl/Dockerfile --skip-download --compact --quiet

step "etl/deploy tests (compose project, host deploy script)"
python3 -m unittest discover --start-directory etl/deploy --pattern 'test_*.py'

step ".github/scripts tests (SSM deploy step)"
python3 -m unittest discover --start-directory .github/scripts --pattern 'test_*.py'

printf '\nlint.sh: all delivery checks passed\n'
