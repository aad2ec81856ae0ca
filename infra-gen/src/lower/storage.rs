//! The platform key (created by the bootstrap module, read by the platform), the data bucket and
//! its access-log bucket, and the bootstrap module's Terraform state bucket, all built by the
//! same hardened-bucket helper.

use crate::lower::ctx::{Ctx, PLATFORM_KEY, STORAGE};
use crate::lower::encrypted::{customer_key, existing_key};
use crate::lower::handles::Buckets;
use crate::tf::data::{self, AwsIamPolicyDocument, Condition, Principals, Statement};
use crate::tf::storage::{
    AbortIncompleteMultipartUpload, AwsKmsKey, AwsS3Bucket, AwsS3BucketLifecycleConfiguration,
    AwsS3BucketLogging, AwsS3BucketOwnershipControls, AwsS3BucketPolicy,
    AwsS3BucketPublicAccessBlock, AwsS3BucketServerSideEncryptionConfiguration,
    AwsS3BucketVersioning, Expiration, LifecycleFilter, LifecycleRule, NoncurrentVersionExpiration,
    OwnershipRule, SseDefault, SseRule, VersioningConfiguration,
};
use crate::tf::{Document, FileId, Handle, Meta, TfError, TfString};

/// Key prefix of the data bucket's access logs inside the log bucket.
const ACCESS_LOG_PREFIX: &str = "data-bucket/";

/// The platform key (bootstrap module): S3, EBS, RDS, Performance Insights, the DB secret,
/// CloudWatch Logs, SQS. Its policy names the platform's resources by name, so it exists before
/// them.
pub(crate) fn lower_key(doc: &mut Document, ctx: &Ctx<'_>) -> Result<Handle<AwsKmsKey>, TfError> {
    customer_key(
        doc,
        ctx,
        PLATFORM_KEY,
        "kms_key",
        "S3, EBS, RDS, secrets and logs",
        vec![
            Statement {
                sid: "CloudWatchLogsEncryption",
                effect: "Allow",
                actions: vec![
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    // No `kms:Describe*` (AWS's example has it): DescribeKey carries no encryption
                    // context, so under the condition below it would never apply, and the wildcard
                    // also matched DescribeCustomKeyStores, which a key policy cannot grant.
                ],
                resources: vec![TfString::lit("*")],
                principals: vec![Principals {
                    type_: "Service",
                    identifiers: vec![TfString::concat([
                        TfString::lit("logs."),
                        ctx.region.attr("name"),
                        TfString::lit(".amazonaws.com"),
                    ])],
                }],
                // Only the platform's own log groups, not every group in the account.
                condition: vec![Condition {
                    test: "ArnLike",
                    variable: "kms:EncryptionContext:aws:logs:arn",
                    values: ctx
                        .platform
                        .log_group_patterns()
                        .iter()
                        .map(|pattern| ctx.arn("logs", &format!("log-group:{pattern}")))
                        .collect(),
                }],
            },
            s3_to_the_event_queue(ctx),
        ],
    )
}

/// S3 encrypts the data bucket's events into the SQS queue with this key (SQS asks KMS on its
/// behalf): only for that queue, whose ARN SQS always passes as the encryption context, and only
/// when S3 acts for the data bucket of this account (`aws:SourceArn`, `aws:SourceAccount`), so no
/// other bucket, in this account or another, can borrow the grant (the confused deputy). Both
/// ARNs are built from names: the key exists before the queue and the bucket, which use it.
fn s3_to_the_event_queue(ctx: &Ctx<'_>) -> Statement {
    Statement {
        sid: "S3EventsIntoTheEtlQueue",
        effect: "Allow",
        actions: vec!["kms:GenerateDataKey", "kms:Decrypt"],
        resources: vec![TfString::lit("*")],
        principals: vec![Principals {
            type_: "Service",
            identifiers: vec![TfString::lit("s3.amazonaws.com")],
        }],
        condition: vec![
            Condition {
                test: "StringEquals",
                variable: "kms:EncryptionContext:aws:sqs:arn",
                values: vec![ctx.etl_queue_arn()],
            },
            Condition {
                test: "ArnEquals",
                variable: "aws:SourceArn",
                values: vec![ctx.s3_arn(&ctx.platform.data_bucket_name())],
            },
            Condition {
                test: "StringEquals",
                variable: "aws:SourceAccount",
                values: vec![ctx.account.attr("account_id")],
            },
        ],
    }
}

/// The platform module's handle on the platform key.
pub(crate) fn platform_key(
    doc: &mut Document,
    ctx: &Ctx<'_>,
) -> Result<Handle<data::AwsKmsKey>, TfError> {
    existing_key(doc, ctx, STORAGE, PLATFORM_KEY)
}

/// Versioning, default encryption, all four public-access blocks and no ACLs: the baseline
/// every bucket of the platform gets.
fn harden(
    doc: &mut Document,
    file: FileId,
    name: &str,
    bucket: &Handle<AwsS3Bucket>,
    sse: SseDefault,
) -> Result<(), TfError> {
    doc.resource(
        file,
        name,
        &AwsS3BucketVersioning {
            bucket: bucket.id(),
            versioning_configuration: VersioningConfiguration { status: "Enabled" },
        },
    )?;
    let bucket_key_enabled = sse.kms_master_key_id.is_some();
    doc.resource(
        file,
        name,
        &AwsS3BucketServerSideEncryptionConfiguration {
            bucket: bucket.id(),
            rule: vec![SseRule {
                apply_server_side_encryption_by_default: sse,
                bucket_key_enabled,
            }],
        },
    )?;
    doc.resource(
        file,
        name,
        &AwsS3BucketPublicAccessBlock {
            bucket: bucket.id(),
            block_public_acls: true,
            block_public_policy: true,
            ignore_public_acls: true,
            restrict_public_buckets: true,
        },
    )?;
    doc.resource(
        file,
        name,
        &AwsS3BucketOwnershipControls {
            bucket: bucket.id(),
            rule: OwnershipRule {
                object_ownership: "BucketOwnerEnforced",
            },
        },
    )?;
    Ok(())
}

/// Denies every request to the bucket that does not use TLS.
fn deny_insecure_transport(bucket: &Handle<AwsS3Bucket>) -> Statement {
    Statement::deny_without_tls(
        vec!["s3:*"],
        vec![
            bucket.arn(),
            TfString::concat([bucket.arn(), TfString::lit("/*")]),
        ],
    )
}

/// What differs between the platform's buckets.
struct BucketSpec<'a> {
    /// The file the bucket and its configuration go to.
    file: FileId,
    /// Terraform name of the bucket and its configuration resources.
    name: &'a str,
    /// S3 bucket name.
    bucket: String,
    /// Default encryption.
    sse: SseDefault,
    /// Lifecycle rule id.
    rule_id: &'static str,
    /// Days before current objects expire, if they do.
    expiration_days: Option<u32>,
    /// Days before noncurrent versions expire.
    noncurrent_days: u32,
    /// Whether `terraform destroy` may delete a bucket that still holds objects.
    force_destroy: bool,
}

/// A hardened bucket with its lifecycle rule.
fn bucket(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    spec: BucketSpec<'_>,
) -> Result<Handle<AwsS3Bucket>, TfError> {
    let handle = doc.resource(
        spec.file,
        spec.name,
        &AwsS3Bucket {
            bucket: TfString::lit(spec.bucket),
            force_destroy: spec.force_destroy,
            tags: ctx.tags(&format!("{}-bucket", spec.name.replace('_', "-"))),
        },
    )?;
    harden(doc, spec.file, spec.name, &handle, spec.sse)?;
    doc.resource(
        spec.file,
        spec.name,
        &AwsS3BucketLifecycleConfiguration {
            bucket: handle.id(),
            rule: vec![LifecycleRule {
                id: spec.rule_id,
                status: "Enabled",
                filter: LifecycleFilter {
                    prefix: TfString::lit(""),
                },
                expiration: spec.expiration_days.map(|days| Expiration { days }),
                noncurrent_version_expiration: Some(NoncurrentVersionExpiration {
                    noncurrent_days: spec.noncurrent_days,
                }),
                abort_incomplete_multipart_upload: AbortIncompleteMultipartUpload {
                    days_after_initiation: 7,
                },
            }],
        },
    )?;
    Ok(handle)
}

/// Attaches a bucket policy made of `statements`, in order.
fn bucket_policy(
    doc: &mut Document,
    file: FileId,
    name: &str,
    bucket: &Handle<AwsS3Bucket>,
    statements: Vec<Statement>,
) -> Result<Handle<AwsS3BucketPolicy>, TfError> {
    let policy = doc.data(
        file,
        &format!("{name}_bucket"),
        &AwsIamPolicyDocument {
            statement: statements,
        },
    )?;
    doc.resource(
        file,
        name,
        &AwsS3BucketPolicy {
            bucket: bucket.id(),
            policy: policy.attr("json"),
        },
    )
}

pub(crate) fn lower_buckets(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    key: &Handle<data::AwsKmsKey>,
) -> Result<Buckets, TfError> {
    let storage = &ctx.platform.storage;
    let data = bucket(
        doc,
        ctx,
        BucketSpec {
            file: STORAGE,
            name: "data",
            bucket: ctx.platform.data_bucket_name(),
            sse: SseDefault {
                sse_algorithm: "aws:kms",
                kms_master_key_id: Some(key.arn()),
            },
            rule_id: "expire-noncurrent-versions",
            expiration_days: None,
            noncurrent_days: storage.noncurrent_version_expiration_days,
            force_destroy: storage.force_destroy,
        },
    )?;
    bucket_policy(
        doc,
        STORAGE,
        "data",
        &data,
        vec![deny_insecure_transport(&data)],
    )?;

    let logs = bucket(
        doc,
        ctx,
        BucketSpec {
            file: STORAGE,
            name: "access_logs",
            bucket: ctx.platform.log_bucket_name(),
            // S3 server access logging can only deliver to buckets encrypted with SSE-S3.
            sse: SseDefault {
                sse_algorithm: "AES256",
                kms_master_key_id: None,
            },
            rule_id: "expire-access-logs",
            expiration_days: Some(storage.access_log_expiration_days),
            noncurrent_days: 30,
            force_destroy: storage.force_destroy,
        },
    )?;
    let logs_policy = bucket_policy(
        doc,
        STORAGE,
        "access_logs",
        &logs,
        vec![
            // The log-delivery allow comes first and covers exactly the log prefix.
            Statement {
                sid: "AllowS3ServerAccessLogs",
                effect: "Allow",
                actions: vec!["s3:PutObject"],
                resources: vec![TfString::concat([
                    logs.arn(),
                    TfString::lit(format!("/{ACCESS_LOG_PREFIX}*")),
                ])],
                principals: vec![Principals {
                    type_: "Service",
                    identifiers: vec![TfString::lit("logging.s3.amazonaws.com")],
                }],
                condition: vec![
                    Condition {
                        test: "ArnLike",
                        variable: "aws:SourceArn",
                        values: vec![data.arn()],
                    },
                    Condition {
                        test: "StringEquals",
                        variable: "aws:SourceAccount",
                        values: vec![ctx.account.attr("account_id")],
                    },
                ],
            },
            deny_insecure_transport(&logs),
        ],
    )?;
    doc.resource_with(
        STORAGE,
        "data",
        &AwsS3BucketLogging {
            bucket: data.id(),
            target_bucket: logs.id(),
            target_prefix: TfString::lit(ACCESS_LOG_PREFIX),
        },
        // Delivery starts as soon as logging is on; the policy that admits it must exist first.
        Meta {
            depends_on: vec![logs_policy.address()],
            ..Meta::default()
        },
    )?;
    Ok(Buckets { data })
}

/// Days a replaced state version is kept: long enough to roll back a bad apply by hand.
const STATE_NONCURRENT_DAYS: u32 = 90;

/// The bootstrap module's Terraform state bucket: versioned (every state is recoverable),
/// SSE-KMS with the account's `aws/s3` key (a customer key would carry the platform tag the
/// apply role administers keys by), public access blocked, TLS only, replaced versions expire
/// after [`STATE_NONCURRENT_DAYS`]. Never force-destroyed.
pub(crate) fn lower_state_bucket(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    file: FileId,
) -> Result<Handle<AwsS3Bucket>, TfError> {
    let state = bucket(
        doc,
        ctx,
        BucketSpec {
            file,
            name: "state",
            bucket: ctx.platform.state_bucket_name(),
            sse: SseDefault {
                sse_algorithm: "aws:kms",
                kms_master_key_id: None,
            },
            rule_id: "expire-noncurrent-state-versions",
            expiration_days: None,
            noncurrent_days: STATE_NONCURRENT_DAYS,
            force_destroy: false,
        },
    )?;
    bucket_policy(
        doc,
        file,
        "state",
        &state,
        vec![deny_insecure_transport(&state)],
    )?;
    Ok(state)
}
