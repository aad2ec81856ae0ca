//! Database resources: RDS PostgreSQL with its subnet and parameter groups.

use serde::Serialize;

use crate::tf::Tags;
use crate::tf::network::{AwsSecurityGroup, AwsSubnet};
use crate::tf::{Ref, TfString, resource_type};

/// `aws_db_subnet_group`.
#[derive(Debug, Serialize)]
pub struct AwsDbSubnetGroup {
    /// Group name.
    pub name: TfString,
    /// Why the group exists.
    pub description: TfString,
    /// Subnets (private tier).
    pub subnet_ids: Vec<Ref<AwsSubnet>>,
    /// Tags.
    pub tags: Tags,
}

/// `aws_db_parameter_group`.
#[derive(Debug, Serialize)]
pub struct AwsDbParameterGroup {
    /// Group name.
    pub name: TfString,
    /// Engine family, e.g. `postgres16`.
    pub family: &'static str,
    /// What the group changes.
    pub description: TfString,
    /// Parameters, sorted by name.
    pub parameter: Vec<DbParameter>,
    /// Tags.
    pub tags: Tags,
}

/// `parameter` block.
#[derive(Debug, Serialize)]
pub struct DbParameter {
    /// Parameter name.
    pub name: &'static str,
    /// Value as a string.
    pub value: TfString,
    /// `immediate` or `pending-reboot`.
    pub apply_method: &'static str,
}

/// `aws_db_instance`.
#[allow(clippy::struct_excessive_bools, reason = "mirrors the RDS API")]
#[derive(Debug, Serialize)]
pub struct AwsDbInstance {
    /// Instance identifier.
    pub identifier: TfString,
    /// `postgres`.
    pub engine: &'static str,
    /// Major version; minor versions upgrade automatically.
    pub engine_version: &'static str,
    /// Instance class.
    pub instance_class: TfString,
    /// Initial storage in GiB.
    pub allocated_storage: u32,
    /// Storage autoscaling ceiling in GiB.
    pub max_allocated_storage: u32,
    /// `gp3`.
    pub storage_type: &'static str,
    /// Encryption at rest.
    pub storage_encrypted: bool,
    /// Customer key ARN.
    pub kms_key_id: TfString,
    /// Initial database.
    pub db_name: TfString,
    /// Master user name.
    pub username: TfString,
    /// RDS keeps the master password in Secrets Manager; it never reaches config or state.
    pub manage_master_user_password: bool,
    /// Key that encrypts the managed secret.
    pub master_user_secret_kms_key_id: TfString,
    /// IAM database authentication.
    pub iam_database_authentication_enabled: bool,
    /// Subnet group name.
    pub db_subnet_group_name: Ref<AwsDbSubnetGroup>,
    /// Security groups.
    pub vpc_security_group_ids: Vec<Ref<AwsSecurityGroup>>,
    /// Parameter group name.
    pub parameter_group_name: Ref<AwsDbParameterGroup>,
    /// Never reachable from the internet.
    pub publicly_accessible: bool,
    /// Standby in a second AZ.
    pub multi_az: bool,
    /// Days of automated backups.
    pub backup_retention_period: u32,
    /// Daily backup window (UTC).
    pub backup_window: &'static str,
    /// Weekly maintenance window (UTC).
    pub maintenance_window: &'static str,
    /// Refuse deletion through the API.
    pub deletion_protection: bool,
    /// Skip the snapshot on deletion.
    pub skip_final_snapshot: bool,
    /// Name of the snapshot taken on deletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_snapshot_identifier: Option<TfString>,
    /// Tags flow into snapshots.
    pub copy_tags_to_snapshot: bool,
    /// Apply minor engine upgrades in the maintenance window.
    pub auto_minor_version_upgrade: bool,
    /// Performance Insights.
    pub performance_insights_enabled: bool,
    /// Key for Performance Insights data.
    pub performance_insights_kms_key_id: TfString,
    /// Days of Performance Insights data (7 is the free tier).
    pub performance_insights_retention_period: u32,
    /// Enhanced monitoring interval in seconds.
    pub monitoring_interval: u32,
    /// Role RDS uses to publish enhanced monitoring.
    pub monitoring_role_arn: TfString,
    /// Logs exported to CloudWatch.
    pub enabled_cloudwatch_logs_exports: Vec<&'static str>,
    /// Tags.
    pub tags: Tags,
}

resource_type! {
    AwsDbSubnetGroup => "aws_db_subnet_group",
    AwsDbParameterGroup => "aws_db_parameter_group",
    AwsDbInstance => "aws_db_instance",
}
