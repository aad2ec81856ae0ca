#!/usr/bin/env bash
# Brings the ETL host or a worker to its runtime; run by cloud-init (runcmd) on first boot, safe to
# run again by hand (sudo /usr/local/sbin/hadrian-etl-host-setup <region> <agent parameter> <ecr
# repository url> <image parameter> <host|worker>). Installed by
# infra-gen's cloud-init document; the files it relies on (compose project, deploy script, units,
# /etc/hadrian/etl.env) were written by cloud-init before it runs.
#
# 1. Docker Engine and the Compose plugin from Docker's apt repository, whose signing key must
#    have Docker's published fingerprint; Ubuntu's docker.io packages are removed first (never both).
# 2. The AWS CLI v2 (deploy.sh logs in to ECR with it), from AWS's official bundle.
# 3. The queue consumer (hadrian-etl-queue.service) enabled everywhere, and on the host the sweep
#    timer enabled and started; /etc/hadrian/etl-image.env is created empty if missing, so a run
#    before the first deploy fails with "ETL_IMAGE is not set" instead of a missing file (and the
#    consumer, conditioned on a non-empty file, waits for deploy.sh to start it).
# 4. The image the deploy workflow recorded, if any (deploy.sh --restore), so a replaced host
#    runs the ETL at once; a failure is reported last, after the agent step.
# 5. The CloudWatch agent from the regional download bucket, configured from the SSM parameter
#    the monitoring part of infra-gen writes. Last, so a monitoring problem (reported as a failed
#    cloud-init) never keeps the ETL from running.
set -euo pipefail

readonly usage="usage: hadrian-etl-host-setup <region> <cloudwatch agent ssm parameter> <ecr repository url> <image ssm parameter> <host|worker>"
readonly region=${1:?$usage}
readonly agent_parameter=${2:?$usage}
readonly repository_url=${3:?$usage}
readonly image_parameter=${4:?$usage}
readonly role=${5:?$usage}
readonly docker_key=/etc/apt/keyrings/docker.asc
readonly docker_fingerprint=9DC858229FC7DD38854AE2D88D81803C0EBFCD88
export DEBIAN_FRONTEND=noninteractive

say() { printf 'hadrian-etl-host-setup: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }
[[ $role == host || $role == worker ]] || die "$usage"

arch=$(dpkg --print-architecture)
# shellcheck source=/dev/null
codename=$(. /etc/os-release && printf '%s' "$VERSION_CODENAME")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say "docker: apt repository for $codename/$arch"
install -m 0755 -d /etc/apt/keyrings
curl --proto '=https' -fsSL https://download.docker.com/linux/ubuntu/gpg -o "$work/docker.asc"
fingerprint=$(gpg --show-keys --with-colons "$work/docker.asc" | awk -F: '$1 == "fpr" { print $10; exit }')
[[ $fingerprint == "$docker_fingerprint" ]] || die "Docker's apt key has fingerprint '$fingerprint', expected $docker_fingerprint"
install -m 0644 "$work/docker.asc" "$docker_key"
printf 'deb [arch=%s signed-by=%s] https://download.docker.com/linux/ubuntu %s stable\n' \
  "$arch" "$docker_key" "$codename" >/etc/apt/sources.list.d/docker.list
apt-get remove -y docker.io docker-doc docker-compose docker-compose-v2 podman-docker containerd runc || true
apt-get update -q
apt-get install -y -q docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin
systemctl enable --now docker.service
docker compose version

if ! command -v aws >/dev/null; then
  say "aws cli: installing v2"
  case $arch in
    amd64) bundle=awscli-exe-linux-x86_64.zip ;;
    arm64) bundle=awscli-exe-linux-aarch64.zip ;;
    *) die "no AWS CLI bundle for $arch" ;;
  esac
  curl --proto '=https' -fsSL "https://awscli.amazonaws.com/$bundle" -o "$work/awscli.zip"
  unzip -q "$work/awscli.zip" -d "$work"
  "$work/aws/install" --update
fi
aws --version

install -d -m 0755 /etc/hadrian
[[ -e /etc/hadrian/etl-image.env ]] || install -m 0644 /dev/null /etc/hadrian/etl-image.env
systemctl daemon-reload
say "etl: enabling the queue consumer"
systemctl enable hadrian-etl-queue.service
if [[ $role == host ]]; then
  say "etl: enabling the sweep timer"
  systemctl enable --now hadrian-etl.timer
  systemctl list-timers hadrian-etl.timer --no-pager
fi

say "etl: restoring the image recorded in $image_parameter"
restore_failed=0
/opt/hadrian/etl/deploy.sh --restore "$repository_url" "$image_parameter" || restore_failed=1

say "cloudwatch agent: installing from the $region download bucket"
curl --proto '=https' -fsSL \
  "https://amazoncloudwatch-agent-$region.s3.$region.amazonaws.com/ubuntu/$arch/latest/amazon-cloudwatch-agent.deb" \
  -o "$work/amazon-cloudwatch-agent.deb"
dpkg -i -E "$work/amazon-cloudwatch-agent.deb"
# The parameter is created in the same apply as this host; give IAM and SSM a moment to agree.
for attempt in 1 2 3 4 5; do
  if /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl \
    -a fetch-config -m ec2 -s -c "ssm:$agent_parameter"; then
    break
  fi
  ((attempt < 5)) || die "the CloudWatch agent could not load its configuration from ssm:$agent_parameter"
  sleep $((attempt * 10))
done
((restore_failed == 0)) \
  || die "could not restore the deployed image from $image_parameter; run the deploy workflow"
say "done"
