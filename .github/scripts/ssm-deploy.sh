#!/usr/bin/env bash
# Switches the ETL host to an image digest with the custom SSM document `<name>-etl-deploy`, waits for the command
# with a deadline, prints its output and fails when it fails. On success it records the digest in the SSM parameter
# /hadrian/<name>/etl/image-digest, which a replaced host deploys on first boot (deploy.sh --restore).
#   ssm-deploy.sh <sha256:digest>
# Environment: PLATFORM_NAME, AWS_REGION (and AWS credentials for the deploy role), DEPLOY_TIMEOUT_SECONDS.
set -euo pipefail

# shellcheck source=.github/scripts/deploy-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/deploy-common.sh"
deploy_start ssm-deploy "ssm-deploy.sh <sha256:digest>" 1 "$@"
digest=$1
timeout=${DEPLOY_TIMEOUT_SECONDS:-1800}
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || die "image digest '$digest' does not match ^sha256:[0-9a-f]{64}$"
[[ $timeout =~ ^[0-9]+$ ]] || die "DEPLOY_TIMEOUT_SECONDS '$timeout' is not a number of seconds"

repository="$PLATFORM_NAME-etl"
document="$PLATFORM_NAME-etl-deploy"
image_parameter="/hadrian/$PLATFORM_NAME/etl/image-digest"

# A rollback names an image that must already be in ECR; a fresh build is there by construction.
aws ecr describe-images --repository-name "$repository" --image-ids "imageDigest=$digest" \
  --query 'imageDetails[0].imageDigest' --output text >/dev/null \
  || die "image $digest is not in ECR repository $repository"

mapfile -t instances < <(aws ec2 describe-instances \
  --filters "Name=tag:hadrian:etl-host,Values=$PLATFORM_NAME" "Name=instance-state-name,Values=running" \
  --query 'Reservations[].Instances[].InstanceId' --output text | tr '\t' '\n' | sed '/^$/d')
((${#instances[@]} == 1)) \
  || die "expected exactly one running instance tagged hadrian:etl-host=$PLATFORM_NAME, found ${#instances[@]}"
instance=${instances[0]}

echo "deploy: $repository@$digest -> $instance with $document"
command_id=$(aws ssm send-command \
  --document-name "$document" \
  --instance-ids "$instance" \
  --parameters "ImageDigest=$digest" \
  --timeout-seconds 600 \
  --comment "github run ${GITHUB_RUN_ID:-manual}: $digest" \
  --query 'Command.CommandId' --output text)
echo "deploy: SSM command $command_id"

deadline=$((SECONDS + timeout))
status=Pending
while :; do
  status=$(aws ssm get-command-invocation --command-id "$command_id" --instance-id "$instance" \
    --query 'Status' --output text 2>/dev/null || echo Pending)
  case $status in
    Pending | InProgress | Delayed) ;;
    *) break ;;
  esac
  if ((SECONDS >= deadline)); then
    aws ssm cancel-command --command-id "$command_id" --instance-ids "$instance" >/dev/null || true
    die "SSM command $command_id still $status after ${timeout}s; cancelled"
  fi
  sleep 10
done

invocation=$(aws ssm get-command-invocation --command-id "$command_id" --instance-id "$instance" --output json)
echo "::group::command output"
jq -r '.StandardOutputContent' <<<"$invocation"
echo "::endgroup::"
stderr_text=$(jq -r '.StandardErrorContent' <<<"$invocation")
if [[ -n $stderr_text ]]; then
  echo "::group::command error output"
  printf '%s\n' "$stderr_text"
  echo "::endgroup::"
fi

if [[ $status != Success ]]; then
  die "SSM command $command_id ended with status $status (exit code $(jq -r '.ResponseCode' <<<"$invocation"))"
fi
aws ssm put-parameter --name "$image_parameter" --type String --value "$digest" --overwrite >/dev/null
echo "deploy: recorded $digest in $image_parameter"
{
  echo "### ETL deployed"
  echo
  echo "- image: \`$repository@$digest\`"
  echo "- instance: \`$instance\`"
  echo "- SSM command: \`$command_id\`"
} >>"${GITHUB_STEP_SUMMARY:-/dev/null}"
echo "deploy: done"
