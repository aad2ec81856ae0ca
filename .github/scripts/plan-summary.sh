#!/usr/bin/env bash
# Writes a Markdown summary of a saved Terraform plan (change counts plus the full plan text, truncated to fit a
# PR comment) to the given file and to the job summary.
#   plan-summary.sh <plan file name, relative to out/> <summary.md>
set -euo pipefail

plan=$1
summary=$2
# A PR comment holds at most 65536 characters; keep room for the frame around the plan text.
max_chars=60000

counts=$(terraform -chdir=out show -json "$plan" | jq -r '
  [.resource_changes[]?.change.actions] as $a
  | "\($a | map(select(. == ["create"])) | length) to add, "
  + "\($a | map(select(. == ["update"])) | length) to change, "
  + "\($a | map(select(index("delete") != null and index("create") != null)) | length) to replace, "
  + "\($a | map(select(. == ["delete"])) | length) to destroy"')
text=$(terraform -chdir=out show -no-color "$plan")
if ((${#text} > max_chars)); then
  text="${text:0:max_chars}
... (truncated; the full plan is in the job log)"
fi

{
  printf '### Terraform plan for %s\n\n' "${GITHUB_SHA:-HEAD}"
  printf '**%s**\n\n' "$counts"
  fence='```'
  printf '<details><summary>Full plan</summary>\n\n%stext\n%s\n%s\n\n</details>\n' "$fence" "$text" "$fence"
} >"$summary"

if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
  cat "$summary" >>"$GITHUB_STEP_SUMMARY"
fi
echo "plan: $counts"
