//! The apply role on S3 and KMS: the platform's buckets, and the use (never the administration)
//! of the bootstrap module's two keys, by exact ARN.

use crate::lower::apply::scope::{ApplyDeps, PARAMETER_CONTEXT, when};
use crate::lower::ctx::Ctx;
use crate::lower::iam_helpers::{allow, parameter_arns};
use crate::tf::TfString;
use crate::tf::data::{Condition, Statement};
use crate::tf::storage::AwsS3Bucket;

pub(super) fn storage(ctx: &Ctx<'_>, deps: &ApplyDeps) -> Vec<Statement> {
    let buckets: Vec<TfString> = deps
        .names
        .of_type::<AwsS3Bucket>()
        .iter()
        .map(|b| ctx.s3_arn(b))
        .collect();
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
            buckets.clone(),
        ),
        // The platform reads both keys by alias (`data.aws_kms_key`); the bootstrap module owns
        // them, so the apply role neither creates, tags nor administers any key.
        allow(
            "ReadPlatformKeys",
            vec!["kms:DescribeKey"],
            vec![deps.platform_key.clone(), deps.alarms_key.clone()],
        ),
        // RDS, ECR and EBS take grants on the platform key for the resources they encrypt.
        when(
            allow(
                "LetServicesTakeGrantsOnThePlatformKey",
                vec!["kms:CreateGrant"],
                vec![deps.platform_key.clone()],
            ),
            vec![Condition {
                test: "Bool",
                variable: "kms:GrantIsForAWSResource",
                values: vec![TfString::lit("true")],
            }],
        ),
        // EC2 (the encrypted root volume) and RDS use the key in the caller's name while creating.
        when(
            allow(
                "LetServicesUseThePlatformKey",
                vec![
                    "kms:Decrypt",
                    "kms:GenerateDataKeyWithoutPlaintext",
                    "kms:ReEncryptFrom",
                    "kms:ReEncryptTo",
                ],
                vec![deps.platform_key.clone()],
            ),
            vec![via_service(ctx, &["ec2", "rds", "ecr", "secretsmanager"])],
        ),
        // The agent parameters are SecureStrings under the platform key: SSM encrypts them in the
        // caller's name when they are written and decrypts them when they are read back (the
        // provider always reads with decryption), for these parameters only.
        when(
            allow(
                "LetSsmUseThePlatformKeyForTheAgentParameters",
                vec!["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                vec![deps.platform_key.clone()],
            ),
            vec![
                via_service(ctx, &["ssm"]),
                Condition {
                    test: "StringEquals",
                    variable: PARAMETER_CONTEXT,
                    values: parameter_arns(ctx, &deps.names),
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
            buckets
                .iter()
                .flat_map(|b| {
                    [
                        b.clone(),
                        TfString::concat([b.clone(), TfString::lit("/*")]),
                    ]
                })
                .collect(),
        ));
    }
    statements
}

/// `kms:ViaService` equal to one of `services` in the platform's region.
fn via_service(ctx: &Ctx<'_>, services: &[&str]) -> Condition {
    Condition {
        test: "StringEquals",
        variable: "kms:ViaService",
        values: services
            .iter()
            .map(|service| {
                TfString::concat([
                    TfString::lit(format!("{service}.")),
                    ctx.region.attr("name"),
                    TfString::lit(".amazonaws.com"),
                ])
            })
            .collect(),
    }
}
