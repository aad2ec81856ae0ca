//! CloudWatch Logs resources: log groups and metric filters.

use serde::Serialize;

use crate::tf::Tags;
use crate::tf::{Ref, TfString, resource_type};

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

/// `aws_cloudwatch_log_metric_filter`: turns matching log events into a metric.
#[derive(Debug, Serialize)]
pub struct AwsCloudwatchLogMetricFilter {
    /// Filter name.
    pub name: TfString,
    /// Filter pattern, e.g. `{ $.level = "ERROR" }` for JSON events.
    pub pattern: TfString,
    /// The log group (its name; the provider's `id` of a log group is its name).
    pub log_group_name: Ref<AwsCloudwatchLogGroup>,
    /// The metric produced.
    pub metric_transformation: MetricTransformation,
}

/// `metric_transformation` block.
#[derive(Debug, Serialize)]
pub struct MetricTransformation {
    /// Metric name.
    pub name: TfString,
    /// Metric namespace.
    pub namespace: TfString,
    /// Value per matching event.
    pub value: &'static str,
    /// Unit.
    pub unit: &'static str,
}

resource_type! {
    AwsCloudwatchLogGroup => "aws_cloudwatch_log_group",
    AwsCloudwatchLogMetricFilter => "aws_cloudwatch_log_metric_filter",
}
