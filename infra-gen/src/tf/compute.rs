//! Compute resources: the EC2 instance and its Elastic IP.

use serde::Serialize;

use crate::tf::iam::AwsIamInstanceProfile;
use crate::tf::network::{AwsSecurityGroup, AwsSubnet, Tags};
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
    /// cloud-init document.
    pub user_data: TfString,
    /// Replace the instance when `user_data` changes, so the host always matches it.
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

resource_type! {
    AwsInstance => "aws_instance",
    AwsEip => "aws_eip",
    AwsEipAssociation => "aws_eip_association",
}
