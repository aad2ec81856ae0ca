//! Who may talk to whom: the host's, the workers' and the database's security groups, and the one
//! helper that writes a rule (one resource per CIDR or peer group) for all of them. The workers
//! admit nothing inbound (SSM only) and reach the internet the way the host does: public subnets
//! and egress-only rules (see infra-gen/README.md for why not NAT or endpoints).

use std::marker::PhantomData;

use crate::lower::ctx::{Ctx, SECURITY};
use crate::lower::handles::{Groups, Net, Vars};
use crate::tf::network::{AwsSecurityGroup, AwsVpcSecurityGroupRule, Egress, Ingress, Peer};
use crate::tf::{Document, Expr, Handle, Meta, Suppression, TfError, TfResource, TfString, VarRef};

const POSTGRES: u16 = 5432;

/// Why the host and the workers may reach the whole internet on 80 and 443.
const EGRESS_REASON: &str = "the instance pulls packages, images and AWS API calls over the internet gateway; \
     the VPC has no NAT or endpoints to narrow this to, and apt/Docker content is signature-checked";

/// Which way a rule admits traffic.
#[derive(Clone, Copy)]
pub(crate) enum Direction {
    Ingress,
    Egress,
}

/// The other end of a rule, before it becomes one provider rule per CIDR.
pub(crate) enum Peers<'a> {
    /// One fixed CIDR.
    Cidr(&'static str),
    /// The CIDRs in a list variable: one rule per element, none for an empty list.
    Variable(&'a VarRef),
    /// Another security group.
    Group(&'a Handle<AwsSecurityGroup>),
}

/// A TCP rule on one port of `group`.
pub(crate) struct TcpRule<'a> {
    /// The resource name.
    pub(crate) name: &'a str,
    pub(crate) description: &'a str,
    pub(crate) group: &'a Handle<AwsSecurityGroup>,
    pub(crate) direction: Direction,
    pub(crate) port: u16,
    pub(crate) peers: Peers<'a>,
    /// Reasoned exemptions from the policy rules (e.g. egress to the internet).
    pub(crate) suppressions: Vec<Suppression>,
}

/// Declares `rule` as `aws_vpc_security_group_ingress_rule` / `_egress_rule` resources, one per
/// CIDR: the one way the lowering writes a security group rule, for every group of the platform.
pub(crate) fn tcp_rule(doc: &mut Document, rule: &TcpRule<'_>) -> Result<(), TfError> {
    let (peer, for_each) = match rule.peers {
        Peers::Cidr(cidr) => (Peer::Cidr(TfString::lit(cidr)), None),
        Peers::Variable(cidrs) => (
            Peer::Cidr(TfString::each_value()),
            Some(Expr::set_of(&cidrs.expr())),
        ),
        Peers::Group(group) => (Peer::Group(group.id()), None),
    };
    let meta = Meta {
        for_each,
        suppressions: rule.suppressions.clone(),
        ..Meta::default()
    };
    match rule.direction {
        Direction::Ingress => declare::<Ingress>(doc, rule, peer, meta),
        Direction::Egress => declare::<Egress>(doc, rule, peer, meta),
    }
}

/// One rule resource whose type, `aws_vpc_security_group_{ingress,egress}_rule`, is `D`'s.
fn declare<D>(doc: &mut Document, rule: &TcpRule<'_>, peer: Peer, meta: Meta) -> Result<(), TfError>
where
    AwsVpcSecurityGroupRule<D>: TfResource,
{
    let body = AwsVpcSecurityGroupRule::<D> {
        security_group_id: rule.group.id(),
        description: TfString::lit(rule.description),
        ip_protocol: "tcp",
        from_port: rule.port,
        to_port: rule.port,
        peer,
        direction: PhantomData,
    };
    doc.resource_with(SECURITY, rule.name, &body, meta)?;
    Ok(())
}

pub(crate) fn lower(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    net: &Net,
    vars: &Vars,
) -> Result<Groups, TfError> {
    let group = |suffix: &str, description: &str| AwsSecurityGroup {
        name: ctx.named(suffix),
        description: TfString::lit(description),
        vpc_id: net.vpc.id(),
        tags: ctx.tags(suffix),
    };
    let etl = doc.resource(
        SECURITY,
        "etl_host",
        &group(
            "etl-host",
            "ETL host: admin SSH, HTTP, egress to the internet and the database",
        ),
    )?;
    let database = doc.resource(
        SECURITY,
        "database",
        &group("database", "PostgreSQL: reachable only from the ETL host"),
    )?;

    let open_egress = || {
        vec![Suppression {
            rule: "open-egress",
            reason: EGRESS_REASON,
        }]
    };
    let workers = match ctx.platform.etl.workers {
        Some(_) => Some(doc.resource(
            SECURITY,
            "etl_workers",
            &group(
                "etl-workers",
                "ETL workers: nothing inbound (SSM only), egress to AWS APIs, mirrors and the database",
            ),
        )?),
        None => None,
    };
    let rules = [
        TcpRule {
            name: "etl_host_ssh",
            description: "SSH from an admin CIDR",
            group: &etl,
            direction: Direction::Ingress,
            port: 22,
            peers: Peers::Variable(&vars.admin_cidrs),
            suppressions: Vec::new(),
        },
        TcpRule {
            name: "etl_host_http",
            description: "HTTP from a configured CIDR",
            group: &etl,
            direction: Direction::Ingress,
            port: 80,
            peers: Peers::Variable(&vars.http_cidrs),
            suppressions: Vec::new(),
        },
    ];
    // The host's ingress rule on the database keeps its original name, so existing state stays.
    let clients = [
        (
            "etl_host",
            "database_postgres_in",
            "PostgreSQL from the ETL host only",
            Some(&etl),
        ),
        (
            "etl_workers",
            "database_postgres_from_etl_workers",
            "PostgreSQL from the ETL workers only",
            workers.as_ref(),
        ),
    ];
    for rule in &rules {
        tcp_rule(doc, rule)?;
    }
    for (prefix, ingress, ingress_description, client) in clients {
        let Some(client) = client else { continue };
        let (https, http, postgres) = (
            format!("{prefix}_https_out"),
            format!("{prefix}_http_out"),
            format!("{prefix}_postgres_out"),
        );
        for rule in [
            TcpRule {
                name: &https,
                description: "HTTPS to AWS APIs, Docker and package registries",
                group: client,
                direction: Direction::Egress,
                port: 443,
                peers: Peers::Cidr("0.0.0.0/0"),
                suppressions: open_egress(),
            },
            TcpRule {
                name: &http,
                description: "HTTP to the Ubuntu package mirrors",
                group: client,
                direction: Direction::Egress,
                port: 80,
                peers: Peers::Cidr("0.0.0.0/0"),
                suppressions: open_egress(),
            },
            TcpRule {
                name: &postgres,
                description: "PostgreSQL to the database",
                group: client,
                direction: Direction::Egress,
                port: POSTGRES,
                peers: Peers::Group(&database),
                suppressions: Vec::new(),
            },
            TcpRule {
                name: ingress,
                description: ingress_description,
                group: &database,
                direction: Direction::Ingress,
                port: POSTGRES,
                peers: Peers::Group(client),
                suppressions: Vec::new(),
            },
        ] {
            tcp_rule(doc, &rule)?;
        }
    }
    Ok(Groups {
        etl,
        database,
        workers,
    })
}
