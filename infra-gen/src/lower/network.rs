//! The VPC: two AZs, a public tier routed to the internet gateway, a private tier with no
//! route out, the default security group stripped, and flow logs to an encrypted log group.

use crate::lower::ctx::{Ctx, NETWORK};
use crate::lower::encrypted::log_group;
use crate::lower::handles::Net;
use crate::lower::iam_helpers::{allow, inline_policy, service_role};
use crate::tf::data::{AwsAvailabilityZones, AwsKmsKey, Filter};
use crate::tf::network::{
    AwsDefaultSecurityGroup, AwsFlowLog, AwsInternetGateway, AwsRoute, AwsRouteTable,
    AwsRouteTableAssociation, AwsSubnet, AwsVpc,
};
use crate::tf::{Document, Handle, TfError, TfString};

/// Subnet name suffixes per AZ index.
const AZ_SUFFIX: [&str; 2] = ["a", "b"];

pub(crate) fn lower(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    key: &Handle<AwsKmsKey>,
) -> Result<Net, TfError> {
    let network = &ctx.platform.network;
    let vpc = doc.resource(
        NETWORK,
        "main",
        &AwsVpc {
            cidr_block: TfString::lit(network.vpc_cidr.to_string()),
            enable_dns_support: true,
            enable_dns_hostnames: true,
            tags: ctx.tags("vpc"),
        },
    )?;
    doc.resource(
        NETWORK,
        "main",
        &AwsDefaultSecurityGroup {
            vpc_id: vpc.id(),
            tags: ctx.tags("default-deny-all"),
        },
    )?;
    // The zones are pinned by name (`<region>a`, `<region>b`), so the subnets never move when
    // AWS adds a zone to the region.
    let zone_names = AZ_SUFFIX
        .iter()
        .map(|s| TfString::concat([ctx.region.attr("name"), TfString::lit(s)]))
        .collect();
    let zones = doc.data(
        NETWORK,
        "pinned",
        &AwsAvailabilityZones {
            state: "available",
            filter: vec![Filter {
                name: "zone-name",
                values: zone_names,
            }],
        },
    )?;
    let subnet = |doc: &mut Document, tier: &str, index: usize, cidr: String| {
        let name = format!("{tier}_{}", AZ_SUFFIX[index]);
        doc.resource(
            NETWORK,
            &name,
            &AwsSubnet {
                vpc_id: vpc.id(),
                cidr_block: TfString::lit(cidr),
                availability_zone: zones.attr(&format!("names[{index}]")),
                map_public_ip_on_launch: false,
                tags: ctx.tags(&name.replace('_', "-")),
            },
        )
    };
    let public = [
        subnet(doc, "public", 0, network.public_subnet_cidrs[0].to_string())?,
        subnet(doc, "public", 1, network.public_subnet_cidrs[1].to_string())?,
    ];
    let private = [
        subnet(
            doc,
            "private",
            0,
            network.private_subnet_cidrs[0].to_string(),
        )?,
        subnet(
            doc,
            "private",
            1,
            network.private_subnet_cidrs[1].to_string(),
        )?,
    ];
    let igw = doc.resource(
        NETWORK,
        "main",
        &AwsInternetGateway {
            vpc_id: vpc.id(),
            tags: ctx.tags("igw"),
        },
    )?;
    let public_rt = doc.resource(
        NETWORK,
        "public",
        &AwsRouteTable {
            vpc_id: vpc.id(),
            tags: ctx.tags("public"),
        },
    )?;
    doc.resource(
        NETWORK,
        "public_internet",
        &AwsRoute {
            route_table_id: public_rt.id(),
            destination_cidr_block: TfString::lit("0.0.0.0/0"),
            gateway_id: igw.id(),
        },
    )?;
    // The private tier has its own table with only the local route: nothing there reaches out.
    let private_rt = doc.resource(
        NETWORK,
        "private",
        &AwsRouteTable {
            vpc_id: vpc.id(),
            tags: ctx.tags("private"),
        },
    )?;
    for (tier, subnets, table) in [
        ("public", &public, &public_rt),
        ("private", &private, &private_rt),
    ] {
        for (index, subnet) in subnets.iter().enumerate() {
            doc.resource(
                NETWORK,
                &format!("{tier}_{}", AZ_SUFFIX[index]),
                &AwsRouteTableAssociation {
                    subnet_id: subnet.id(),
                    route_table_id: table.id(),
                },
            )?;
        }
    }

    let group = log_group(
        doc,
        ctx,
        NETWORK,
        "vpc_flow_logs",
        TfString::lit(ctx.platform.flow_log_group_name()),
        key,
    )?;
    let role = service_role(
        doc,
        ctx,
        "vpc_flow_logs",
        "vpc-flow-logs.amazonaws.com",
        "VPC flow logs delivery",
    )?;
    inline_policy(
        doc,
        ctx,
        "vpc_flow_logs",
        &role,
        vec![allow(
            "WriteFlowLogs",
            vec![
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            vec![
                group.arn(),
                TfString::concat([group.arn(), TfString::lit(":*")]),
            ],
        )],
    )?;
    doc.resource(
        NETWORK,
        "main",
        &AwsFlowLog {
            vpc_id: vpc.id(),
            traffic_type: "ALL",
            log_destination_type: "cloud-watch-logs",
            log_destination: group.arn(),
            iam_role_arn: role.arn(),
            max_aggregation_interval: 60,
            tags: ctx.tags("vpc-flow-logs"),
        },
    )?;
    Ok(Net {
        vpc,
        public,
        private,
    })
}
