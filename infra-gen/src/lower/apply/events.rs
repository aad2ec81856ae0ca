//! The apply role on the event queue, its notification and the worker fleet.

use crate::lower::apply::scope::{ApplyDeps, REQUEST_TAG, RESOURCE_TAG, platform_tag, when};
use crate::lower::ctx::Ctx;
use crate::lower::iam_helpers::{allow, arns_of};
use crate::tf::TfString;
use crate::tf::data::{Condition, Statement};
use crate::tf::sqs::AwsSqsQueue;

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
pub(super) fn events_and_fleet(ctx: &Ctx<'_>, deps: &ApplyDeps) -> Vec<Statement> {
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
            arns_of(ctx, "sqs", "", &deps.names.of_type::<AwsSqsQueue>()),
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
