//! The GitHub apply role's permissions, built from the model instead of an AWS managed policy:
//! exactly the calls Terraform makes to create, read, update and delete the resource types this
//! platform declares, scoped to the platform's names.
//!
//! Scoping follows what each service supports. Services with resource-level permissions (S3,
//! RDS, IAM, CloudWatch Logs, SNS, CloudWatch, SSM, ECR, Secrets Manager) get ARNs built from the
//! platform's name prefix. EC2 and KMS key creation only support tag-based control, so new
//! resources must carry the provider's default `Platform` tag (`aws:RequestTag`) and existing
//! ones may be changed only when they already carry it (`aws:ResourceTag`). The statements are
//! split into one customer managed policy per area so each stays under IAM's 6,144-character
//! limit for managed policies, one file per area beside this one; the tag helpers live here.

use crate::lower::ctx::{Ctx, DELIVERY, IAM};
use crate::lower::iam_helpers::allow;
use crate::tf::data::{AwsIamPolicyDocument, Condition, Statement};
use crate::tf::iam::{AwsIamPolicy, AwsIamRole, AwsIamRolePolicyAttachment};
use crate::tf::{Document, Handle, TfError, TfString};

mod database;
mod delivery;
mod events;
mod identity;
mod network;
mod observability;
mod storage;

const REQUEST_TAG: &str = "aws:RequestTag/Platform";
const RESOURCE_TAG: &str = "aws:ResourceTag/Platform";

/// EC2 resource types the platform creates, as they appear in EC2 ARNs.
const EC2_TYPES: [&str; 11] = [
    "vpc",
    "subnet",
    "route-table",
    "internet-gateway",
    "security-group",
    "elastic-ip",
    "instance",
    "volume",
    "network-interface",
    "vpc-flow-log",
    "security-group-rule",
];

/// One customer managed policy of the apply role.
pub(crate) struct ApplyPolicy {
    /// Resource name suffix and policy name suffix, e.g. `network`.
    pub(crate) area: &'static str,
    /// What it grants.
    pub(crate) description: &'static str,
    /// The statements.
    pub(crate) statements: Vec<Statement>,
}

/// What the apply policies refer to besides names. They live in the bootstrap module, so
/// nothing of the platform is a handle: the platform VPC is looked up by its tag.
pub(crate) struct ApplyDeps {
    /// The platform VPC's ARN (a placeholder before the platform exists: re-apply the
    /// bootstrap module after the platform's first apply).
    pub(crate) vpc_arn: TfString,
    /// The AMI parameter the platform reads (`compute.ami_ssm_parameter`).
    pub(crate) ami_parameter: TfString,
    /// Statements for the Terraform state (bucket listing, state object, lock file).
    pub(crate) state: Vec<Statement>,
}

/// `condition` on the platform tag.
fn platform_tag(ctx: &Ctx<'_>, variable: &'static str) -> Condition {
    Condition {
        test: "StringEquals",
        variable,
        values: vec![TfString::lit(ctx.platform.name.to_string())],
    }
}

/// `statement` limited by `conditions`.
fn when(statement: Statement, conditions: Vec<Condition>) -> Statement {
    Statement {
        condition: conditions,
        ..statement
    }
}

/// EC2 ARNs of `types` in this account and region.
fn ec2_arns(ctx: &Ctx<'_>, types: &[&str]) -> Vec<TfString> {
    types
        .iter()
        .map(|t| ctx.arn("ec2", &format!("{t}/*")))
        .collect()
}

/// S3 calls that change a bucket's configuration: denied on the state bucket.
const STATE_BUCKET_WRITES: [&str; 9] = [
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketAcl",
];

/// A `Deny` of `actions` on `resources`.
fn deny(sid: &'static str, actions: Vec<&'static str>, resources: Vec<TfString>) -> Statement {
    Statement {
        effect: "Deny",
        ..allow(sid, actions, resources)
    }
}

/// The apply role's policies, one per area.
pub(crate) fn apply_policies(ctx: &Ctx<'_>, deps: ApplyDeps) -> Vec<ApplyPolicy> {
    vec![
        ApplyPolicy {
            area: "network",
            description: "terraform apply: the platform's VPC, subnets, routes, security groups, EIP, ETL host, flow log",
            statements: network::network(ctx, &deps),
        },
        ApplyPolicy {
            area: "storage",
            description: "terraform apply: the platform's buckets and KMS keys",
            statements: storage::storage(ctx),
        },
        ApplyPolicy {
            area: "database",
            description: "terraform apply: the platform's RDS instance, its groups and managed secret",
            statements: database::database(ctx),
        },
        ApplyPolicy {
            area: "identity",
            description: "terraform apply: the platform's roles, policies, instance profile, GitHub OIDC provider",
            statements: identity::identity(ctx),
        },
        ApplyPolicy {
            area: "observability",
            description: "terraform apply: the platform's log groups, alarm topic, alarms, dashboard, agent parameter",
            statements: observability::observability(ctx),
        },
        ApplyPolicy {
            area: "delivery",
            description: "terraform apply: state and lock, the ETL repository, the deploy document",
            statements: delivery::delivery(ctx, deps.state),
        },
        ApplyPolicy {
            area: "events",
            description: "terraform apply: the event queue and its notification, the ETL worker fleet",
            statements: events::events_and_fleet(ctx),
        },
    ]
}

/// Creates each policy and attaches it to `role`.
pub(crate) fn attach_apply_policies(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    role: &Handle<AwsIamRole>,
    policies: Vec<ApplyPolicy>,
) -> Result<(), TfError> {
    for policy in policies {
        let name = format!("github_apply_{}", policy.area);
        let document = doc.data(
            IAM,
            &name,
            &AwsIamPolicyDocument {
                statement: policy.statements,
            },
        )?;
        let managed = doc.resource(
            DELIVERY,
            &name,
            &AwsIamPolicy {
                name: ctx.named(&format!("github-apply-{}", policy.area)),
                description: TfString::lit(policy.description),
                policy: document.attr("json"),
                tags: ctx.tags(&format!("github-apply-{}", policy.area)),
            },
        )?;
        doc.resource(
            DELIVERY,
            &name,
            &AwsIamRolePolicyAttachment {
                role: role.id(),
                policy_arn: managed.arn(),
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::lower::apply::{REQUEST_TAG, RESOURCE_TAG};
    use crate::lower::ctx::PLATFORM_TAG;

    #[test]
    fn tag_conditions_name_the_providers_platform_tag() {
        assert_eq!(REQUEST_TAG, format!("aws:RequestTag/{PLATFORM_TAG}"));
        assert_eq!(RESOURCE_TAG, format!("aws:ResourceTag/{PLATFORM_TAG}"));
    }
}
