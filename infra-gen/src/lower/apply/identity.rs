//! The apply role on IAM: the platform's roles and policies (under the permissions boundary), never
//! the CI identity.

use crate::lower::apply::scope::{STATE_BUCKET_WRITES, deny, when};
use crate::lower::ctx::Ctx;
use crate::lower::iam_helpers::allow;
use crate::tf::TfString;
use crate::tf::data::{Condition, Statement};

/// AWS managed policies the platform attaches to its own roles.
pub(crate) const ATTACHED_MANAGED_POLICIES: [&str; 1] =
    ["service-role/AmazonRDSEnhancedMonitoringRole"];

/// IAM calls that change a role or a managed policy: denied on everything the bootstrap module
/// owns (the CI roles, their policies, the permissions boundary, the GitHub OIDC provider).
const IAM_WRITES: [&str; 22] = [
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:AttachRolePolicy",
    "iam:CreatePolicyVersion",
    "iam:DeleteOpenIDConnectProvider",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:DeleteRole",
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
    "iam:SetDefaultPolicyVersion",
    "iam:TagOpenIDConnectProvider",
    "iam:TagPolicy",
    "iam:TagRole",
    "iam:UntagPolicy",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateOpenIDConnectProviderThumbprint",
    "iam:UpdateRole",
];

/// Roles the platform passes to a service, with that service and the statement id (unique: the
/// provider refuses a policy document with two equal Sids).
const PASSED_ROLES: [(&str, &str, &str); 3] = [
    ("etl-host", "ec2.amazonaws.com", "PassHostRoleToEc2"),
    (
        "vpc-flow-logs",
        "vpc-flow-logs.amazonaws.com",
        "PassFlowLogsRoleToVpcFlowLogs",
    ),
    (
        "rds-monitoring",
        "monitoring.rds.amazonaws.com",
        "PassMonitoringRoleToRds",
    ),
];

pub(super) fn identity(ctx: &Ctx<'_>) -> Vec<Statement> {
    let name = &ctx.platform.name;
    let iam = |rest: &str| ctx.global_arn("iam", rest);
    let mut attachable: Vec<TfString> = ATTACHED_MANAGED_POLICIES
        .iter()
        .map(|p| ctx.managed_policy(p))
        .collect();
    attachable.push(iam(&format!("policy/{name}-*")));
    let boundary = ctx.permissions_boundary();
    let ci_roles = iam(&format!("role/{}", ctx.platform.github_role_name("*")));
    let ci_policies = iam(&format!("policy/{}", ctx.platform.github_role_name("*")));
    let mut statements = vec![
        allow(
            "ManagePlatformIam",
            vec![
                "iam:AddRoleToInstanceProfile",
                "iam:CreateInstanceProfile",
                "iam:CreatePolicy",
                "iam:CreatePolicyVersion",
                "iam:DeleteInstanceProfile",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:DeleteRole",
                "iam:DeleteRolePolicy",
                "iam:GetInstanceProfile",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
                "iam:ListPolicyTags",
                "iam:ListPolicyVersions",
                "iam:ListRolePolicies",
                "iam:ListRoleTags",
                "iam:PutRolePolicy",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:TagInstanceProfile",
                "iam:TagPolicy",
                "iam:TagRole",
                "iam:UntagInstanceProfile",
                "iam:UntagPolicy",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
            ],
            vec![
                iam(&format!("role/{name}-*")),
                iam(&format!("instance-profile/{name}-*")),
                iam(&format!("policy/{name}-*")),
            ],
        ),
        when(
            allow(
                "CreateRolesOnlyWithTheBoundary",
                vec!["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
                vec![iam(&format!("role/{name}-*"))],
            ),
            vec![Condition {
                test: "ArnEquals",
                variable: "iam:PermissionsBoundary",
                values: vec![boundary.clone()],
            }],
        ),
        deny(
            "NeverTouchTheBootstrapIdentity",
            IAM_WRITES.to_vec(),
            vec![
                ci_roles,
                ci_policies.clone(),
                boundary.clone(),
                iam("oidc-provider/token.actions.githubusercontent.com"),
            ],
        ),
        deny(
            "NeverDropARolesBoundary",
            vec!["iam:DeleteRolePermissionsBoundary"],
            vec![iam(&format!("role/{name}-*"))],
        ),
        when(
            deny(
                "NeverAttachTheBootstrapPolicies",
                vec!["iam:AttachRolePolicy"],
                vec![iam(&format!("role/{name}-*"))],
            ),
            vec![Condition {
                test: "ArnLike",
                variable: "iam:PolicyARN",
                values: vec![ci_policies, boundary],
            }],
        ),
        deny(
            "NeverTouchTheStateBucket",
            STATE_BUCKET_WRITES.to_vec(),
            vec![ctx.s3_arn(&ctx.platform.state_bucket_name())],
        ),
        when(
            allow(
                "AttachOnlyThePlatformsPolicies",
                vec!["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                vec![iam(&format!("role/{name}-*"))],
            ),
            vec![Condition {
                test: "ArnEquals",
                variable: "iam:PolicyARN",
                values: attachable,
            }],
        ),
    ];
    for (role, service, sid) in PASSED_ROLES {
        statements.push(when(
            allow(
                sid,
                vec!["iam:PassRole"],
                vec![iam(&format!("role/{name}-{role}"))],
            ),
            vec![Condition {
                test: "StringEquals",
                variable: "iam:PassedToService",
                values: vec![TfString::lit(service)],
            }],
        ));
    }
    statements
}
