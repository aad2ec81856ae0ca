//! The apply role on EC2: the VPC, subnets, routes, security groups and rules, the EIP and the
//! host, created only with the platform tag ([`network`]); and what Terraform reads to plan them
//! ([`lookups`]), a policy of its own so each stays under IAM's size limit with the longest name.

use crate::lower::apply::scope::{
    ApplyDeps, EC2_TYPES, REQUEST_TAG, RESOURCE_TAG, ec2_arns, platform_tag, when,
};
use crate::lower::ctx::Ctx;
use crate::lower::iam_helpers::allow;
use crate::tf::TfString;
use crate::tf::data::{Condition, Statement};

/// EC2 calls that create a resource; `ec2:CreateTags` is allowed during these only.
const EC2_CREATE: [&str; 8] = [
    "ec2:CreateVpc",
    "ec2:CreateSubnet",
    "ec2:CreateRouteTable",
    "ec2:CreateInternetGateway",
    "ec2:CreateSecurityGroup",
    "ec2:AllocateAddress",
    "ec2:RunInstances",
    "ec2:CreateFlowLogs",
];

/// Calls that create a security group rule (`aws_vpc_security_group_*_rule`), tagged at creation
/// with the provider's default tags; the group itself must already be the platform's.
const RULE_CREATE: [&str; 2] = [
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:AuthorizeSecurityGroupIngress",
];

/// EC2's describe calls, the platform's instance and VPC attributes, and the AMI parameter.
pub(super) fn lookups(ctx: &Ctx<'_>, deps: &ApplyDeps) -> Vec<Statement> {
    vec![
        allow(
            "DescribeEc2",
            vec![
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAddressesAttribute",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeFlowLogs",
                "ec2:DescribeImages",
                "ec2:DescribeInstanceCreditSpecifications",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeInstances",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeRouteTables",
                "ec2:DescribeSecurityGroupRules",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeTags",
                "ec2:DescribeVolumes",
                "ec2:DescribeVpcs",
            ],
            vec![TfString::lit("*")],
        ),
        // The two describe calls that take a resource type: the platform's instances and VPCs.
        when(
            allow(
                "DescribePlatformInstanceAndVpcAttributes",
                vec!["ec2:DescribeInstanceAttribute", "ec2:DescribeVpcAttribute"],
                ec2_arns(ctx, &["instance", "vpc"]),
            ),
            vec![platform_tag(ctx, RESOURCE_TAG)],
        ),
        allow(
            "ReadTheAmiParameter",
            vec!["ssm:GetParameter", "ssm:GetParameters"],
            vec![ctx.arn_of(
                "ssm",
                true,
                None,
                TfString::concat([TfString::lit("parameter"), deps.ami_parameter.clone()]),
            )],
        ),
    ]
}

/// Creating, changing and deleting the platform's EC2 resources.
pub(super) fn network(ctx: &Ctx<'_>, deps: &ApplyDeps) -> Vec<Statement> {
    let image = ctx.arn_of("ec2", true, None, TfString::lit("image/*"));
    vec![
        when(
            allow(
                "CreateOnlyTaggedEc2",
                EC2_CREATE.to_vec(),
                ec2_arns(ctx, &EC2_TYPES),
            ),
            vec![platform_tag(ctx, REQUEST_TAG)],
        ),
        when(
            allow(
                "TagOnlyWhileCreating",
                vec!["ec2:CreateTags"],
                ec2_arns(ctx, &EC2_TYPES),
            ),
            vec![Condition {
                test: "StringEquals",
                variable: "ec2:CreateAction",
                values: EC2_CREATE
                    .iter()
                    .chain(&RULE_CREATE)
                    .map(|a| TfString::lit(a.trim_start_matches("ec2:")))
                    .collect(),
            }],
        ),
        when(
            allow(
                "CreateOnlyTaggedRules",
                RULE_CREATE.to_vec(),
                vec![ctx.arn("ec2", "security-group-rule/*")],
            ),
            vec![platform_tag(ctx, REQUEST_TAG)],
        ),
        allow(
            "RunFromAnyImageIntoNewVolumesAndInterfaces",
            vec!["ec2:RunInstances"],
            vec![
                image,
                ctx.arn("ec2", "volume/*"),
                ctx.arn("ec2", "network-interface/*"),
            ],
        ),
        when(
            allow(
                "ChangeOnlyPlatformEc2",
                vec![
                    "ec2:AssociateAddress",
                    "ec2:AssociateRouteTable",
                    "ec2:AttachInternetGateway",
                    "ec2:AuthorizeSecurityGroupEgress",
                    "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:CreateFlowLogs",
                    "ec2:CreateRoute",
                    "ec2:CreateRouteTable",
                    "ec2:CreateSecurityGroup",
                    "ec2:CreateSubnet",
                    "ec2:CreateTags",
                    "ec2:DeleteFlowLogs",
                    "ec2:DeleteInternetGateway",
                    "ec2:DeleteRoute",
                    "ec2:DeleteRouteTable",
                    "ec2:DeleteSecurityGroup",
                    "ec2:DeleteSubnet",
                    "ec2:DeleteTags",
                    "ec2:DeleteVpc",
                    "ec2:DetachInternetGateway",
                    "ec2:DisassociateAddress",
                    "ec2:DisassociateRouteTable",
                    "ec2:ModifyInstanceAttribute",
                    "ec2:ModifyInstanceMetadataOptions",
                    "ec2:ModifySecurityGroupRules",
                    "ec2:ModifySubnetAttribute",
                    "ec2:ModifyVpcAttribute",
                    "ec2:MonitorInstances",
                    "ec2:ReleaseAddress",
                    "ec2:ReplaceRoute",
                    "ec2:RevokeSecurityGroupEgress",
                    "ec2:RevokeSecurityGroupIngress",
                    "ec2:RunInstances",
                    "ec2:StartInstances",
                    "ec2:StopInstances",
                    "ec2:TerminateInstances",
                    "ec2:UnmonitorInstances",
                    "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
                    "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
                ],
                ec2_arns(ctx, &EC2_TYPES),
            ),
            vec![platform_tag(ctx, RESOURCE_TAG)],
        ),
        // The VPC's default security group is created by EC2 untagged; Terraform adopts it,
        // tags it and strips its rules. It is reachable only through this VPC.
        when(
            allow(
                "AdoptTheDefaultSecurityGroup",
                vec![
                    "ec2:CreateTags",
                    "ec2:RevokeSecurityGroupEgress",
                    "ec2:RevokeSecurityGroupIngress",
                ],
                vec![ctx.arn("ec2", "security-group/*")],
            ),
            vec![Condition {
                test: "ArnEquals",
                variable: "ec2:Vpc",
                values: vec![deps.vpc_arn.clone()],
            }],
        ),
    ]
}
