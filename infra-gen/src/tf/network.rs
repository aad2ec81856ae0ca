//! Network resources: VPC, subnets, routing, flow logs and security groups.

use std::marker::PhantomData;

use serde::Serialize;

use crate::tf::{Ref, Tags, TfResource, TfString, resource_type};

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

/// One security group rule with one peer, in the provider's current rule resources
/// (`aws_vpc_security_group_ingress_rule` / `_egress_rule`), which give each rule its own id,
/// tags and state instead of folding several CIDRs into one legacy `aws_security_group_rule`.
/// `D` is [`Ingress`] or [`Egress`], so the direction is the resource type.
#[derive(Debug, Serialize)]
pub struct AwsVpcSecurityGroupRule<D> {
    /// The group the rule belongs to.
    pub security_group_id: Ref<AwsSecurityGroup>,
    /// Why the rule exists.
    pub description: TfString,
    /// `tcp`, `udp`, ...
    pub ip_protocol: &'static str,
    /// First port.
    pub from_port: u16,
    /// Last port.
    pub to_port: u16,
    /// The one peer.
    #[serde(flatten)]
    pub peer: Peer,
    /// The direction, carried in the type only.
    #[serde(skip)]
    pub direction: PhantomData<D>,
}

/// The direction of an `aws_vpc_security_group_ingress_rule`.
#[derive(Debug)]
pub enum Ingress {}

/// The direction of an `aws_vpc_security_group_egress_rule`.
#[derive(Debug)]
pub enum Egress {}

/// The other end of a rule: exactly one CIDR or one security group.
#[derive(Debug, Serialize)]
pub enum Peer {
    /// One IPv4 range, literal or an expression such as `each.value`.
    #[serde(rename = "cidr_ipv4")]
    Cidr(TfString),
    /// Another security group.
    #[serde(rename = "referenced_security_group_id")]
    Group(Ref<AwsSecurityGroup>),
}

impl TfResource for AwsVpcSecurityGroupRule<Ingress> {
    const TYPE: &'static str = "aws_vpc_security_group_ingress_rule";
}

impl TfResource for AwsVpcSecurityGroupRule<Egress> {
    const TYPE: &'static str = "aws_vpc_security_group_egress_rule";
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
}
