//! CloudWatch Logs resources.

use serde::Serialize;

use crate::tf::network::Tags;
use crate::tf::{TfString, resource_type};

/// `aws_cloudwatch_log_group`, always created by Terraform so retention and encryption hold.
#[derive(Debug, Serialize)]
pub struct AwsCloudwatchLogGroup {
    /// Group name.
    pub name: TfString,
    /// Days to keep events.
    pub retention_in_days: u32,
    /// KMS key ARN that encrypts the events.
    pub kms_key_id: TfString,
    /// Tags.
    pub tags: Tags,
}

resource_type! {
    AwsCloudwatchLogGroup => "aws_cloudwatch_log_group",
}
