//! The apply role on CloudWatch Logs, CloudWatch, SNS and the agent's parameters, each by the
//! exact names the platform module declares.

use crate::lower::apply::scope::ApplyDeps;
use crate::lower::ctx::Ctx;
use crate::lower::iam_helpers::{allow, arns_of, log_group_arns, parameter_arns};
use crate::tf::TfString;
use crate::tf::data::Statement;
use crate::tf::logs::AwsCloudwatchLogGroup;
use crate::tf::monitoring::{AwsCloudwatchDashboard, AwsCloudwatchMetricAlarm, AwsSnsTopic};

pub(super) fn observability(ctx: &Ctx<'_>, deps: &ApplyDeps) -> Vec<Statement> {
    let names = &deps.names;
    let log_groups = names
        .of_type::<AwsCloudwatchLogGroup>()
        .iter()
        .flat_map(|g| log_group_arns(ctx, g))
        .collect();
    let topics = arns_of(ctx, "sns", "", &names.of_type::<AwsSnsTopic>());
    // IAM's current service reference authorizes the subscription calls on the subscription's
    // topic; a subscription's own ARN is the topic's followed by `:<id>`, named too, so the grant
    // holds whichever of the two SNS evaluates. Both are the platform's topics only.
    let subscriptions = topics
        .iter()
        .flat_map(|t| {
            [
                t.clone(),
                TfString::concat([t.clone(), TfString::lit(":*")]),
            ]
        })
        .collect();
    let dashboards = names
        .of_type::<AwsCloudwatchDashboard>()
        .iter()
        .map(|d| ctx.global_arn("cloudwatch", &format!("dashboard/{d}")))
        .collect();
    let parameters = parameter_arns(ctx, &deps.names);
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
            topics,
        ),
        // Only the subscriptions of the platform's topics (the alarm e-mail), never another's.
        allow(
            "ManageAlarmSubscriptions",
            vec![
                "sns:GetSubscriptionAttributes",
                "sns:SetSubscriptionAttributes",
                "sns:Unsubscribe",
            ],
            subscriptions,
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
            arns_of(
                ctx,
                "cloudwatch",
                "alarm:",
                &names.of_type::<AwsCloudwatchMetricAlarm>(),
            ),
        ),
        allow(
            "ManagePlatformDashboards",
            vec![
                "cloudwatch:DeleteDashboards",
                "cloudwatch:GetDashboard",
                "cloudwatch:PutDashboard",
            ],
            dashboards,
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
            parameters,
        ),
    ]
}
