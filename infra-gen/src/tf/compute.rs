//! Compute resources: the EC2 instance and its Elastic IP; the workers' launch template, Auto
//! Scaling group and target-tracking policy.

use serde::Serialize;

use crate::tf::Tags;
use crate::tf::iam::AwsIamInstanceProfile;
use crate::tf::network::{AwsSecurityGroup, AwsSubnet};
use crate::tf::{Ref, TfString, resource_type};

/// `aws_instance`.
#[derive(Debug, Serialize)]
pub struct AwsInstance {
    /// AMI id.
    pub ami: TfString,
    /// Instance type.
    pub instance_type: TfString,
    /// Subnet.
    pub subnet_id: Ref<AwsSubnet>,
    /// Security groups.
    pub vpc_security_group_ids: Vec<Ref<AwsSecurityGroup>>,
    /// Instance profile name.
    pub iam_instance_profile: Ref<AwsIamInstanceProfile>,
    /// Detailed (1-minute) CloudWatch monitoring.
    pub monitoring: bool,
    /// Dedicated EBS bandwidth.
    pub ebs_optimized: bool,
    /// cloud-init document, gzip-compressed and base64-encoded.
    pub user_data_base64: TfString,
    /// Replace the instance when its user data changes, so the host always matches it.
    pub user_data_replace_on_change: bool,
    /// Instance metadata service settings.
    pub metadata_options: MetadataOptions,
    /// Root volume.
    pub root_block_device: RootBlockDevice,
    /// Tags.
    pub tags: Tags,
}

/// `metadata_options` block.
#[derive(Debug, Serialize)]
pub struct MetadataOptions {
    /// `enabled`.
    pub http_endpoint: &'static str,
    /// `required` enforces IMDSv2.
    pub http_tokens: &'static str,
    /// 2 lets containers on the host reach the metadata service.
    pub http_put_response_hop_limit: u8,
    /// Instance tags in metadata.
    pub instance_metadata_tags: &'static str,
}

/// `root_block_device` block.
#[derive(Debug, Serialize)]
pub struct RootBlockDevice {
    /// `gp3`.
    pub volume_type: &'static str,
    /// Size in GiB.
    pub volume_size: u32,
    /// Encryption at rest.
    pub encrypted: bool,
    /// Customer key ARN.
    pub kms_key_id: TfString,
    /// Delete with the instance.
    pub delete_on_termination: bool,
}

/// `aws_eip`.
#[derive(Debug, Serialize)]
pub struct AwsEip {
    /// `vpc`.
    pub domain: &'static str,
    /// Tags.
    pub tags: Tags,
}

/// `aws_eip_association`.
#[derive(Debug, Serialize)]
pub struct AwsEipAssociation {
    /// The instance.
    pub instance_id: Ref<AwsInstance>,
    /// The Elastic IP.
    pub allocation_id: Ref<AwsEip>,
}

/// `aws_launch_template`: what every worker is started from.
#[derive(Debug, Serialize)]
pub struct AwsLaunchTemplate {
    /// Template name.
    pub name: TfString,
    /// What the template is for.
    pub description: TfString,
    /// AMI id.
    pub image_id: TfString,
    /// Instance type.
    pub instance_type: TfString,
    /// `"true"`: dedicated EBS bandwidth (a string in this resource).
    pub ebs_optimized: &'static str,
    /// cloud-init document, gzip-compressed and base64-encoded.
    pub user_data: TfString,
    /// New versions become the default, so the group's `$Default` follows every apply.
    pub update_default_version: bool,
    /// Instance profile.
    pub iam_instance_profile: LaunchTemplateProfile,
    /// The one network interface: its security groups and public address.
    pub network_interfaces: Vec<LaunchTemplateInterface>,
    /// Instance metadata service settings.
    pub metadata_options: MetadataOptions,
    /// The root volume.
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    /// Detailed monitoring.
    pub monitoring: Enabled,
    /// Tags applied to the instances and volumes launched from it.
    pub tag_specifications: Vec<TagSpecification>,
    /// Tags of the template itself.
    pub tags: Tags,
}

/// `iam_instance_profile` block of a launch template.
#[derive(Debug, Serialize)]
pub struct LaunchTemplateProfile {
    /// Profile ARN.
    pub arn: TfString,
}

/// `network_interfaces` block of a launch template.
#[derive(Debug, Serialize)]
pub struct LaunchTemplateInterface {
    /// Device index 0: the primary interface.
    pub device_index: u32,
    /// `"true"`: a public address for egress through the internet gateway (a string here).
    pub associate_public_ip_address: &'static str,
    /// `"true"`: the interface goes with the instance.
    pub delete_on_termination: &'static str,
    /// Security groups of the interface.
    pub security_groups: Vec<Ref<AwsSecurityGroup>>,
}

/// `block_device_mappings` block of a launch template.
#[derive(Debug, Serialize)]
pub struct BlockDeviceMapping {
    /// The AMI's root device name.
    pub device_name: &'static str,
    /// The EBS volume.
    pub ebs: LaunchTemplateEbs,
}

/// `ebs` block of a launch template's block device mapping (booleans are strings here).
#[derive(Debug, Serialize)]
pub struct LaunchTemplateEbs {
    /// `gp3`.
    pub volume_type: &'static str,
    /// Size in GiB.
    pub volume_size: u32,
    /// `"true"`.
    pub encrypted: &'static str,
    /// Customer key ARN.
    pub kms_key_id: TfString,
    /// `"true"`.
    pub delete_on_termination: &'static str,
}

/// A block with a single `enabled` flag.
#[derive(Debug, Serialize)]
pub struct Enabled {
    /// On or off.
    pub enabled: bool,
}

/// `tag_specifications` block of a launch template.
#[derive(Debug, Serialize)]
pub struct TagSpecification {
    /// `instance`, `volume`, `network-interface`.
    pub resource_type: &'static str,
    /// Tags.
    pub tags: Tags,
}

/// `aws_autoscaling_group` of queue workers.
#[derive(Debug, Serialize)]
pub struct AwsAutoscalingGroup {
    /// Group name.
    pub name: TfString,
    /// Instances at least.
    pub min_size: u32,
    /// Instances at most.
    pub max_size: u32,
    /// Subnets to launch into, one per AZ.
    pub vpc_zone_identifier: Vec<Ref<AwsSubnet>>,
    /// The launch template and its version.
    pub launch_template: LaunchTemplateRef,
    /// `EC2`: replace instances that fail status checks.
    pub health_check_type: &'static str,
    /// Seconds after launch before health checks count (cloud-init takes minutes).
    pub health_check_grace_period: u32,
    /// Seconds a new instance's metrics are left out of scaling decisions.
    pub default_instance_warmup: u32,
    /// Group metrics to publish to CloudWatch (the scaling metric needs in-service instances).
    pub enabled_metrics: Vec<&'static str>,
    /// `1Minute`.
    pub metrics_granularity: &'static str,
    /// Replace running instances when the launch template changes.
    pub instance_refresh: InstanceRefresh,
    /// Tags the group puts on its instances (`propagate_at_launch`).
    pub tag: Vec<AsgTag>,
}

/// `launch_template` block of an Auto Scaling group.
#[derive(Debug, Serialize)]
pub struct LaunchTemplateRef {
    /// Template id.
    pub id: Ref<AwsLaunchTemplate>,
    /// `$Default`, which `update_default_version` moves on every change.
    pub version: TfString,
}

/// `instance_refresh` block.
#[derive(Debug, Serialize)]
pub struct InstanceRefresh {
    /// `Rolling`.
    pub strategy: &'static str,
    /// Refresh settings.
    pub preferences: RefreshPreferences,
}

/// `preferences` block of an instance refresh.
#[derive(Debug, Serialize)]
pub struct RefreshPreferences {
    /// Percent of the group that must stay in service during a refresh.
    pub min_healthy_percentage: u32,
}

/// `tag` block of an Auto Scaling group.
#[derive(Debug, Serialize)]
pub struct AsgTag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: TfString,
    /// Put the tag on the instances the group launches.
    pub propagate_at_launch: bool,
}

/// `aws_autoscaling_policy` tracking a target value of a metric-math expression.
#[derive(Debug, Serialize)]
pub struct AwsAutoscalingPolicy {
    /// Policy name.
    pub name: TfString,
    /// The group.
    pub autoscaling_group_name: TfString,
    /// `TargetTrackingScaling`.
    pub policy_type: &'static str,
    /// What to track.
    pub target_tracking_configuration: TargetTracking,
}

/// `target_tracking_configuration` block.
#[derive(Debug, Serialize)]
pub struct TargetTracking {
    /// The value the group is kept at.
    pub target_value: u32,
    /// Scale in too (down to the group's minimum).
    pub disable_scale_in: bool,
    /// The tracked metric.
    pub customized_metric_specification: CustomizedMetric,
}

/// `customized_metric_specification` block with metric math.
#[derive(Debug, Serialize)]
pub struct CustomizedMetric {
    /// The queries; exactly one returns data.
    pub metrics: Vec<MetricQuery>,
}

/// One `metrics` query.
#[derive(Debug, Serialize)]
pub struct MetricQuery {
    /// Query id, referred to by expressions.
    pub id: &'static str,
    /// Shown in the console.
    pub label: &'static str,
    /// A metric-math expression over other ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<&'static str>,
    /// A metric.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<MetricStat>,
    /// Whether this query is the tracked value.
    pub return_data: bool,
}

/// `metric_stat` block.
#[derive(Debug, Serialize)]
pub struct MetricStat {
    /// The metric.
    pub metric: MetricId,
    /// Statistic, e.g. `Sum`.
    pub stat: &'static str,
}

/// `metric` block.
#[derive(Debug, Serialize)]
pub struct MetricId {
    /// Namespace.
    pub namespace: &'static str,
    /// Metric name.
    pub metric_name: &'static str,
    /// Its dimensions.
    pub dimensions: Vec<MetricDimension>,
}

/// `dimensions` block.
#[derive(Debug, Serialize)]
pub struct MetricDimension {
    /// Dimension name.
    pub name: &'static str,
    /// Dimension value.
    pub value: TfString,
}

resource_type! {
    AwsLaunchTemplate => "aws_launch_template",
    AwsAutoscalingGroup => "aws_autoscaling_group",
    AwsAutoscalingPolicy => "aws_autoscaling_policy",
    AwsInstance => "aws_instance",
    AwsEip => "aws_eip",
    AwsEipAssociation => "aws_eip_association",
}
