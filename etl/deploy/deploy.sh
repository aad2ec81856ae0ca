#!/usr/bin/env bash
# Switches the ETL host to a new image. Run as root by the custom SSM document `<name>-etl-deploy`:
#   /opt/hadrian/etl/deploy.sh <ecr repository url> <sha256:digest>
# and by the host setup on first boot, to restore the image the deploy workflow last recorded:
#   /opt/hadrian/etl/deploy.sh --restore <ecr repository url> <ssm parameter name>
# (a missing parameter means nothing was deployed yet: exit 0 without doing anything).
# The document fills in the repository URL (from Terraform) and the digest (its only parameter, already checked
# against ^sha256:[0-9a-f]{64}$); this script checks both again because it must be safe to run by hand too.
#
# Steps: pull the image by digest with short-lived ECR credentials that live in a temporary Docker config and are
# deleted on exit (no registry token stays on disk); run `etl migrate` with the new image; only then record the
# new image in /etc/hadrian/etl-image.env (atomic rename), so a failed pull or migration leaves the old image live;
# then restart the queue consumer (hadrian-etl-queue.service, where it is enabled) on the new image; finally, where
# the sweep timer is enabled (the host, not the workers), start one ETL run now, so the deploy reports whether the
# new image works.
set -euo pipefail

readonly project_dir=${HADRIAN_ETL_DIR:-/opt/hadrian/etl}
readonly config_env=${HADRIAN_ETL_ENV:-/etc/hadrian/etl.env}
readonly image_env=${HADRIAN_ETL_IMAGE_ENV:-/etc/hadrian/etl-image.env}
readonly unit=${HADRIAN_ETL_UNIT:-hadrian-etl.service}
readonly timer=${HADRIAN_ETL_TIMER:-hadrian-etl.timer}
readonly queue_unit=${HADRIAN_ETL_QUEUE_UNIT:-hadrian-etl-queue.service}
readonly log_file=${HADRIAN_ETL_DEPLOY_LOG:-/var/log/hadrian/deploy.log}

# All output also goes to the log file (shipped by the CloudWatch agent); stdout and stderr stay apart.
install -d -m 0755 "${log_file%/*}"
exec > >(tee -a "$log_file") 2> >(tee -a "$log_file" >&2)

die() { printf 'deploy: %s %s\n' "$(date -u +%FT%TZ)" "$*" >&2; exit 2; }
say() { printf 'deploy: %s %s\n' "$(date -u +%FT%TZ)" "$*"; }

readonly usage="usage: deploy.sh <ecr repository url> <sha256:digest> | deploy.sh --restore <ecr repository url> <ssm parameter name>"
restore=
if [[ ${1-} == --restore ]]; then
  restore=1
  shift
fi
[[ $# -eq 2 ]] || die "$usage"
repository=$1
[[ $repository =~ ^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/[a-z0-9][a-z0-9._/-]*$ ]] \
  || die "repository '$repository' is not an ECR repository URL"
registry=${repository%%/*}
region=${BASH_REMATCH[2]}
if [[ -n $restore ]]; then
  parameter=$2
  [[ $parameter =~ ^/[A-Za-z0-9_./-]+$ ]] || die "parameter '$parameter' is not an SSM parameter path"
  if ! digest=$(aws ssm get-parameter --region "$region" --name "$parameter" \
    --query Parameter.Value --output text 2>&1); then
    if [[ $digest == *ParameterNotFound* ]]; then
      say "no image recorded in $parameter yet; the first deploy brings one"
      exit 0
    fi
    printf 'deploy: %s cannot read %s: %s\n' "$(date -u +%FT%TZ)" "$parameter" "$digest" >&2
    exit 1
  fi
  say "restoring $digest recorded in $parameter"
else
  digest=$2
fi
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || die "digest '$digest' does not match ^sha256:[0-9a-f]{64}$"
[[ -r $config_env ]] || die "missing $config_env (written by cloud-init)"
image="$repository@$digest"

docker_config=$(mktemp -d)
next_env=$(mktemp "$image_env.XXXXXX")
trap 'rm -rf "$docker_config" "$next_env"' EXIT
printf 'ETL_IMAGE=%s\n' "$image" >"$next_env"
chmod 0644 "$next_env"

compose() {
  docker compose --project-directory "$project_dir" --env-file "$config_env" --env-file "$next_env" "$@"
}

say "pulling $image"
aws ecr get-login-password --region "$region" \
  | DOCKER_CONFIG=$docker_config docker login --username AWS --password-stdin "$registry" >/dev/null
DOCKER_CONFIG=$docker_config docker pull --quiet "$image"

say "migrating the database with $image"
compose --profile deploy run --rm --no-TTY migrate

mv -f "$next_env" "$image_env"
say "recorded $image in $image_env"

if systemctl is-enabled --quiet "$queue_unit"; then
  say "restarting $queue_unit on the new image"
  systemctl restart "$queue_unit"
fi
if systemctl is-enabled --quiet "$timer"; then
  say "running $unit once with the new image"
  systemctl start "$unit"
fi
say "deployed $image"
