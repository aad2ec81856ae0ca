//! The apply role on CloudWatch Logs, CloudWatch, SNS and the agent's parameter.

use crate::lower::ctx::Ctx;
use crate::lower::iam_helpers::allow;
use crate::tf::TfString;
use crate::tf::data::Statement;

pub(super) fn observability(ctx: &Ctx<'_>) -> Vec<Statement> {
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
