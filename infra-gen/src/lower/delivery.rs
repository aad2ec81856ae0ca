//! Delivery: what the CI/CD pipeline and the host runtime need from AWS. In the platform module,
//! the ECR repository of the ETL image and the SSM document that switches the host to an image
//! digest. In the bootstrap module, when a GitHub repository is configured, the GitHub OIDC
//! provider and the three roles the workflows assume (apply with the customer managed policies
//! of `lower::apply`, plan with the reads of those same tables minus data, deploy): an
//! administrator applies those, so the apply role never manages its own permissions. They name
//! the platform's resources by ARN, built from the same `Platform` methods the platform module
//! uses. The ETL containers' log group belongs to monitoring.
//!
//! Every role is trusted only for the configured repository, with the audience and the `sub`
//! claim pinned by `StringEquals` (the `oidc-trust` policy rule enforces both).

use std::collections::BTreeMap;

use serde_json::json;

use crate::lower::apply::{ApplyDeps, apply_policies, attach_policies, plan_policies};
use crate::lower::ctx::{Ctx, DELIVERY, IAM};
use crate::lower::handles::{GithubRoles, Keys, PlatformNames, Runtime};
use crate::lower::iam_helpers::{allow, image_parameter_arn, inline_policy};
use crate::model::GithubDelivery;
use crate::tf::data::{
    self, AwsIamPolicyDocument, AwsKmsKey, AwsVpcs, Condition, Filter, Principals, Statement,
};
use crate::tf::ecr::{AwsEcrRepository, EncryptionConfiguration, ImageScanningConfiguration};
use crate::tf::iam::{AwsIamOpenidConnectProvider, AwsIamRole};
use crate::tf::ssm::AwsSsmDocument;
use crate::tf::{Document, Handle, TfError, TfString, hole};

/// Where cloud-init installs the deploy script (a copy of `etl/deploy/deploy.sh`).
pub(crate) const DEPLOY_SCRIPT_PATH: &str = "/opt/hadrian/etl/deploy.sh";

/// The only image reference the deploy document accepts: a manifest digest, nothing else.
pub(crate) const IMAGE_DIGEST_PATTERN: &str = "^sha256:[0-9a-f]{64}$";

/// Seconds the deploy document may run; the deploy workflow waits at most 1800 s in total.
const DEPLOY_TIMEOUT_SECONDS: u32 = 1500;

/// GitHub's OIDC issuer and the audience `aws-actions/configure-aws-credentials` asks for.
const GITHUB_ISSUER: &str = "token.actions.githubusercontent.com";
const GITHUB_AUDIENCE: &str = "sts.amazonaws.com";

/// The EC2 filter on the provider's default platform tag.
const PLATFORM_TAG_FILTER: &str = "tag:Platform";

/// The IAM condition key for a tag on the instance a command is sent to.
const HOST_TAG_CONDITION: &str = "ssm:resourceTag/hadrian:etl-host";

/// The ECR repository and the deploy document.
pub(crate) fn lower_runtime(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    key: &Handle<AwsKmsKey>,
) -> Result<Runtime, TfError> {
    let platform = ctx.platform;
    let repository = doc.resource(
        DELIVERY,
        "etl",
        &AwsEcrRepository {
            name: TfString::lit(platform.etl_repository_name()),
            image_tag_mutability: "IMMUTABLE",
            image_scanning_configuration: ImageScanningConfiguration { scan_on_push: true },
            encryption_configuration: EncryptionConfiguration {
                encryption_type: "KMS",
                kms_key: key.arn(),
            },
            tags: ctx.tags("etl"),
        },
    )?;
    let content = json!({
        "schemaVersion": "2.2",
        "description": "Switch the ETL host to an image digest of the ETL repository: pull it, run `etl migrate`, record it, run the ETL once.",
        "parameters": {
            "ImageDigest": {
                "type": "String",
                "description": "Manifest digest of an image in the ETL repository (sha256:<64 hex>).",
                "allowedPattern": IMAGE_DIGEST_PATTERN,
            },
        },
        "mainSteps": [{
            "action": "aws:runShellScript",
            "name": "deploy",
            "precondition": { "StringEquals": ["platformType", "Linux"] },
            "inputs": {
                "timeoutSeconds": DEPLOY_TIMEOUT_SECONDS.to_string(),
                "runCommand": [format!("{DEPLOY_SCRIPT_PATH} {} {{{{ ImageDigest }}}}", hole("repository_url"))],
            },
        }],
    });
    let text = serde_json::to_string_pretty(&content).map_err(|e| TfError::Serialize {
        address: "aws_ssm_document.etl_deploy".into(),
        message: e.to_string(),
    })?;
    let holes = BTreeMap::from([("repository_url", repository.attr("repository_url"))]);
    let document = doc.resource(
        DELIVERY,
        "etl_deploy",
        &AwsSsmDocument {
            name: TfString::lit(platform.etl_deploy_document_name()),
            document_type: "Command",
            document_format: "JSON",
            target_type: "/AWS::EC2::Instance",
            content: TfString::with_holes(&text, &holes)?,
            tags: ctx.tags("etl-deploy"),
        },
    )?;
    Ok(Runtime {
        repository,
        document,
    })
}

/// A role only GitHub Actions runs of `github.repository` whose `sub` claim is one of `subjects`
/// may assume.
fn github_role(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    provider_arn: &TfString,
    purpose: &str,
    subjects: &[&str],
    description: &str,
) -> Result<Handle<AwsIamRole>, TfError> {
    let name = format!("github_{purpose}");
    let trust = doc.data(
        IAM,
        &format!("{name}_trust"),
        &AwsIamPolicyDocument {
            statement: vec![Statement {
                sid: "AssumeFromGithubActions",
                effect: "Allow",
                actions: vec!["sts:AssumeRoleWithWebIdentity"],
                resources: Vec::new(),
                principals: vec![Principals {
                    type_: "Federated",
                    identifiers: vec![provider_arn.clone()],
                }],
                condition: vec![
                    Condition {
                        test: "StringEquals",
                        variable: "token.actions.githubusercontent.com:aud",
                        values: vec![TfString::lit(GITHUB_AUDIENCE)],
                    },
                    Condition {
                        test: "StringEquals",
                        variable: "token.actions.githubusercontent.com:sub",
                        values: subjects.iter().map(TfString::lit).collect(),
                    },
                ],
            }],
        },
    )?;
    doc.resource(
        DELIVERY,
        &name,
        &AwsIamRole {
            name: TfString::lit(ctx.platform.github_role_name(purpose)),
            description: TfString::lit(description),
            assume_role_policy: trust.attr("json"),
            // The CI roles are the administrator's (bootstrap module), not the platform's.
            permissions_boundary: None,
            tags: ctx.tags(&format!("github-{purpose}")),
        },
    )
}

/// The GitHub OIDC provider and the plan, apply and deploy roles; nothing when no repository is
/// configured.
pub(crate) fn lower_github(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    keys: &Keys,
    names: PlatformNames,
) -> Result<Option<GithubRoles>, TfError> {
    let Some(github) = &ctx.platform.delivery.github else {
        return Ok(None);
    };
    let platform = ctx.platform;
    let repository = ctx.arn(
        "ecr",
        &format!("repository/{}", platform.etl_repository_name()),
    );
    let document = ctx.arn(
        "ssm",
        &format!("document/{}", platform.etl_deploy_document_name()),
    );
    let vpcs = doc.data(
        DELIVERY,
        "platform",
        &AwsVpcs {
            filter: vec![Filter {
                name: PLATFORM_TAG_FILTER,
                values: vec![TfString::lit(platform.name.to_string())],
            }],
        },
    )?;
    let vpc_arn = ctx.arn_of(
        "ec2",
        true,
        Some(ctx.account.attr("account_id")),
        TfString::concat([TfString::lit("vpc/"), vpcs.one_or("ids", "none")]),
    );
    let url = TfString::lit(format!("https://{GITHUB_ISSUER}"));
    let provider_arn = if github.create_oidc_provider {
        doc.resource(
            DELIVERY,
            "github",
            &AwsIamOpenidConnectProvider {
                url,
                client_id_list: vec![TfString::lit(GITHUB_AUDIENCE)],
                tags: ctx.tags("github-actions"),
            },
        )?
        .arn()
    } else {
        doc.data(
            DELIVERY,
            "github",
            &data::AwsIamOpenidConnectProvider { url },
        )?
        .arn()
    };
    let repo = &github.repository;
    let pull_request = format!("repo:{repo}:pull_request");
    let main = format!("repo:{repo}:ref:refs/heads/main");
    let production = format!("repo:{repo}:environment:production");
    // The deploy runs as root on every host, so it goes through its own environment, whose
    // reviewers and branch rule GitHub enforces before the job gets a token; any other run on
    // main (a `workflow_dispatch` of another workflow) carries the `ref:` subject and is refused.
    let deploy_environment = format!("repo:{repo}:environment:deploy");

    let plan = github_role(
        doc,
        ctx,
        &provider_arn,
        "plan",
        &[&pull_request, &main],
        "GitHub Actions: terraform plan (read-only) for pull requests and main",
    )?;
    let apply = github_role(
        doc,
        ctx,
        &provider_arn,
        "apply",
        &[&production],
        "GitHub Actions: terraform apply from the protected production environment",
    )?;
    let state = vec![
        list_state_bucket(ctx, github),
        allow(
            "ReadWriteStateAndLock",
            vec!["s3:GetObject", "s3:PutObject"],
            vec![
                state_object(ctx, github, ""),
                state_object(ctx, github, ".tflock"),
            ],
        ),
        allow(
            "ReleaseStateLock",
            vec!["s3:DeleteObject"],
            vec![state_object(ctx, github, ".tflock")],
        ),
    ];
    let policies = apply_policies(
        ctx,
        ApplyDeps {
            vpc_arn,
            ami_parameter: TfString::lit(&platform.compute.ami_ssm_parameter),
            state,
            platform_key: keys.platform.arn(),
            alarms_key: keys.alarms.arn(),
            names,
        },
    );
    // The plan reads what the apply reads, minus data (`apply/plan.rs`), plus the state object
    // and its lock file (plans run with `-lock=false`, so the lock file is read at most).
    let plan_state = vec![allow(
        "ReadStateAndLock",
        vec!["s3:GetObject"],
        vec![
            state_object(ctx, github, ""),
            state_object(ctx, github, ".tflock"),
        ],
    )];
    attach_policies(
        doc,
        ctx,
        "plan",
        &plan,
        plan_policies(&policies, plan_state),
    )?;
    attach_policies(doc, ctx, "apply", &apply, policies)?;

    let deploy = github_role(
        doc,
        ctx,
        &provider_arn,
        "deploy",
        &[&deploy_environment],
        "GitHub Actions: push the ETL image and run the deploy document on the ETL host",
    )?;
    inline_policy(
        doc,
        ctx,
        "github_deploy",
        &deploy,
        vec![
            allow(
                "LogInToEcr",
                vec!["ecr:GetAuthorizationToken"],
                vec![TfString::lit("*")],
            ),
            allow(
                "PushEtlImage",
                vec![
                    "ecr:DescribeRepositories",
                    "ecr:DescribeImages",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:InitiateLayerUpload",
                    "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload",
                    "ecr:PutImage",
                    "ecr:BatchGetImage",
                ],
                vec![repository],
            ),
            allow(
                "RecordDeployedImageDigest",
                vec!["ssm:PutParameter"],
                vec![image_parameter_arn(ctx)],
            ),
            allow(
                "SendDeployDocument",
                vec!["ssm:SendCommand"],
                vec![document],
            ),
            Statement {
                condition: vec![Condition {
                    test: "StringEquals",
                    variable: HOST_TAG_CONDITION,
                    values: vec![TfString::lit(ctx.platform.etl_host_tag_value())],
                }],
                ..allow(
                    "SendToEtlHostOnly",
                    vec!["ssm:SendCommand"],
                    vec![ctx.arn("ec2", "instance/*")],
                )
            },
            // No resource type or condition key exists for these (IAM's service reference);
            // `ssm-deploy.sh` cancels its own command on a timeout. At worst another command in
            // flight in the account is cancelled: nothing is read or changed.
            allow(
                "FollowCommandAndFindHost",
                vec![
                    "ssm:GetCommandInvocation",
                    "ssm:CancelCommand",
                    "ec2:DescribeInstances",
                ],
                vec![TfString::lit("*")],
            ),
        ],
    )?;
    Ok(Some(GithubRoles {
        plan,
        apply,
        deploy,
    }))
}

/// Listing the state bucket, which Terraform's S3 backend does before reading the state.
fn list_state_bucket(ctx: &Ctx<'_>, github: &GithubDelivery) -> Statement {
    allow(
        "ListStateBucket",
        vec!["s3:ListBucket"],
        vec![ctx.s3_arn(&github.state_bucket)],
    )
}

/// The state object (or its lock file, `suffix = ".tflock"`) in the state bucket.
fn state_object(ctx: &Ctx<'_>, github: &GithubDelivery, suffix: &str) -> TfString {
    ctx.s3_arn(&format!(
        "{}/{}{suffix}",
        github.state_bucket, github.state_key
    ))
}

#[cfg(test)]
mod tests {
    use crate::lower::ctx::PLATFORM_TAG;
    use crate::lower::delivery::{HOST_TAG_CONDITION, PLATFORM_TAG_FILTER};
    use crate::model::ETL_HOST_TAG_KEY as KEY;

    #[test]
    fn the_host_tag_condition_names_the_host_tag() {
        assert_eq!(HOST_TAG_CONDITION, format!("ssm:resourceTag/{KEY}"));
        assert_eq!(PLATFORM_TAG_FILTER, format!("tag:{PLATFORM_TAG}"));
    }
}
