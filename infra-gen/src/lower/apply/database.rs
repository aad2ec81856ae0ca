//! The apply role on RDS: the instance, its groups and its final snapshot by exact ARN, and its
//! managed secret through the secret's instance tag.

use crate::lower::apply::scope::{ApplyDeps, when};
use crate::lower::ctx::Ctx;
use crate::lower::iam_helpers::{RDS_SECRET_INSTANCE_TAG, allow, arns_of};
use crate::tf::TfString;
use crate::tf::data::{Condition, Statement};
use crate::tf::database::{AwsDbInstance, AwsDbParameterGroup, AwsDbSubnetGroup};

pub(super) fn database(ctx: &Ctx<'_>, deps: &ApplyDeps) -> Vec<Statement> {
    let names = &deps.names;
    let instances = arns_of(ctx, "rds", "db:", &names.of_type::<AwsDbInstance>());
    let snapshots: Vec<&str> = names.final_snapshots().iter().map(String::as_str).collect();
    let resources: Vec<TfString> = instances
        .iter()
        .cloned()
        .chain(arns_of(ctx, "rds", "pg:", &names.of_type::<AwsDbParameterGroup>()))
        .chain(arns_of(ctx, "rds", "subgrp:", &names.of_type::<AwsDbSubnetGroup>()))
        .chain(arns_of(ctx, "rds", "snapshot:", &snapshots))
        // AWS's default option groups, which every instance of an engine version joins.
        .chain([ctx.arn("rds", "og:default:postgres-*")])
        .collect();
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
            resources,
        ),
        // `manage_master_user_password`: RDS creates the secret in the caller's name, as
        // `rds!db-<uuid>` (a name nobody knows before), tagged with its instance's ARN. Creating
        // it cannot be conditioned on that tag (the secret does not exist yet); everything after
        // is, so only the platform's own secret is described or rotated.
        allow(
            "LetRdsCreateTheMasterSecret",
            vec!["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
            vec![ctx.arn("secretsmanager", "secret:rds!db-*")],
        ),
        when(
            allow(
                "LetRdsRotateOnlyThePlatformsSecret",
                vec![
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:RotateSecret",
                ],
                vec![ctx.arn("secretsmanager", "secret:rds!db-*")],
            ),
            vec![Condition {
                test: "StringEquals",
                variable: RDS_SECRET_INSTANCE_TAG,
                values: instances,
            }],
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
