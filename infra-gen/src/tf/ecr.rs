//! ECR: the private registry repository the ETL image is pushed to and pulled from.

use serde::Serialize;

use crate::tf::Tags;
use crate::tf::{TfString, resource_type};

/// `aws_ecr_repository`.
#[derive(Debug, Serialize)]
pub struct AwsEcrRepository {
    /// Repository name.
    pub name: TfString,
    /// `IMMUTABLE`: a pushed tag can never point at other content.
    pub image_tag_mutability: &'static str,
    /// Vulnerability scanning.
    pub image_scanning_configuration: ImageScanningConfiguration,
    /// Encryption at rest.
    pub encryption_configuration: EncryptionConfiguration,
    /// Tags.
    pub tags: Tags,
}

/// `image_scanning_configuration` block.
#[derive(Debug, Serialize)]
pub struct ImageScanningConfiguration {
    /// Scan every image when it is pushed.
    pub scan_on_push: bool,
}

/// `encryption_configuration` block.
#[derive(Debug, Serialize)]
pub struct EncryptionConfiguration {
    /// `KMS` for a customer-managed key.
    pub encryption_type: &'static str,
    /// The key ARN.
    pub kms_key: TfString,
}

resource_type! {
    AwsEcrRepository => "aws_ecr_repository",
}
