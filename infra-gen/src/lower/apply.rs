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
//! limit for managed policies.

use crate::lower::iam_helpers::allow;
use crate::lower::{Ctx, DELIVERY, IAM};
use crate::tf::data::{AwsIamPolicyDocument, Condition, Statement};
use crate::tf::iam::{AwsIamPolicy, AwsIamRole, AwsIamRolePolicyAttachment};
use crate::tf::{Document, Handle, TfError, TfString};

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

/// EC2 calls that create a resource; `ec2:CreateTags` is allowed during these only.
const EC2_CREATE: [&str; 8] = [
    "ec2:CreateVpc",
    "ec2:CreateSubnet",
    "ec2:CreateRouteTable",
    "ec2:CreateInternetGateway",
    "ec2:CreateSecurityGroup",
    "ec2:AllocateAddress",
    "ec2:RunInstances",
    "ec2:CreateFlowLogs",
];

/// Calls that create a security group rule (`aws_vpc_security_group_*_rule`), tagged at creation
/// with the provider's default tags; the group itself must already be the platform's.
const RULE_CREATE: [&str; 2] = [
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:AuthorizeSecurityGroupIngress",
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

fn network(ctx: &Ctx<'_>, deps: &ApplyDeps) -> Vec<Statement> {
    let image = ctx.arn_of("ec2", true, None, TfString::lit("image/*"));
    vec![
        allow(
            "DescribeEc2",
            vec![
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAddressesAttribute",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeFlowLogs",
                "ec2:DescribeImages",
                "ec2:DescribeInstanceCreditSpecifications",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeInstances",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeRouteTables",
                "ec2:DescribeSecurityGroupRules",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeTags",
                "ec2:DescribeVolumes",
                "ec2:DescribeVpcs",
            ],
            vec![TfString::lit("*")],
        ),
        // The two describe calls that take a resource type: the platform's instances and VPCs.
        when(
            allow(
                "DescribePlatformInstanceAndVpcAttributes",
                vec!["ec2:DescribeInstanceAttribute", "ec2:DescribeVpcAttribute"],
                ec2_arns(ctx, &["instance", "vpc"]),
            ),
            vec![platform_tag(ctx, RESOURCE_TAG)],
        ),
        when(
            allow(
                "CreateOnlyTaggedEc2",
                EC2_CREATE.to_vec(),
                ec2_arns(ctx, &EC2_TYPES),
            ),
            vec![platform_tag(ctx, REQUEST_TAG)],
        ),
        when(
            allow(
                "TagOnlyWhileCreating",
                vec!["ec2:CreateTags"],
                ec2_arns(ctx, &EC2_TYPES),
            ),
            vec![Condition {
                test: "StringEquals",
                variable: "ec2:CreateAction",
                values: EC2_CREATE
                    .iter()
                    .chain(&RULE_CREATE)
                    .map(|a| TfString::lit(a.trim_start_matches("ec2:")))
                    .collect(),
            }],
        ),
        when(
            allow(
                "CreateOnlyTaggedRules",
                RULE_CREATE.to_vec(),
                vec![ctx.arn("ec2", "security-group-rule/*")],
            ),
            vec![platform_tag(ctx, REQUEST_TAG)],
        ),
        allow(
            "RunFromAnyImageIntoNewVolumesAndInterfaces",
            vec!["ec2:RunInstances"],
            vec![
                image,
                ctx.arn("ec2", "volume/*"),
                ctx.arn("ec2", "network-interface/*"),
            ],
        ),
        when(
            allow(
                "ChangeOnlyPlatformEc2",
                vec![
                    "ec2:AssociateAddress",
                    "ec2:AssociateRouteTable",
                    "ec2:AttachInternetGateway",
                    "ec2:AuthorizeSecurityGroupEgress",
                    "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:CreateFlowLogs",
                    "ec2:CreateRoute",
                    "ec2:CreateRouteTable",
                    "ec2:CreateSecurityGroup",
                    "ec2:CreateSubnet",
                    "ec2:CreateTags",
                    "ec2:DeleteFlowLogs",
                    "ec2:DeleteInternetGateway",
                    "ec2:DeleteRoute",
                    "ec2:DeleteRouteTable",
                    "ec2:DeleteSecurityGroup",
                    "ec2:DeleteSubnet",
                    "ec2:DeleteTags",
                    "ec2:DeleteVpc",
                    "ec2:DetachInternetGateway",
                    "ec2:DisassociateAddress",
                    "ec2:DisassociateRouteTable",
                    "ec2:ModifyInstanceAttribute",
                    "ec2:ModifyInstanceMetadataOptions",
                    "ec2:ModifySecurityGroupRules",
                    "ec2:ModifySubnetAttribute",
                    "ec2:ModifyVpcAttribute",
                    "ec2:MonitorInstances",
                    "ec2:ReleaseAddress",
                    "ec2:ReplaceRoute",
                    "ec2:RevokeSecurityGroupEgress",
                    "ec2:RevokeSecurityGroupIngress",
                    "ec2:RunInstances",
                    "ec2:StartInstances",
                    "ec2:StopInstances",
                    "ec2:TerminateInstances",
                    "ec2:UnmonitorInstances",
                    "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
                    "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
                ],
                ec2_arns(ctx, &EC2_TYPES),
            ),
            vec![platform_tag(ctx, RESOURCE_TAG)],
        ),
        // The VPC's default security group is created by EC2 untagged; Terraform adopts it,
        // tags it and strips its rules. It is reachable only through this VPC.
        when(
            allow(
                "AdoptTheDefaultSecurityGroup",
                vec![
                    "ec2:CreateTags",
                    "ec2:RevokeSecurityGroupEgress",
                    "ec2:RevokeSecurityGroupIngress",
                ],
                vec![ctx.arn("ec2", "security-group/*")],
            ),
            vec![Condition {
                test: "ArnEquals",
                variable: "ec2:Vpc",
                values: vec![deps.vpc_arn.clone()],
            }],
        ),
        allow(
            "ReadTheAmiParameter",
            vec!["ssm:GetParameter", "ssm:GetParameters"],
            vec![ctx.arn_of(
                "ssm",
                true,
                None,
                TfString::concat([TfString::lit("parameter"), deps.ami_parameter.clone()]),
            )],
        ),
    ]
}

fn storage(ctx: &Ctx<'_>) -> Vec<Statement> {
    let name = &ctx.platform.name;
    let buckets = ctx.s3_arn(&format!("{name}-hadrian-ml-*"));
    let mut statements = vec![
        allow(
            "ManagePlatformBuckets",
            vec![
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:DeleteBucketPolicy",
                "s3:GetAccelerateConfiguration",
                "s3:GetBucketAcl",
                "s3:GetBucketCORS",
                "s3:GetBucketLocation",
                "s3:GetBucketLogging",
                "s3:GetBucketObjectLockConfiguration",
                "s3:GetBucketOwnershipControls",
                "s3:GetBucketPolicy",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetBucketRequestPayment",
                "s3:GetBucketTagging",
                "s3:GetBucketVersioning",
                "s3:GetBucketWebsite",
                "s3:GetEncryptionConfiguration",
                "s3:GetLifecycleConfiguration",
                "s3:GetReplicationConfiguration",
                "s3:ListBucket",
                "s3:PutBucketLogging",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketPolicy",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutBucketTagging",
                "s3:PutBucketVersioning",
                "s3:PutEncryptionConfiguration",
                "s3:PutLifecycleConfiguration",
            ],
            vec![buckets.clone()],
        ),
        // CreateKey also authorizes tagging the new key and setting its policy, before the key
        // has an ARN; the request tag keeps both to keys created with the platform tag.
        when(
            allow(
                "CreateOnlyTaggedKeys",
                vec!["kms:CreateKey", "kms:PutKeyPolicy", "kms:TagResource"],
                vec![TfString::lit("*")],
            ),
            vec![platform_tag(ctx, REQUEST_TAG)],
        ),
        allow(
            "ListKeyAliases",
            vec!["kms:ListAliases"],
            vec![TfString::lit("*")],
        ),
        when(
            allow(
                "AdministerPlatformKeys",
                vec![
                    "kms:CreateAlias",
                    "kms:DeleteAlias",
                    "kms:DescribeKey",
                    "kms:DisableKeyRotation",
                    "kms:EnableKeyRotation",
                    "kms:GetKeyPolicy",
                    "kms:GetKeyRotationStatus",
                    "kms:ListResourceTags",
                    "kms:PutKeyPolicy",
                    "kms:ScheduleKeyDeletion",
                    "kms:TagResource",
                    "kms:UntagResource",
                    "kms:UpdateAlias",
                    "kms:UpdateKeyDescription",
                ],
                vec![ctx.arn("kms", "key/*")],
            ),
            vec![platform_tag(ctx, RESOURCE_TAG)],
        ),
        allow(
            "NamePlatformKeys",
            vec!["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
            vec![ctx.arn("kms", &format!("alias/{name}-*"))],
        ),
        // RDS, ECR and EBS take grants on the platform key for the resources they encrypt.
        when(
            allow(
                "LetServicesTakeGrantsOnPlatformKeys",
                vec!["kms:CreateGrant"],
                vec![ctx.arn("kms", "key/*")],
            ),
            vec![
                platform_tag(ctx, RESOURCE_TAG),
                Condition {
                    test: "Bool",
                    variable: "kms:GrantIsForAWSResource",
                    values: vec![TfString::lit("true")],
                },
            ],
        ),
        // EC2 (the encrypted root volume) and RDS use the key in the caller's name while creating.
        when(
            allow(
                "LetServicesUsePlatformKeys",
                vec![
                    "kms:Decrypt",
                    "kms:GenerateDataKeyWithoutPlaintext",
                    "kms:ReEncryptFrom",
                    "kms:ReEncryptTo",
                ],
                vec![ctx.arn("kms", "key/*")],
            ),
            vec![
                platform_tag(ctx, RESOURCE_TAG),
                Condition {
                    test: "StringEquals",
                    variable: "kms:ViaService",
                    values: ["ec2", "rds", "ecr", "secretsmanager"]
                        .iter()
                        .map(|service| {
                            TfString::concat([
                                TfString::lit(format!("{service}.")),
                                ctx.region.attr("name"),
                                TfString::lit(".amazonaws.com"),
                            ])
                        })
                        .collect(),
                },
            ],
        ),
    ];
    if ctx.platform.storage.force_destroy {
        statements.push(allow(
            "EmptyBucketsOnDestroy",
            vec![
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:ListBucketVersions",
            ],
            vec![
                buckets.clone(),
                TfString::concat([buckets, TfString::lit("/*")]),
            ],
        ));
    }
    statements
}

fn database(ctx: &Ctx<'_>) -> Vec<Statement> {
    let name = &ctx.platform.name;
    let rds = |rest: &str| ctx.arn("rds", &format!("{rest}:{name}-*"));
    vec![
        allow(
            "ManagePlatformDatabase",
            vec![
                "rds:AddTagsToResource",
                "rds:CreateDBInstance",
                "rds:CreateDBParameterGroup",
                "rds:CreateDBSnapshot",
                "rds:CreateDBSubnetGroup",
                "rds:DeleteDBInstance",
                "rds:DeleteDBParameterGroup",
                "rds:DeleteDBSubnetGroup",
                "rds:DescribeDBInstances",
                "rds:DescribeDBParameterGroups",
                "rds:DescribeDBParameters",
                "rds:DescribeDBSubnetGroups",
                "rds:ListTagsForResource",
                "rds:ModifyDBInstance",
                "rds:ModifyDBParameterGroup",
                "rds:ModifyDBSubnetGroup",
                "rds:RebootDBInstance",
                "rds:RemoveTagsFromResource",
            ],
            vec![
                rds("db"),
                rds("pg"),
                rds("subgrp"),
                rds("snapshot"),
                ctx.arn("rds", "og:default:postgres-*"),
            ],
        ),
        // `manage_master_user_password`: RDS creates the secret in the caller's name.
        allow(
            "LetRdsManageTheMasterSecret",
            vec![
                "secretsmanager:CreateSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:RotateSecret",
                "secretsmanager:TagResource",
            ],
            vec![ctx.arn("secretsmanager", "secret:rds!db-*")],
        ),
        when(
            allow(
                "CreateTheRdsServiceLinkedRole",
                vec!["iam:CreateServiceLinkedRole"],
                vec![ctx.global_arn(
                    "iam",
                    "role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS",
                )],
            ),
            vec![Condition {
                test: "StringEquals",
                variable: "iam:AWSServiceName",
                values: vec![TfString::lit("rds.amazonaws.com")],
            }],
        ),
    ]
}

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

fn identity(ctx: &Ctx<'_>) -> Vec<Statement> {
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

fn observability(ctx: &Ctx<'_>) -> Vec<Statement> {
    let name = &ctx.platform.name;
    let log_groups = ctx
        .platform
        .log_group_patterns()
        .iter()
        .flat_map(|p| {
            let group = ctx.arn("logs", &format!("log-group:{p}"));
            let streams = ctx.arn("logs", &format!("log-group:{p}:*"));
            if p.ends_with('*') {
                vec![group]
            } else {
                vec![group, streams]
            }
        })
        .collect();
    vec![
        allow(
            "ListLogGroups",
            vec!["logs:DescribeLogGroups"],
            vec![TfString::lit("*")],
        ),
        allow(
            "ManagePlatformLogGroups",
            vec![
                "logs:AssociateKmsKey",
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:DeleteMetricFilter",
                "logs:DeleteRetentionPolicy",
                "logs:DescribeMetricFilters",
                "logs:DisassociateKmsKey",
                "logs:ListTagsForResource",
                "logs:ListTagsLogGroup",
                "logs:PutMetricFilter",
                "logs:PutRetentionPolicy",
                "logs:TagLogGroup",
                "logs:TagResource",
                "logs:UntagLogGroup",
                "logs:UntagResource",
            ],
            log_groups,
        ),
        allow(
            "ManagePlatformTopics",
            vec![
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:GetTopicAttributes",
                "sns:ListTagsForResource",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:TagResource",
                "sns:UntagResource",
            ],
            vec![ctx.arn("sns", &format!("{name}-*"))],
        ),
        // IAM's service reference gives these three no resource type: scoped to the topic, as
        // they were, they never apply, and the alarm e-mail subscription could not be read or
        // removed. Subscription ARNs cannot be named in a policy, so `*` is the only scope.
        allow(
            "ManageAlarmSubscriptions",
            vec![
                "sns:GetSubscriptionAttributes",
                "sns:SetSubscriptionAttributes",
                "sns:Unsubscribe",
            ],
            vec![TfString::lit("*")],
        ),
        allow(
            "ManagePlatformAlarms",
            vec![
                "cloudwatch:DeleteAlarms",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:ListTagsForResource",
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
            ],
            vec![ctx.arn("cloudwatch", &format!("alarm:{name}-*"))],
        ),
        allow(
            "ManagePlatformDashboards",
            vec![
                "cloudwatch:DeleteDashboards",
                "cloudwatch:GetDashboard",
                "cloudwatch:PutDashboard",
            ],
            vec![ctx.global_arn("cloudwatch", &format!("dashboard/{name}-*"))],
        ),
        allow(
            "ListParameters",
            vec!["ssm:DescribeParameters"],
            vec![TfString::lit("*")],
        ),
        allow(
            "ManageTheAgentParameter",
            vec![
                "ssm:AddTagsToResource",
                "ssm:DeleteParameter",
                "ssm:GetParameter",
                "ssm:GetParameters",
                "ssm:ListTagsForResource",
                "ssm:PutParameter",
                "ssm:RemoveTagsFromResource",
            ],
            vec![ctx.arn("ssm", &format!("parameter/AmazonCloudWatch-{name}-*"))],
        ),
    ]
}

fn delivery(ctx: &Ctx<'_>, state: Vec<Statement>) -> Vec<Statement> {
    let name = &ctx.platform.name;
    let mut statements = state;
    statements.extend([
        allow(
            "ManagePlatformRepositories",
            vec![
                "ecr:CreateRepository",
                "ecr:DeleteRepository",
                "ecr:DescribeRepositories",
                "ecr:GetLifecyclePolicy",
                "ecr:GetRepositoryPolicy",
                "ecr:ListTagsForResource",
                "ecr:PutImageScanningConfiguration",
                "ecr:PutImageTagMutability",
                "ecr:TagResource",
                "ecr:UntagResource",
            ],
            vec![ctx.arn("ecr", &format!("repository/{name}-*"))],
        ),
        allow(
            "ManagePlatformDocuments",
            vec![
                "ssm:AddTagsToResource",
                "ssm:CreateDocument",
                "ssm:DeleteDocument",
                "ssm:DescribeDocument",
                "ssm:DescribeDocumentPermission",
                "ssm:GetDocument",
                "ssm:ListTagsForResource",
                "ssm:RemoveTagsFromResource",
                "ssm:UpdateDocument",
                "ssm:UpdateDocumentDefaultVersion",
            ],
            vec![ctx.arn("ssm", &format!("document/{name}-*"))],
        ),
    ]);
    statements
}

/// Auto Scaling and launch-template reads Terraform makes; none supports resource-level
/// permissions.
const FLEET_DESCRIBE: [&str; 8] = [
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeInstanceRefreshes",
    "autoscaling:DescribeLifecycleHooks",
    "autoscaling:DescribePolicies",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeWarmPool",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:DescribeLaunchTemplates",
];

/// The event path and the worker fleet: the platform's queues, the data bucket's notification,
/// the workers' launch template (tag-scoped like all EC2), Auto Scaling group and scaling policy.
/// Its own area (and policy), so the other areas stay as they are.
fn events_and_fleet(ctx: &Ctx<'_>) -> Vec<Statement> {
    let platform = ctx.platform;
    let template = vec![ctx.arn("ec2", "launch-template/*")];
    let mut statements = vec![
        allow(
            "ManagePlatformQueues",
            vec![
                "sqs:CreateQueue",
                "sqs:DeleteQueue",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ListQueueTags",
                "sqs:SetQueueAttributes",
                "sqs:TagQueue",
                "sqs:UntagQueue",
            ],
            vec![ctx.arn("sqs", &format!("{}*", platform.etl_queue_name()))],
        ),
        allow(
            "ManageTheDataBucketNotification",
            vec!["s3:GetBucketNotification", "s3:PutBucketNotification"],
            vec![ctx.s3_arn(&platform.data_bucket_name())],
        ),
    ];
    if platform.etl.workers.is_none() {
        return statements;
    }
    statements.extend([
        allow(
            "DescribeFleet",
            FLEET_DESCRIBE.to_vec(),
            vec![TfString::lit("*")],
        ),
        when(
            allow(
                "CreateOnlyTaggedLaunchTemplates",
                vec!["ec2:CreateLaunchTemplate", "ec2:CreateTags"],
                template.clone(),
            ),
            vec![platform_tag(ctx, REQUEST_TAG)],
        ),
        when(
            allow(
                "ChangeOnlyPlatformLaunchTemplates",
                vec![
                    "ec2:CreateLaunchTemplateVersion",
                    "ec2:DeleteLaunchTemplate",
                    "ec2:DeleteLaunchTemplateVersions",
                    "ec2:ModifyLaunchTemplate",
                    // Auto Scaling checks that the caller may launch from the template.
                    "ec2:RunInstances",
                ],
                template,
            ),
            vec![platform_tag(ctx, RESOURCE_TAG)],
        ),
        allow(
            "ManageTheWorkerGroup",
            vec![
                "autoscaling:CreateAutoScalingGroup",
                "autoscaling:CreateOrUpdateTags",
                "autoscaling:DeleteAutoScalingGroup",
                "autoscaling:DeletePolicy",
                "autoscaling:DeleteTags",
                "autoscaling:DisableMetricsCollection",
                "autoscaling:EnableMetricsCollection",
                "autoscaling:PutScalingPolicy",
                "autoscaling:StartInstanceRefresh",
                "autoscaling:CancelInstanceRefresh",
                "autoscaling:UpdateAutoScalingGroup",
            ],
            vec![ctx.arn(
                "autoscaling",
                &format!(
                    "autoScalingGroup:*:autoScalingGroupName/{}",
                    platform.etl_workers_group_name()
                ),
            )],
        ),
        // The first group in an account creates Auto Scaling's service-linked role.
        when(
            allow(
                "CreateTheAutoScalingServiceRole",
                vec!["iam:CreateServiceLinkedRole"],
                vec![ctx.global_arn(
                    "iam",
                    "role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
                )],
            ),
            vec![Condition {
                test: "StringEquals",
                variable: "iam:AWSServiceName",
                values: vec![TfString::lit("autoscaling.amazonaws.com")],
            }],
        ),
    ]);
    statements
}

/// The apply role's policies, one per area.
pub(crate) fn apply_policies(ctx: &Ctx<'_>, deps: ApplyDeps) -> Vec<ApplyPolicy> {
    vec![
        ApplyPolicy {
            area: "network",
            description: "terraform apply: the platform's VPC, subnets, routes, security groups, EIP, ETL host, flow log",
            statements: network(ctx, &deps),
        },
        ApplyPolicy {
            area: "storage",
            description: "terraform apply: the platform's buckets and KMS keys",
            statements: storage(ctx),
        },
        ApplyPolicy {
            area: "database",
            description: "terraform apply: the platform's RDS instance, its groups and managed secret",
            statements: database(ctx),
        },
        ApplyPolicy {
            area: "identity",
            description: "terraform apply: the platform's roles, policies, instance profile, GitHub OIDC provider",
            statements: identity(ctx),
        },
        ApplyPolicy {
            area: "observability",
            description: "terraform apply: the platform's log groups, alarm topic, alarms, dashboard, agent parameter",
            statements: observability(ctx),
        },
        ApplyPolicy {
            area: "delivery",
            description: "terraform apply: state and lock, the ETL repository, the deploy document",
            statements: delivery(ctx, deps.state),
        },
        ApplyPolicy {
            area: "events",
            description: "terraform apply: the event queue and its notification, the ETL worker fleet",
            statements: events_and_fleet(ctx),
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
    use crate::lower::PLATFORM_TAG;
    use crate::lower::apply::{REQUEST_TAG, RESOURCE_TAG};

    #[test]
    fn tag_conditions_name_the_providers_platform_tag() {
        assert_eq!(REQUEST_TAG, format!("aws:RequestTag/{PLATFORM_TAG}"));
        assert_eq!(RESOURCE_TAG, format!("aws:ResourceTag/{PLATFORM_TAG}"));
    }
}
