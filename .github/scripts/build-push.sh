#!/usr/bin/env bash
# Builds etl/Dockerfile for the runner's own platform and pushes it to the ECR repository `<name>-etl`; writes
# `digest=sha256:...` to the given GitHub output file.
#   build-push.sh <output file>
# Environment: PLATFORM_NAME, AWS_REGION (with deploy-role credentials), RDS_CA_BUNDLE_SHA256, GITHUB_SHA,
# GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT.
set -euo pipefail

# shellcheck source=.github/scripts/deploy-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/deploy-common.sh"
deploy_start build-push "build-push.sh <github output file>" 1 "$@"
output=$1
[[ ${RDS_CA_BUNDLE_SHA256:-} =~ ^[0-9a-f]{64}$ ]] \
  || die "repository variable RDS_CA_BUNDLE_SHA256 must be the SHA-256 of the RDS global CA bundle (see README)"

repository_name="$PLATFORM_NAME-etl"
repository=$(aws ecr describe-repositories --repository-names "$repository_name" \
  --query 'repositories[0].repositoryUri' --output text)
registry_host=${repository%%/*}
image_tag="$GITHUB_SHA-$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT"
trap 'docker logout "$registry_host" >/dev/null 2>&1 || true' EXIT

aws ecr get-login-password --region "$AWS_REGION" \
  | docker login --username AWS --password-stdin "$registry_host" >/dev/null

# The default docker driver cannot store provenance attestations; the image is identified by its digest.
docker buildx build \
  --file etl/Dockerfile \
  --build-arg "RDS_CA_BUNDLE_SHA256=$RDS_CA_BUNDLE_SHA256" \
  --label "org.opencontainers.image.revision=$GITHUB_SHA" \
  --label "org.opencontainers.image.source=${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}" \
  --provenance=false \
  --tag "$repository:$image_tag" \
  --push \
  .

# Ask ECR, not the local builder, for the digest: it is the manifest digest the host will pull.
digest=$(aws ecr describe-images --repository-name "$repository_name" --image-ids "imageTag=$image_tag" \
  --query 'imageDetails[0].imageDigest' --output text)
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || die "ECR reports no digest for $repository:$image_tag (got '$digest')"
echo "build: pushed $repository:$image_tag ($digest)"
echo "digest=$digest" >>"$output"
