#!/usr/bin/env bash
# Initializes Terraform in out/ against the S3 state backend. out/ declares `backend "s3"` with
# `use_lockfile = true`; the bucket, key and region are per installation and come from repository variables.
set -euo pipefail

: "${TF_STATE_BUCKET:?repository variable TF_STATE_BUCKET is not set (see README, Delivery)}"
: "${AWS_REGION:?repository variable AWS_REGION is not set (see README, Delivery)}"
key=${TF_STATE_KEY:-hadrian/terraform.tfstate}

terraform -chdir=out init -input=false -no-color \
  -backend-config="bucket=$TF_STATE_BUCKET" \
  -backend-config="key=$key" \
  -backend-config="region=$AWS_REGION" \
  -backend-config="encrypt=true" \
  -backend-config="use_lockfile=true"
