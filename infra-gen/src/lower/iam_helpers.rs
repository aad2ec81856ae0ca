//! IAM building blocks every area grants with: identity-policy statements, service roles,
//! inline policies and attachments, all written to the IAM file. Below the areas, so an area
//! grants access without importing the IAM area.

use crate::lower::ctx::{Ctx, IAM};
use crate::lower::handles::PlatformNames;
use crate::tf::data::{AwsIamPolicyDocument, Condition, Principals, Statement};
use crate::tf::iam::{AwsIamRole, AwsIamRolePolicy, AwsIamRolePolicyAttachment};
use crate::tf::monitoring::AwsSsmParameter;
use crate::tf::{Document, Handle, Meta, TfError, TfString};

/// The condition key on the tag RDS puts on a managed master-user secret, naming its instance's
/// ARN: the boundary and the apply role reach the platform's own secret through it, since RDS
/// chooses the secret's name (`rds!db-<uuid>`).
pub(crate) const RDS_SECRET_INSTANCE_TAG: &str = "aws:ResourceTag/aws:rds:primaryDBInstanceArn";

/// A statement allowing `actions` on `resources`, for identity policies.
pub(crate) fn allow(
    sid: &'static str,
    actions: Vec<&'static str>,
    resources: Vec<TfString>,
) -> Statement {
    Statement {
        sid,
        effect: "Allow",
        actions,
        resources,
        principals: Vec::new(),
        condition: Vec::new(),
    }
}

/// A role that only `service` may assume, and only on behalf of this account.
pub(crate) fn service_role(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    name: &str,
    service: &str,
    description: &str,
) -> Result<Handle<AwsIamRole>, TfError> {
    let trust = doc.data(
        IAM,
        &format!("{name}_trust"),
        &AwsIamPolicyDocument {
            statement: vec![Statement {
                sid: "AssumeFromService",
                effect: "Allow",
                actions: vec!["sts:AssumeRole"],
                resources: Vec::new(),
                principals: vec![Principals {
                    type_: "Service",
                    identifiers: vec![TfString::lit(service)],
                }],
                condition: vec![Condition {
                    test: "StringEquals",
                    variable: "aws:SourceAccount",
                    values: vec![ctx.account.attr("account_id")],
                }],
            }],
        },
    )?;
    doc.resource(
        IAM,
        name,
        &AwsIamRole {
            name: ctx.named(&name.replace('_', "-")),
            description: TfString::lit(description),
            assume_role_policy: trust.attr("json"),
            permissions_boundary: Some(ctx.permissions_boundary()),
            tags: ctx.tags(&name.replace('_', "-")),
        },
    )
}

/// Attaches an inline policy built from `statements` to `role`.
pub(crate) fn inline_policy(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    name: &str,
    role: &Handle<AwsIamRole>,
    statements: Vec<Statement>,
) -> Result<(), TfError> {
    inline_policy_with(doc, ctx, name, role, statements, Meta::default())
}

/// [`inline_policy`] with meta-arguments, e.g. a reasoned policy-rule suppression.
pub(crate) fn inline_policy_with(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    name: &str,
    role: &Handle<AwsIamRole>,
    statements: Vec<Statement>,
    meta: Meta,
) -> Result<(), TfError> {
    let policy = doc.data(
        IAM,
        name,
        &AwsIamPolicyDocument {
            statement: statements,
        },
    )?;
    doc.resource_with(
        IAM,
        name,
        &AwsIamRolePolicy {
            name: ctx.named(&name.replace('_', "-")),
            role: role.id(),
            policy: policy.attr("json"),
        },
        meta,
    )?;
    Ok(())
}

/// Attaches an AWS managed policy to `role`.
pub(crate) fn attach_managed(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    name: &str,
    role: &Handle<AwsIamRole>,
    path: &str,
) -> Result<(), TfError> {
    attach(doc, name, role, ctx.managed_policy(path))
}

/// Attaches the managed policy `policy_arn` (AWS's or the platform's own) to `role`.
pub(crate) fn attach(
    doc: &mut Document,
    name: &str,
    role: &Handle<AwsIamRole>,
    policy_arn: TfString,
) -> Result<(), TfError> {
    doc.resource(
        IAM,
        name,
        &AwsIamRolePolicyAttachment {
            role: role.id(),
            policy_arn,
        },
    )?;
    Ok(())
}

/// The ARN of the SSM parameter holding the deployed image digest.
pub(crate) fn image_parameter_arn(ctx: &Ctx<'_>) -> TfString {
    ssm_parameter_arn(ctx, &ctx.platform.etl_image_parameter_name())
}

/// `arn:…:<service>:<region>:<account>:<kind><name>` for each of `names` (`kind` as in `db:` or
/// `repository/`), the exact ARNs the bootstrap module's policies grant on.
pub(crate) fn arns_of(ctx: &Ctx<'_>, service: &str, kind: &str, names: &[&str]) -> Vec<TfString> {
    names
        .iter()
        .map(|name| ctx.arn(service, &format!("{kind}{name}")))
        .collect()
}

/// The ARN of the SSM parameter `name`: a path (`/a/b`) follows `parameter` directly, a plain
/// name after a `/`.
pub(crate) fn ssm_parameter_arn(ctx: &Ctx<'_>, name: &str) -> TfString {
    let slash = if name.starts_with('/') { "" } else { "/" };
    ctx.arn("ssm", &format!("parameter{slash}{name}"))
}

/// The ARNs of the SSM parameters the platform module declares (the agent configurations).
pub(crate) fn parameter_arns(ctx: &Ctx<'_>, names: &PlatformNames) -> Vec<TfString> {
    names
        .of_type::<AwsSsmParameter>()
        .iter()
        .map(|p| ssm_parameter_arn(ctx, p))
        .collect()
}

/// A log group's ARN in both forms IAM compares: the group's own and the one the API returns,
/// ending in `:*` (its streams).
pub(crate) fn log_group_arns(ctx: &Ctx<'_>, name: &str) -> [TfString; 2] {
    [
        ctx.arn("logs", &format!("log-group:{name}")),
        ctx.arn("logs", &format!("log-group:{name}:*")),
    ]
}
