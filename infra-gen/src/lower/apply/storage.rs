//! The apply role on S3 and KMS: the platform's buckets and keys.

use crate::lower::apply::scope::{REQUEST_TAG, RESOURCE_TAG, platform_tag, when};
use crate::lower::ctx::Ctx;
use crate::lower::iam_helpers::allow;
use crate::tf::TfString;
use crate::tf::data::{Condition, Statement};

pub(super) fn storage(ctx: &Ctx<'_>) -> Vec<Statement> {
    let name = &ctx.platform.name;
    let buckets = ctx.s3_arn(&format!("{}*", ctx.platform.bucket_prefix()));
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
