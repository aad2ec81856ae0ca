//! The floor the apply role's policy files stand on: the platform tag conditions, the EC2 ARN
//! helper, the state bucket's protected calls and `ApplyDeps`, what the policies refer to (the
//! keys, the VPC, the platform module's declared names). It sits below the per-area files so
//! that they import it and `apply/mod.rs` only wires.

use crate::lower::ctx::Ctx;
use crate::lower::handles::PlatformNames;
use crate::lower::iam_helpers::allow;
use crate::tf::TfString;
use crate::tf::data::{Condition, Statement};

pub(super) const REQUEST_TAG: &str = "aws:RequestTag/Platform";
pub(super) const RESOURCE_TAG: &str = "aws:ResourceTag/Platform";

/// EC2 resource types the platform creates, as they appear in EC2 ARNs.
pub(super) const EC2_TYPES: [&str; 11] = [
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

/// What the apply policies refer to besides names. They live in the bootstrap module, so
/// nothing of the platform is a handle: the platform VPC is looked up by its tag; the keys are
/// the bootstrap module's own.
pub(crate) struct ApplyDeps {
    /// The platform VPC's ARN (a placeholder before the platform exists: re-apply the
    /// bootstrap module after the platform's first apply).
    pub(crate) vpc_arn: TfString,
    /// The AMI parameter the platform reads (`compute.ami_ssm_parameter`).
    pub(crate) ami_parameter: TfString,
    /// Statements for the Terraform state (bucket listing, state object, lock file).
    pub(crate) state: Vec<Statement>,
    /// The platform key's ARN (bootstrap module).
    pub(crate) platform_key: TfString,
    /// The alarm topic key's ARN (bootstrap module).
    pub(crate) alarms_key: TfString,
    /// What the platform module declares: every grant on a named resource names these.
    pub(crate) names: PlatformNames,
}

/// `condition` on the platform tag.
pub(super) fn platform_tag(ctx: &Ctx<'_>, variable: &'static str) -> Condition {
    Condition {
        test: "StringEquals",
        variable,
        values: vec![TfString::lit(ctx.platform.name.to_string())],
    }
}

/// The encryption context SSM gives KMS for a SecureString: the parameter's ARN. A grant
/// conditioned on it decrypts those parameters and nothing else the key protects.
pub(crate) const PARAMETER_CONTEXT: &str = "kms:EncryptionContext:PARAMETER_ARN";

/// `statement` limited by `conditions`.
pub(super) fn when(statement: Statement, conditions: Vec<Condition>) -> Statement {
    Statement {
        condition: conditions,
        ..statement
    }
}

/// EC2 ARNs of `types` in this account and region.
pub(super) fn ec2_arns(ctx: &Ctx<'_>, types: &[&str]) -> Vec<TfString> {
    types
        .iter()
        .map(|t| ctx.arn("ec2", &format!("{t}/*")))
        .collect()
}

/// S3 calls that change a bucket's configuration: denied on the state bucket.
pub(super) const STATE_BUCKET_WRITES: [&str; 9] = [
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
pub(super) fn deny(
    sid: &'static str,
    actions: Vec<&'static str>,
    resources: Vec<TfString>,
) -> Statement {
    Statement {
        effect: "Deny",
        ..allow(sid, actions, resources)
    }
}

#[cfg(test)]
mod tests {
    use crate::lower::apply::scope::{REQUEST_TAG, RESOURCE_TAG};
    use crate::lower::ctx::PLATFORM_TAG;

    #[test]
    fn tag_conditions_name_the_providers_platform_tag() {
        assert_eq!(REQUEST_TAG, format!("aws:RequestTag/{PLATFORM_TAG}"));
        assert_eq!(RESOURCE_TAG, format!("aws:ResourceTag/{PLATFORM_TAG}"));
    }
}
