# shellcheck shell=bash
# Sourced by build-push.sh and ssm-deploy.sh: the error exit and the argument and repository-variable checks that
# both deploy steps start with.
#   deploy_start <script name> <usage> <expected argument count> "$@"

die() { printf '%s: %s\n' "$script_name" "$*" >&2; exit 1; }

deploy_start() {
  script_name=$1
  local usage=$2 count=$3
  shift 3
  [[ $# -eq $count ]] || die "usage: $usage"
  : "${PLATFORM_NAME:?repository variable PLATFORM_NAME is not set (see README, Delivery)}"
  : "${AWS_REGION:?repository variable AWS_REGION is not set (see README, Delivery)}"
}
