//! Outputs of both modules. Their names are a contract with `etl`, the workflows' repository
//! variables and the local platform; do not rename.

use crate::lower::ctx::{Ctx, OUTPUTS};
use crate::lower::handles::{Buckets, Db, Events, GithubRoles, Host, Runtime};
use crate::tf::data::AwsKmsKey;
use crate::tf::iam::{AwsIamPolicy, AwsIamRole};
use crate::tf::storage::AwsS3Bucket;
use crate::tf::{Document, Handle, Output, TfError, TfString};

pub(crate) fn lower(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    buckets: &Buckets,
    key: &Handle<AwsKmsKey>,
    host: &Host,
    db: &Db,
    events: &Events,
) -> Result<(), TfError> {
    let outputs: [(&str, &'static str, TfString); 13] = [
        (
            "etl_queue_url",
            "URL of the SQS queue of the data bucket's object-created events (ETL_QUEUE_URL).",
            events.queue.attr("url"),
        ),
        (
            "etl_dead_letter_queue_url",
            "URL of the event queue's dead-letter queue.",
            events.dead_letter.attr("url"),
        ),
        (
            "data_bucket_name",
            "Name of the data bucket.",
            buckets.data.attr("bucket"),
        ),
        (
            "data_bucket_arn",
            "ARN of the data bucket.",
            buckets.data.arn(),
        ),
        ("kms_key_arn", "ARN of the platform KMS key.", key.arn()),
        (
            "etl_instance_id",
            "EC2 instance id of the ETL host.",
            host.instance.id().string(),
        ),
        (
            "etl_public_ip",
            "Elastic IP of the ETL host.",
            host.eip.attr("public_ip"),
        ),
        (
            "etl_public_dns",
            "Public DNS name of the ETL host.",
            host.eip.attr("public_dns"),
        ),
        (
            "database_endpoint",
            "Hostname of the PostgreSQL instance.",
            db.instance.attr("address"),
        ),
        (
            "database_port",
            "Port of the PostgreSQL instance.",
            db.instance.attr("port"),
        ),
        (
            "database_name",
            "Initial database name.",
            db.instance.attr("db_name"),
        ),
        (
            "database_secret_arn",
            "Secrets Manager ARN of the RDS-managed master credentials.",
            db.secret_arn(),
        ),
        (
            "region",
            "AWS region of the platform.",
            ctx.region.attr("name"),
        ),
    ];
    declare(doc, outputs)
}

/// The outputs the deploy workflow's repository variables are set from.
pub(crate) fn lower_delivery(doc: &mut Document, runtime: &Runtime) -> Result<(), TfError> {
    declare(
        doc,
        [
            (
                "etl_ecr_repository_url",
                "ECR repository URL of the ETL image.",
                runtime.repository.attr("repository_url"),
            ),
            (
                "etl_deploy_document_name",
                "SSM document that deploys an ETL image digest to the host.",
                runtime.document.attr("name"),
            ),
        ],
    )
}

/// The bootstrap module's outputs: the state bucket (`TF_STATE_BUCKET`), the boundary, and the
/// CI role ARNs the repository variables are set from (`null` until
/// `delivery.github_repository` is configured).
pub(crate) fn lower_bootstrap(
    doc: &mut Document,
    state: &Handle<AwsS3Bucket>,
    boundary: &Handle<AwsIamPolicy>,
    github: Option<&GithubRoles>,
) -> Result<(), TfError> {
    let role = |pick: fn(&GithubRoles) -> &Handle<AwsIamRole>| {
        github.map_or_else(TfString::null, |roles| pick(roles).arn())
    };
    declare(
        doc,
        [
            (
                "state_bucket_name",
                "Terraform state bucket of the platform module (repository variable TF_STATE_BUCKET).",
                state.attr("id"),
            ),
            (
                "permissions_boundary_arn",
                "Permissions boundary every platform role carries.",
                boundary.arn(),
            ),
            (
                "github_plan_role_arn",
                "Role GitHub Actions assumes to plan (repository variable AWS_PLAN_ROLE_ARN).",
                role(|r| &r.plan),
            ),
            (
                "github_apply_role_arn",
                "Role GitHub Actions assumes to apply (repository variable AWS_APPLY_ROLE_ARN).",
                role(|r| &r.apply),
            ),
            (
                "github_deploy_role_arn",
                "Role GitHub Actions assumes to deploy the ETL (repository variable AWS_DEPLOY_ROLE_ARN).",
                role(|r| &r.deploy),
            ),
        ],
    )
}

fn declare<const N: usize>(
    doc: &mut Document,
    outputs: [(&str, &'static str, TfString); N],
) -> Result<(), TfError> {
    for (name, description, value) in outputs {
        doc.output(OUTPUTS, name, Output { description, value })?;
    }
    Ok(())
}
