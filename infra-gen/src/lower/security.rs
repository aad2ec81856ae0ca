//! Who may talk to whom: the host's, the workers' and the database's security groups, as separate
//! rules. The workers admit nothing inbound (SSM only) and reach the internet the way the host
//! does: public subnets and egress-only rules (see infra-gen/README.md for why not NAT or endpoints).

use crate::lower::network::Net;
use crate::lower::providers::Vars;
use crate::lower::{Ctx, SECURITY};
use crate::tf::network::{AwsSecurityGroup, AwsSecurityGroupRule};
use crate::tf::{Document, Expr, Handle, Meta, Suppression, TfError, TfString, Val, VarRef};

/// The groups.
pub(crate) struct Groups {
    pub(crate) etl: Handle<AwsSecurityGroup>,
    pub(crate) database: Handle<AwsSecurityGroup>,
    /// The workers' group, when `[etl] workers` is configured.
    pub(crate) workers: Option<Handle<AwsSecurityGroup>>,
}

const POSTGRES: u16 = 5432;

/// Why the host and the workers may reach the whole internet on 80 and 443.
const EGRESS_REASON: &str = "the instance pulls packages, images and AWS API calls over the internet gateway; \
     the VPC has no NAT or endpoints to narrow this to, and apt/Docker content is signature-checked";

fn rule(
    description: &str,
    group: &Handle<AwsSecurityGroup>,
    type_: &'static str,
    port: u16,
) -> AwsSecurityGroupRule {
    AwsSecurityGroupRule {
        type_,
        description: TfString::lit(description),
        security_group_id: group.id(),
        from_port: port,
        to_port: port,
        protocol: "tcp",
        cidr_blocks: None,
        source_security_group_id: None,
    }
}

/// An ingress rule from the CIDRs in a list variable, created only when the list is non-empty.
fn ingress_from_variable(
    doc: &mut Document,
    name: &str,
    description: &str,
    group: &Handle<AwsSecurityGroup>,
    port: u16,
    cidrs: &VarRef,
) -> Result<(), TfError> {
    let body = AwsSecurityGroupRule {
        cidr_blocks: Some(Val::Expr(cidrs.expr())),
        ..rule(description, group, "ingress", port)
    };
    let meta = Meta {
        count: Some(Expr::count_if_nonempty(&cidrs.expr())),
        ..Meta::default()
    };
    doc.resource_with(SECURITY, name, &body, meta)?;
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

    ingress_from_variable(
        doc,
        "etl_host_ssh",
        "SSH from the admin CIDRs",
        &etl,
        22,
        &vars.admin_cidrs,
    )?;
    ingress_from_variable(
        doc,
        "etl_host_http",
        "HTTP from the configured CIDRs",
        &etl,
        80,
        &vars.http_cidrs,
    )?;
    internet_egress(doc, "etl_host", &etl)?;
    postgres_pair(doc, "etl_host", "the ETL host", &etl, &database)?;
    let workers = match ctx.platform.etl.workers {
        Some(_) => {
            let workers = doc.resource(
                SECURITY,
                "etl_workers",
                &group(
                    "etl-workers",
                    "ETL workers: nothing inbound (SSM only), egress to AWS APIs, mirrors and the database",
                ),
            )?;
            internet_egress(doc, "etl_workers", &workers)?;
            postgres_pair(doc, "etl_workers", "the ETL workers", &workers, &database)?;
            Some(workers)
        }
        None => None,
    };
    Ok(Groups {
        etl,
        database,
        workers,
    })
}

/// HTTPS and HTTP to anywhere: AWS APIs, Docker's and Ubuntu's mirrors.
fn internet_egress(
    doc: &mut Document,
    prefix: &str,
    group: &Handle<AwsSecurityGroup>,
) -> Result<(), TfError> {
    for (suffix, description, port) in [
        (
            "https_out",
            "HTTPS to AWS APIs, Docker and package registries",
            443,
        ),
        ("http_out", "HTTP to the Ubuntu package mirrors", 80),
    ] {
        let body = AwsSecurityGroupRule {
            cidr_blocks: Some(Val::Lit(vec![TfString::lit("0.0.0.0/0")])),
            ..rule(description, group, "egress", port)
        };
        let meta = Meta {
            suppressions: vec![Suppression {
                rule: "open-egress",
                reason: EGRESS_REASON,
            }],
            ..Meta::default()
        };
        doc.resource_with(SECURITY, &format!("{prefix}_{suffix}"), &body, meta)?;
    }
    Ok(())
}

/// PostgreSQL from `client` to the database: the client's egress and the database's ingress.
fn postgres_pair(
    doc: &mut Document,
    prefix: &str,
    who: &str,
    client: &Handle<AwsSecurityGroup>,
    database: &Handle<AwsSecurityGroup>,
) -> Result<(), TfError> {
    doc.resource(
        SECURITY,
        &format!("{prefix}_postgres_out"),
        &AwsSecurityGroupRule {
            source_security_group_id: Some(database.id()),
            ..rule("PostgreSQL to the database", client, "egress", POSTGRES)
        },
    )?;
    // The host's rule keeps its original address, so existing state does not move.
    let ingress = if prefix == "etl_host" {
        "database_postgres_in".to_owned()
    } else {
        format!("database_postgres_from_{prefix}")
    };
    doc.resource(
        SECURITY,
        &ingress,
        &AwsSecurityGroupRule {
            source_security_group_id: Some(client.id()),
            ..rule(
                &format!("PostgreSQL from {who} only"),
                database,
                "ingress",
                POSTGRES,
            )
        },
    )?;
    Ok(())
}
