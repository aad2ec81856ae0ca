//! Monitoring resources: metric alarms, the alarm topic and its subscription, the dashboard,
//! and the SSM parameter that carries the CloudWatch agent configuration.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::tf::Tags;
use crate::tf::{TfError, TfString, resource_type};

/// `aws_cloudwatch_metric_alarm` on one metric.
#[derive(Debug, Serialize)]
pub struct AwsCloudwatchMetricAlarm {
    /// Alarm name, `<platform>-<what>`.
    pub alarm_name: TfString,
    /// What fired and what to do (shown in the notification).
    pub alarm_description: TfString,
    /// Metric namespace.
    pub namespace: TfString,
    /// Metric name.
    pub metric_name: TfString,
    /// Dimension name → value; must equal the published dimension set exactly.
    pub dimensions: BTreeMap<String, TfString>,
    /// `Average`, `Sum`, `Minimum` or `Maximum`.
    pub statistic: &'static str,
    /// Seconds per data point.
    pub period: u32,
    /// Periods looked at.
    pub evaluation_periods: u32,
    /// Breaching periods among them that fire the alarm.
    pub datapoints_to_alarm: u32,
    /// Threshold in the metric's unit.
    pub threshold: u64,
    /// E.g. `GreaterThanThreshold`.
    pub comparison_operator: &'static str,
    /// `missing`, `notBreaching` or `breaching`.
    pub treat_missing_data: &'static str,
    /// Topics notified on ALARM.
    pub alarm_actions: Vec<TfString>,
    /// Topics notified on OK.
    pub ok_actions: Vec<TfString>,
    /// Topics notified on INSUFFICIENT_DATA (metrics whose absence means the publisher died).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub insufficient_data_actions: Vec<TfString>,
    /// Tags.
    pub tags: Tags,
}

/// `aws_sns_topic`.
#[derive(Debug, Serialize)]
pub struct AwsSnsTopic {
    /// Topic name.
    pub name: TfString,
    /// KMS key that encrypts messages at rest.
    pub kms_master_key_id: TfString,
    /// Tags.
    pub tags: Tags,
}

/// `aws_sns_topic_policy`: who may publish to the topic.
#[derive(Debug, Serialize)]
pub struct AwsSnsTopicPolicy {
    /// Topic ARN.
    pub arn: TfString,
    /// Policy JSON.
    pub policy: TfString,
}

/// `aws_sns_topic_subscription`.
#[derive(Debug, Serialize)]
pub struct AwsSnsTopicSubscription {
    /// Topic ARN.
    pub topic_arn: TfString,
    /// `email`.
    pub protocol: &'static str,
    /// The address; SNS sends it a confirmation link first.
    pub endpoint: TfString,
}

/// `aws_ssm_parameter` (the resource; the data source is [`crate::tf::data::AwsSsmParameter`]).
#[derive(Debug, Serialize)]
pub struct AwsSsmParameter {
    /// Parameter name.
    pub name: TfString,
    /// What it holds.
    pub description: TfString,
    /// `SecureString`: encrypted at rest like everything else on the platform.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// KMS key ARN for `SecureString`.
    pub key_id: TfString,
    /// `Standard` (up to 4 KB) or `Advanced` (up to 8 KB).
    pub tier: &'static str,
    /// The value.
    pub value: TfString,
    /// Tags.
    pub tags: Tags,
}

/// `aws_cloudwatch_dashboard`.
#[derive(Debug, Serialize)]
pub struct AwsCloudwatchDashboard {
    /// Dashboard name.
    pub dashboard_name: TfString,
    /// Dashboard JSON (see [`Dashboard`]).
    pub dashboard_body: TfString,
}

resource_type! {
    AwsCloudwatchMetricAlarm => "aws_cloudwatch_metric_alarm",
    AwsSnsTopic => "aws_sns_topic",
    AwsSnsTopicPolicy => "aws_sns_topic_policy",
    AwsSnsTopicSubscription => "aws_sns_topic_subscription",
    AwsSsmParameter => "aws_ssm_parameter",
    AwsCloudwatchDashboard => "aws_cloudwatch_dashboard",
}

/// A dashboard body. Every string that can carry platform text is a [`TfString`], so the
/// rendered body is one Terraform template: literals stay escaped, references interpolate.
#[derive(Debug, Serialize)]
pub struct Dashboard {
    /// Widgets on a 24-column grid.
    pub widgets: Vec<Widget>,
}

/// One widget.
#[derive(Debug, Serialize)]
pub struct Widget {
    /// `metric` or `log`.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// Column.
    pub x: u32,
    /// Row.
    pub y: u32,
    /// Columns wide.
    pub width: u32,
    /// Rows high.
    pub height: u32,
    /// What it shows.
    pub properties: WidgetProperties,
}

/// A widget's properties.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum WidgetProperties {
    /// A time series of metrics.
    Metric {
        /// Title.
        title: TfString,
        /// Region of the metrics.
        region: TfString,
        /// `timeSeries`.
        view: &'static str,
        /// Statistic for every line.
        stat: &'static str,
        /// Seconds per point.
        period: u32,
        /// `[namespace, metric, dim, value, ...]` per line.
        metrics: Vec<Vec<TfString>>,
    },
    /// A Logs Insights query.
    Log {
        /// Title.
        title: TfString,
        /// Region of the log group.
        region: TfString,
        /// `table`.
        view: &'static str,
        /// `SOURCE '<group>' | ...`.
        query: TfString,
    },
}

impl Dashboard {
    /// The body as one template string.
    pub fn body(&self) -> Result<TfString, TfError> {
        serde_json::to_string(self)
            .map(TfString)
            .map_err(|e| TfError::Serialize {
                address: "aws_cloudwatch_dashboard.dashboard_body".into(),
                message: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use crate::tf::TfString;
    use crate::tf::monitoring::{Dashboard, Widget, WidgetProperties};

    #[test]
    fn dashboard_bodies_keep_literals_escaped_and_references_live() {
        let dashboard = Dashboard {
            widgets: vec![Widget {
                type_: "metric",
                x: 0,
                y: 0,
                width: 12,
                height: 6,
                properties: WidgetProperties::Metric {
                    title: TfString::lit("cpu ${x}"),
                    region: TfString::expr("data.aws_region.current.name"),
                    view: "timeSeries",
                    stat: "Average",
                    period: 300,
                    metrics: vec![vec![TfString::lit("AWS/EC2")]],
                },
            }],
        };
        let body = dashboard.body().unwrap();
        assert!(body.as_template().contains(r#""title":"cpu $${x}""#));
        assert!(
            body.as_template()
                .contains(r#""region":"${data.aws_region.current.name}""#)
        );
    }
}
