//! Network resources: VPC, subnets, routing, flow logs and security groups.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::tf::{Ref, TfString, Val, resource_type};

/// Resource tags; the provider adds the platform-wide default tags.
pub type Tags = BTreeMap<String, TfString>;

/// `aws_vpc`.
#[derive(Debug, Serialize)]
pub struct AwsVpc {
    /// IPv4 range of the VPC.
    pub cidr_block: TfString,
    /// Amazon DNS resolution inside the VPC.
    pub enable_dns_support: bool,
    /// DNS names for instances with public addresses.
    pub enable_dns_hostnames: bool,
    /// Tags.
    pub tags: Tags,
}

/// `aws_default_security_group`: adopted only to strip every rule from the VPC's default group.
#[derive(Debug, Serialize)]
pub struct AwsDefaultSecurityGroup {
    /// The VPC whose default group this is.
    pub vpc_id: Ref<AwsVpc>,
    /// Tags.
    pub tags: Tags,
}

/// `aws_subnet`.
#[derive(Debug, Serialize)]
pub struct AwsSubnet {
    /// Owning VPC.
    pub vpc_id: Ref<AwsVpc>,
    /// IPv4 range.
    pub cidr_block: TfString,
    /// Availability zone name.
    pub availability_zone: TfString,
    /// Never hand out public addresses implicitly; the host gets an Elastic IP.
    pub map_public_ip_on_launch: bool,
    /// Tags.
    pub tags: Tags,
}

/// `aws_internet_gateway`.
#[derive(Debug, Serialize)]
pub struct AwsInternetGateway {
    /// Attached VPC.
    pub vpc_id: Ref<AwsVpc>,
    /// Tags.
    pub tags: Tags,
}

/// `aws_route_table` (routes are separate `aws_route` resources).
#[derive(Debug, Serialize)]
pub struct AwsRouteTable {
    /// Owning VPC.
    pub vpc_id: Ref<AwsVpc>,
    /// Tags.
    pub tags: Tags,
}

/// `aws_route`.
#[derive(Debug, Serialize)]
pub struct AwsRoute {
    /// Route table the route belongs to.
    pub route_table_id: Ref<AwsRouteTable>,
    /// Destination range.
    pub destination_cidr_block: TfString,
    /// Target internet gateway.
    pub gateway_id: Ref<AwsInternetGateway>,
}

/// `aws_route_table_association`.
#[derive(Debug, Serialize)]
pub struct AwsRouteTableAssociation {
    /// Associated subnet.
    pub subnet_id: Ref<AwsSubnet>,
    /// Route table.
    pub route_table_id: Ref<AwsRouteTable>,
}

/// `aws_flow_log` delivering to CloudWatch Logs.
#[derive(Debug, Serialize)]
pub struct AwsFlowLog {
    /// Captured VPC.
    pub vpc_id: Ref<AwsVpc>,
    /// `ALL`, `ACCEPT` or `REJECT`.
    pub traffic_type: &'static str,
    /// `cloud-watch-logs`.
    pub log_destination_type: &'static str,
    /// Log group ARN.
    pub log_destination: TfString,
    /// Role the flow-logs service assumes to write.
    pub iam_role_arn: TfString,
    /// Aggregation interval in seconds (60 or 600).
    pub max_aggregation_interval: u32,
    /// Tags.
    pub tags: Tags,
}

/// `aws_security_group` without inline rules; rules are separate resources.
#[derive(Debug, Serialize)]
pub struct AwsSecurityGroup {
    /// Group name.
    pub name: TfString,
    /// What the group protects.
    pub description: TfString,
    /// Owning VPC.
    pub vpc_id: Ref<AwsVpc>,
    /// Tags.
    pub tags: Tags,
}

/// `aws_security_group_rule`.
#[derive(Debug, Serialize)]
pub struct AwsSecurityGroupRule {
    /// `ingress` or `egress`.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// Why the rule exists.
    pub description: TfString,
    /// The group the rule belongs to.
    pub security_group_id: Ref<AwsSecurityGroup>,
    /// First port.
    pub from_port: u16,
    /// Last port.
    pub to_port: u16,
    /// `tcp`, `udp`, ...
    pub protocol: &'static str,
    /// Peer CIDR ranges, literal or from a variable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_blocks: Option<Val<Vec<TfString>>>,
    /// Peer security group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_security_group_id: Option<Ref<AwsSecurityGroup>>,
}

resource_type! {
    AwsVpc => "aws_vpc",
    AwsDefaultSecurityGroup => "aws_default_security_group",
    AwsSubnet => "aws_subnet",
    AwsInternetGateway => "aws_internet_gateway",
    AwsRouteTable => "aws_route_table",
    AwsRoute => "aws_route",
    AwsRouteTableAssociation => "aws_route_table_association",
    AwsFlowLog => "aws_flow_log",
    AwsSecurityGroup => "aws_security_group",
    AwsSecurityGroupRule => "aws_security_group_rule",
}
