//! The apply role on RDS: the instance, its groups and its managed secret.

use crate::lower::apply::scope::when;
use crate::lower::ctx::Ctx;
use crate::lower::iam_helpers::allow;
use crate::tf::TfString;
use crate::tf::data::{Condition, Statement};

pub(super) fn database(ctx: &Ctx<'_>) -> Vec<Statement> {
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
