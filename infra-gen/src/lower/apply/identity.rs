//! The apply role on IAM: the platform's roles, policies and instance profile, each by its exact
//! ARN (under the permissions boundary), never the CI identity.

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

/// The platform's own managed policies and instance profiles (the roles are [`PASSED_ROLES`]),
/// by name suffix: the apply role may write exactly these, so a platform whose name starts with
/// this one's (`acme` and `acme-full`) is out of its reach. `tests/it/access.rs` checks that every
/// role, policy and profile the platform module declares is listed.
const PLATFORM_POLICIES: [&str; 1] = ["ssm-agent"];
const PLATFORM_PROFILES: [&str; 1] = ["etl-host"];

pub(super) fn identity(ctx: &Ctx<'_>) -> Vec<Statement> {
    let name = &ctx.platform.name;
    let iam = |rest: &str| ctx.global_arn("iam", rest);
    let exact = |kind: &str, suffixes: &[&str]| -> Vec<TfString> {
        suffixes
            .iter()
            .map(|s| iam(&format!("{kind}/{name}-{s}")))
            .collect()
    };
    let role_names: Vec<&str> = PASSED_ROLES.iter().map(|(role, _, _)| *role).collect();
    let roles = exact("role", &role_names);
    let policies = exact("policy", &PLATFORM_POLICIES);
    let profiles = exact("instance-profile", &PLATFORM_PROFILES);
    let mut attachable: Vec<TfString> = ATTACHED_MANAGED_POLICIES
        .iter()
        .map(|p| ctx.managed_policy(p))
        .collect();
    attachable.extend(policies.iter().cloned());
    let boundary = ctx.permissions_boundary();
    let with_boundary = || Condition {
        test: "ArnEquals",
        variable: "iam:PermissionsBoundary",
        values: vec![boundary.clone()],
    };
    let ci_roles = iam(&format!("role/{}", ctx.platform.github_role_name("*")));
    let ci_policies = iam(&format!("policy/{}", ctx.platform.github_role_name("*")));
    let mut statements = vec![
        // IAM offers no boundary condition for these; they name the platform's roles exactly, so
        // a trust policy can be rewritten only on a role that carries the boundary.
        allow(
            "ManagePlatformRoles",
            vec![
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
                "iam:ListRolePolicies",
                "iam:ListRoleTags",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
            ],
            roles.clone(),
        ),
        allow(
            "ManagePlatformInstanceProfiles",
            vec![
                "iam:AddRoleToInstanceProfile",
                "iam:CreateInstanceProfile",
                "iam:DeleteInstanceProfile",
                "iam:GetInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:TagInstanceProfile",
                "iam:UntagInstanceProfile",
            ],
            profiles,
        ),
        allow(
            "ManagePlatformPolicies",
            vec![
                "iam:CreatePolicy",
                "iam:CreatePolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
                "iam:ListPolicyTags",
                "iam:ListPolicyVersions",
                "iam:TagPolicy",
                "iam:UntagPolicy",
            ],
            policies,
        ),
        // Every IAM action that supports `iam:PermissionsBoundary` is conditioned on it: the role
        // must carry (or be given) the platform's boundary.
        when(
            allow(
                "WriteRolesOnlyWithTheBoundary",
                vec![
                    "iam:CreateRole",
                    "iam:DeleteRolePolicy",
                    "iam:PutRolePermissionsBoundary",
                    "iam:PutRolePolicy",
                ],
                roles.clone(),
            ),
            vec![with_boundary()],
        ),
        when(
            allow(
                "AttachOnlyThePlatformsPolicies",
                vec!["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                roles,
            ),
            vec![
                Condition {
                    test: "ArnEquals",
                    variable: "iam:PolicyARN",
                    values: attachable,
                },
                with_boundary(),
            ],
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
