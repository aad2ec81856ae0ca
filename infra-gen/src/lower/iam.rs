//! IAM: service roles for flow logs and RDS monitoring, the SSM agent's policy every instance
//! role shares, and the ETL host's least-privilege role.

use crate::lower::ctx::{Ctx, IAM};
use crate::lower::handles::{Buckets, Db, EtlIdentity, Keys, PlatformNames, Runtime};
use crate::lower::iam_helpers::{
    RDS_SECRET_INSTANCE_TAG, allow, arns_of, attach, image_parameter_arn, inline_policy,
    inline_policy_with, log_group_arns, parameter_arns, service_role,
};
use crate::tf::data::{AwsIamPolicyDocument, AwsKmsKey, Condition, Statement};
use crate::tf::database::AwsDbInstance;
use crate::tf::ecr::AwsEcrRepository;
use crate::tf::iam::{AwsIamInstanceProfile, AwsIamPolicy};
use crate::tf::logs::AwsCloudwatchLogGroup;
use crate::tf::sqs::AwsSqsQueue;
use crate::tf::storage::AwsS3Bucket;
use crate::tf::{Document, Handle, Meta, Suppression, TfError, TfString};

/// The calls the SSM agent makes for Session Manager and Run Command, as one customer managed
/// policy that every instance role of the platform attaches (the ETL host's, and any worker's).
/// It replaces `AmazonSSMManagedInstanceCore`, whose `ssm:GetParameter(s)` on every parameter of
/// the account would make each instance's narrow parameter grants meaningless. The agent's own
/// calls on its instance are scoped to the account's instances in this region (the agent cannot
/// name another instance: SSM binds the call to the caller's instance identity); the message
/// and channel services define no resource type, so they take `*`.
pub(crate) fn lower_ssm_agent_policy(
    doc: &mut Document,
    ctx: &Ctx<'_>,
) -> Result<Handle<AwsIamPolicy>, TfError> {
    let instances = ctx.arn("ec2", "instance/*");
    let document = doc.data(
        IAM,
        "ssm_agent",
        &AwsIamPolicyDocument {
            statement: vec![
                allow(
                    "RegisterAndReportInstanceState",
                    SSM_AGENT_INSTANCE_ACTIONS.to_vec(),
                    vec![instances.clone()],
                ),
                // Both calls name the association and the instance (IAM's service reference).
                allow(
                    "ReadAndReportAssociations",
                    vec![
                        "ssm:DescribeAssociation",
                        "ssm:UpdateInstanceAssociationStatus",
                    ],
                    vec![ctx.arn("ssm", "association/*"), instances],
                ),
                allow(
                    "SessionManagerChannels",
                    SSM_AGENT_CHANNEL_ACTIONS.to_vec(),
                    vec![TfString::lit("*")],
                ),
                allow(
                    "RunCommandMessages",
                    SSM_AGENT_MESSAGE_ACTIONS.to_vec(),
                    vec![TfString::lit("*")],
                ),
            ],
        },
    )?;
    doc.resource(
        IAM,
        "ssm_agent",
        &AwsIamPolicy {
            name: ctx.named("ssm-agent"),
            description: TfString::lit(
                "SSM agent on the platform's instances: Session Manager and Run Command, nothing else",
            ),
            policy: document.attr("json"),
            tags: ctx.tags("ssm-agent"),
        },
    )
}

/// The SSM agent's calls on its own instance.
const SSM_AGENT_INSTANCE_ACTIONS: [&str; 2] = [
    "ssm:ListInstanceAssociations",
    "ssm:UpdateInstanceInformation",
];

/// Session Manager's channels (`ssmmessages` defines no resource type).
const SSM_AGENT_CHANNEL_ACTIONS: [&str; 4] = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
];

/// Run Command's message delivery (`ec2messages` defines no resource type).
const SSM_AGENT_MESSAGE_ACTIONS: [&str; 6] = [
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
];

/// What the platform's roles use besides the SSM agent policy: the ETL host's (and any
/// worker's) own policies, the flow-logs role and AWS's `AmazonRDSEnhancedMonitoringRole`.
const ROLE_ACTIONS: [&str; 26] = [
    "cloudwatch:PutMetricData",
    "ecr:BatchGetImage",
    "ecr:GetAuthorizationToken",
    "ecr:GetDownloadUrlForLayer",
    "kms:Decrypt",
    "kms:DescribeKey",
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:GetLogEvents",
    "logs:PutLogEvents",
    "logs:PutRetentionPolicy",
    "s3:GetBucketLocation",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:ListBucket",
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "ssm:DescribeAssociation",
    "ssm:GetParameter",
    "ssm:UpdateInstanceAssociationStatus",
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
];

/// Every action a platform role may ever be granted, sorted: the permissions boundary's list. A
/// test checks that each action in a platform role's policy is in it.
pub(crate) fn boundary_actions() -> Vec<&'static str> {
    let mut actions: Vec<&'static str> = ROLE_ACTIONS
        .iter()
        .chain(&SSM_AGENT_INSTANCE_ACTIONS)
        .chain(&SSM_AGENT_CHANNEL_ACTIONS)
        .chain(&SSM_AGENT_MESSAGE_ACTIONS)
        .copied()
        .collect();
    actions.sort_unstable();
    actions
}

/// Why the boundary may name every resource.
const BOUNDARY_REASON: &str = "a permissions boundary grants nothing by itself: it caps each platform role, \
     whose own policies name exact resources, to these actions; no IAM, STS or administrative call is listed";

/// The log group RDS enhanced monitoring writes to (AWS's `AmazonRDSEnhancedMonitoringRole` grants
/// `log-group:RDS*`): RDS chooses the name, one group for every instance of the account.
const RDS_OS_METRICS_LOG_GROUP: &str = "RDSOSMetrics";

/// One statement of the boundary: the actions starting with one of `prefixes`, on `resources`.
struct Scoped {
    sid: &'static str,
    prefixes: &'static [&'static str],
    resources: Vec<TfString>,
    condition: Vec<Condition>,
}

/// [`boundary_actions`] as statements: every call that names a resource only on the platform's
/// own (its buckets, its database's secret, its parameters, its key, its log groups, its queues,
/// its repository), by the exact names the platform module declares, so the cap itself allows
/// no exfiltration and no use of another platform's resources; the rest (no resource type, or
/// instance-bound agent calls) on any resource.
fn boundary_statements(ctx: &Ctx<'_>, keys: &Keys, names: &PlatformNames) -> Vec<Statement> {
    let buckets: Vec<TfString> = names
        .of_type::<AwsS3Bucket>()
        .iter()
        .flat_map(|b| [ctx.s3_arn(b), ctx.s3_arn(&format!("{b}/*"))])
        .collect();
    let parameters: Vec<TfString> = std::iter::once(image_parameter_arn(ctx))
        .chain(parameter_arns(ctx, names))
        .collect();
    let log_groups: Vec<TfString> = names
        .of_type::<AwsCloudwatchLogGroup>()
        .into_iter()
        .chain([RDS_OS_METRICS_LOG_GROUP])
        .flat_map(|g| log_group_arns(ctx, g))
        .collect();
    let scoped = [
        Scoped {
            sid: "ReadOnlyThePlatformsBuckets",
            prefixes: &["s3:"],
            resources: buckets,
            condition: Vec::new(),
        },
        // RDS names the secret `rds!db-<uuid>` when it creates it, and tags it with its instance.
        Scoped {
            sid: "ReadOnlyTheDatabaseSecret",
            prefixes: &["secretsmanager:"],
            resources: vec![ctx.arn("secretsmanager", "secret:rds!db-*")],
            condition: vec![Condition {
                test: "StringEquals",
                variable: RDS_SECRET_INSTANCE_TAG,
                values: arns_of(ctx, "rds", "db:", &names.of_type::<AwsDbInstance>()),
            }],
        },
        Scoped {
            sid: "ReadOnlyThePlatformsParameters",
            prefixes: &["ssm:GetParameter"],
            resources: parameters,
            condition: Vec::new(),
        },
        Scoped {
            sid: "UseOnlyThePlatformKey",
            prefixes: &["kms:"],
            resources: vec![keys.platform.arn()],
            condition: Vec::new(),
        },
        Scoped {
            sid: "OnlyThePlatformsLogGroups",
            prefixes: &[
                "logs:CreateLog",
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
                "logs:PutLogEvents",
                "logs:PutRetentionPolicy",
            ],
            resources: log_groups,
            condition: Vec::new(),
        },
        Scoped {
            sid: "ConsumeOnlyThePlatformsQueues",
            prefixes: &["sqs:"],
            resources: arns_of(ctx, "sqs", "", &names.of_type::<AwsSqsQueue>()),
            condition: Vec::new(),
        },
        Scoped {
            sid: "PullOnlyThePlatformsImages",
            prefixes: &["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            resources: arns_of(
                ctx,
                "ecr",
                "repository/",
                &names.of_type::<AwsEcrRepository>(),
            ),
            condition: Vec::new(),
        },
    ];
    let all = boundary_actions();
    let covered = |action: &str, prefixes: &[&str]| prefixes.iter().any(|p| action.starts_with(p));
    let rest = allow(
        "EverythingElseThePlatformRolesUse",
        all.iter()
            .copied()
            .filter(|a| !scoped.iter().any(|s| covered(a, s.prefixes)))
            .collect(),
        vec![TfString::lit("*")],
    );
    let mut statements: Vec<Statement> = scoped
        .into_iter()
        .map(|s| Statement {
            condition: s.condition,
            ..allow(
                s.sid,
                all.iter()
                    .copied()
                    .filter(|a| covered(a, s.prefixes))
                    .collect(),
                s.resources,
            )
        })
        .collect();
    statements.push(rest);
    statements
}

/// The permissions boundary (bootstrap module): every role the platform creates carries it, and
/// the apply role may create or change roles only with it, so nothing the apply role creates can
/// do more than the platform's instances and services need.
pub(crate) fn lower_boundary(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    keys: &Keys,
    names: &PlatformNames,
) -> Result<Handle<AwsIamPolicy>, TfError> {
    let document = doc.data(
        IAM,
        "permissions_boundary",
        &AwsIamPolicyDocument {
            statement: boundary_statements(ctx, keys, names),
        },
    )?;
    doc.resource_with(
        IAM,
        "permissions_boundary",
        &AwsIamPolicy {
            name: TfString::lit(ctx.platform.permissions_boundary_name()),
            description: TfString::lit(
                "Permissions boundary of every platform role: the most any of them may be granted",
            ),
            policy: document.attr("json"),
            tags: ctx.tags("permissions-boundary"),
        },
        Meta {
            suppressions: vec![Suppression {
                rule: "wildcard-identity-policy",
                reason: BOUNDARY_REASON,
            }],
            ..Meta::default()
        },
    )
}

/// What the ETL host's role grants access to, from the areas lowered before it.
pub(crate) struct EtlRoleDeps<'a> {
    pub(crate) buckets: &'a Buckets,
    pub(crate) key: &'a Handle<AwsKmsKey>,
    pub(crate) db: &'a Db,
    /// The host's telemetry grants (its log groups, the agent configuration), from monitoring.
    pub(crate) telemetry: Vec<Statement>,
    /// The host's namespace-scoped metrics grant, from monitoring.
    pub(crate) metrics: Statement,
    pub(crate) runtime: &'a Runtime,
    pub(crate) ssm_agent: &'a Handle<AwsIamPolicy>,
}

/// Why the host's metrics policy may name no resource.
const PUT_METRIC_DATA_REASON: &str = "cloudwatch:PutMetricData has no resource type, so \"*\" is the only resource; \
     the statement is limited to the agent's namespace with the cloudwatch:namespace condition";

/// The ETL host's role: read the data bucket, decrypt with the platform key, read the
/// database's managed secret, write its own log groups, read the agent configuration, publish
/// agent metrics, pull the ETL image, plus the shared [`lower_ssm_agent_policy`] for Session
/// Manager and Run Command.
pub(crate) fn lower_etl_role(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    deps: EtlRoleDeps<'_>,
) -> Result<EtlIdentity, TfError> {
    let EtlRoleDeps {
        buckets,
        key,
        db,
        telemetry,
        metrics,
        runtime,
        ssm_agent,
    } = deps;
    let role = service_role(
        doc,
        ctx,
        "etl_host",
        "ec2.amazonaws.com",
        "ETL host: read the data bucket and the DB secret, pull the ETL image, write its logs",
    )?;
    inline_policy(
        doc,
        ctx,
        "etl_host",
        &role,
        vec![
            allow(
                "ListDataBucket",
                vec!["s3:ListBucket", "s3:GetBucketLocation"],
                vec![buckets.data.arn()],
            ),
            allow(
                "ReadDataObjects",
                vec!["s3:GetObject", "s3:GetObjectVersion"],
                vec![TfString::concat([buckets.data.arn(), TfString::lit("/*")])],
            ),
            allow(
                "DecryptWithPlatformKey",
                vec!["kms:Decrypt", "kms:DescribeKey"],
                vec![key.arn()],
            ),
            allow(
                "ReadDatabaseSecret",
                vec![
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:DescribeSecret",
                ],
                vec![db.secret_arn()],
            ),
            allow(
                "LogInToEcr",
                vec!["ecr:GetAuthorizationToken"],
                vec![TfString::lit("*")],
            ),
            allow(
                "PullEtlImage",
                vec!["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                vec![runtime.repository.arn()],
            ),
            // Read only: the deploy workflow records the digest, so neither the host nor the
            // ETL container can choose what a replacement host will run.
            allow(
                "ReadDeployedImageDigest",
                vec!["ssm:GetParameter"],
                vec![image_parameter_arn(ctx)],
            ),
        ]
        .into_iter()
        .chain(telemetry)
        .collect(),
    )?;
    inline_policy_with(
        doc,
        ctx,
        "etl_host_metrics",
        &role,
        vec![metrics],
        Meta {
            suppressions: vec![Suppression {
                rule: "wildcard-identity-policy",
                reason: PUT_METRIC_DATA_REASON,
            }],
            ..Meta::default()
        },
    )?;
    attach(doc, "etl_host_ssm", &role, ssm_agent.arn())?;
    let profile = doc.resource(
        IAM,
        "etl_host",
        &AwsIamInstanceProfile {
            name: ctx.named("etl-host"),
            role: role.id(),
            tags: ctx.tags("etl-host"),
        },
    )?;
    Ok(EtlIdentity { role, profile })
}
