//! Storage resources: the customer-managed KMS key and S3 buckets with their configuration
//! resources (the provider's v4+ split of `aws_s3_bucket` into one resource per concern).

use serde::Serialize;

use crate::tf::Tags;
use crate::tf::{Ref, TfString, resource_type};

/// `aws_kms_key`.
#[derive(Debug, Serialize)]
pub struct AwsKmsKey {
    /// What the key protects.
    pub description: TfString,
    /// Yearly automatic rotation. The period is left at its default (365 days) on purpose.
    pub enable_key_rotation: bool,
    /// Waiting period before a scheduled deletion takes effect.
    pub deletion_window_in_days: u32,
    /// Key policy JSON.
    pub policy: TfString,
    /// Tags.
    pub tags: Tags,
}

/// `aws_kms_alias`.
#[derive(Debug, Serialize)]
pub struct AwsKmsAlias {
    /// `alias/...`.
    pub name: TfString,
    /// The aliased key.
    pub target_key_id: Ref<AwsKmsKey>,
}

/// `aws_s3_bucket`.
#[derive(Debug, Serialize)]
pub struct AwsS3Bucket {
    /// Globally unique bucket name.
    pub bucket: TfString,
    /// Whether `terraform destroy` may delete a non-empty bucket.
    pub force_destroy: bool,
    /// Tags.
    pub tags: Tags,
}

/// `aws_s3_bucket_versioning`.
#[derive(Debug, Serialize)]
pub struct AwsS3BucketVersioning {
    /// The bucket.
    pub bucket: Ref<AwsS3Bucket>,
    /// Versioning settings.
    pub versioning_configuration: VersioningConfiguration,
}

/// `versioning_configuration` block.
#[derive(Debug, Serialize)]
pub struct VersioningConfiguration {
    /// `Enabled` or `Suspended`.
    pub status: &'static str,
}

/// `aws_s3_bucket_server_side_encryption_configuration`.
#[derive(Debug, Serialize)]
pub struct AwsS3BucketServerSideEncryptionConfiguration {
    /// The bucket.
    pub bucket: Ref<AwsS3Bucket>,
    /// Encryption rules.
    pub rule: Vec<SseRule>,
}

/// `rule` block of the encryption configuration.
#[derive(Debug, Serialize)]
pub struct SseRule {
    /// Default encryption for new objects.
    pub apply_server_side_encryption_by_default: SseDefault,
    /// S3 Bucket Keys cut KMS request costs.
    pub bucket_key_enabled: bool,
}

/// `apply_server_side_encryption_by_default` block.
#[derive(Debug, Serialize)]
pub struct SseDefault {
    /// `aws:kms` or `AES256`.
    pub sse_algorithm: &'static str,
    /// KMS key ARN for `aws:kms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_master_key_id: Option<TfString>,
}

/// `aws_s3_bucket_public_access_block`.
#[derive(Debug, Serialize)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "mirrors the four AWS switches"
)]
pub struct AwsS3BucketPublicAccessBlock {
    /// The bucket.
    pub bucket: Ref<AwsS3Bucket>,
    /// Reject public ACLs.
    pub block_public_acls: bool,
    /// Reject public bucket policies.
    pub block_public_policy: bool,
    /// Ignore existing public ACLs.
    pub ignore_public_acls: bool,
    /// Restrict access under a public policy to AWS services and the owner.
    pub restrict_public_buckets: bool,
}

/// `aws_s3_bucket_ownership_controls`.
#[derive(Debug, Serialize)]
pub struct AwsS3BucketOwnershipControls {
    /// The bucket.
    pub bucket: Ref<AwsS3Bucket>,
    /// Ownership rule.
    pub rule: OwnershipRule,
}

/// `rule` block of the ownership controls.
#[derive(Debug, Serialize)]
pub struct OwnershipRule {
    /// `BucketOwnerEnforced` disables ACLs entirely.
    pub object_ownership: &'static str,
}

/// `aws_s3_bucket_policy`.
#[derive(Debug, Serialize)]
pub struct AwsS3BucketPolicy {
    /// The bucket.
    pub bucket: Ref<AwsS3Bucket>,
    /// Policy JSON.
    pub policy: TfString,
}

/// `aws_s3_bucket_lifecycle_configuration`.
#[derive(Debug, Serialize)]
pub struct AwsS3BucketLifecycleConfiguration {
    /// The bucket.
    pub bucket: Ref<AwsS3Bucket>,
    /// Rules.
    pub rule: Vec<LifecycleRule>,
}

/// One lifecycle rule.
#[derive(Debug, Serialize)]
pub struct LifecycleRule {
    /// Rule id.
    pub id: &'static str,
    /// `Enabled` or `Disabled`.
    pub status: &'static str,
    /// Empty filter: the whole bucket.
    pub filter: LifecycleFilter,
    /// Expire current versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Expiration>,
    /// Expire noncurrent versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noncurrent_version_expiration: Option<NoncurrentVersionExpiration>,
    /// Clean up abandoned multipart uploads.
    pub abort_incomplete_multipart_upload: AbortIncompleteMultipartUpload,
}

/// `filter` block; an empty prefix matches every object.
#[derive(Debug, Serialize)]
pub struct LifecycleFilter {
    /// Key prefix.
    pub prefix: TfString,
}

/// `expiration` block.
#[derive(Debug, Serialize)]
pub struct Expiration {
    /// Days after creation.
    pub days: u32,
}

/// `noncurrent_version_expiration` block.
#[derive(Debug, Serialize)]
pub struct NoncurrentVersionExpiration {
    /// Days after becoming noncurrent.
    pub noncurrent_days: u32,
}

/// `abort_incomplete_multipart_upload` block.
#[derive(Debug, Serialize)]
pub struct AbortIncompleteMultipartUpload {
    /// Days after initiation.
    pub days_after_initiation: u32,
}

/// `aws_s3_bucket_logging`: server access logging into another bucket.
#[derive(Debug, Serialize)]
pub struct AwsS3BucketLogging {
    /// The logged bucket.
    pub bucket: Ref<AwsS3Bucket>,
    /// Destination bucket.
    pub target_bucket: Ref<AwsS3Bucket>,
    /// Key prefix for the log objects.
    pub target_prefix: TfString,
}

/// `aws_s3_bucket_notification`: the bucket's whole notification configuration.
#[derive(Debug, Serialize)]
pub struct AwsS3BucketNotification {
    /// The bucket.
    pub bucket: Ref<AwsS3Bucket>,
    /// One entry per queue destination and prefix.
    pub queue: Vec<QueueNotification>,
}

/// `queue` block of [`AwsS3BucketNotification`].
#[derive(Debug, Serialize)]
pub struct QueueNotification {
    /// Destination queue ARN.
    pub queue_arn: TfString,
    /// Event types, e.g. `s3:ObjectCreated:*`.
    pub events: Vec<&'static str>,
    /// Key prefix filter.
    pub filter_prefix: TfString,
    /// Key suffix filter; `None` matches every key under the prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_suffix: Option<TfString>,
}

resource_type! {
    AwsKmsKey => "aws_kms_key",
    AwsKmsAlias => "aws_kms_alias",
    AwsS3BucketNotification => "aws_s3_bucket_notification",
    AwsS3Bucket => "aws_s3_bucket",
    AwsS3BucketVersioning => "aws_s3_bucket_versioning",
    AwsS3BucketServerSideEncryptionConfiguration => "aws_s3_bucket_server_side_encryption_configuration",
    AwsS3BucketPublicAccessBlock => "aws_s3_bucket_public_access_block",
    AwsS3BucketOwnershipControls => "aws_s3_bucket_ownership_controls",
    AwsS3BucketPolicy => "aws_s3_bucket_policy",
    AwsS3BucketLifecycleConfiguration => "aws_s3_bucket_lifecycle_configuration",
    AwsS3BucketLogging => "aws_s3_bucket_logging",
}
