//! The ETL host: Ubuntu 24.04 LTS from Canonical's SSM parameter, IMDSv2 only, encrypted gp3
//! root volume, detailed monitoring, an Elastic IP, the host tag the deploy role is limited to,
//! and the cloud-init document that makes it run the ETL by itself.
//!
//! The cloud-init document is rendered from `templates/user_data.yaml.j2`. The host files of the
//! ETL (`etl/deploy/`) are embedded with `include_str!`, so the host always gets exactly the
//! committed files. Values only Terraform knows (the database address, the secret ARN, the
//! region) and the names of resources the host needs to exist first (the data bucket, the ETL
//! log group, the agent's SSM parameter) enter the document as holes that become `${...}`
//! references; everything else in it is escaped as a literal, so a shell `${VAR}` reaches the
//! host unchanged.
//!
//! `user_data_replace_on_change` is on, deliberately. cloud-init applies a document once per
//! instance, so changing `user_data` in place would stop and start the host and still leave it
//! running the old files: the host would silently differ from `out/`. Replacing it keeps the
//! host exactly what the document says, and the host holds no state (data lives in S3 and
//! PostgreSQL, the image in ECR, the Elastic IP moves to the new instance). The cost: a new host
//! has no image until the next deploy (run the deploy workflow after an apply that replaced it).

use std::collections::BTreeMap;

use minijinja::{Environment, context};

use crate::lower::database::Db;
use crate::lower::delivery::Runtime;
use crate::lower::monitoring::Telemetry;
use crate::lower::network::Net;
use crate::lower::providers::Vars;
use crate::lower::security::Groups;
use crate::lower::storage::Buckets;
use crate::lower::{COMPUTE, Ctx};
use crate::model::ETL_HOST_TAG_KEY;
use crate::tf::compute::{
    AwsEip, AwsEipAssociation, AwsInstance, MetadataOptions, RootBlockDevice,
};
use crate::tf::data::AwsSsmParameter;
use crate::tf::iam::AwsIamInstanceProfile;
use crate::tf::storage::AwsKmsKey;
use crate::tf::{Document, Handle, Meta, TfError, TfString, hole};

/// Handles the outputs read.
pub(crate) struct Host {
    pub(crate) instance: Handle<AwsInstance>,
    pub(crate) eip: Handle<AwsEip>,
}

/// What the host is wired to, from the other areas.
pub(crate) struct HostDeps<'a> {
    pub(crate) net: &'a Net,
    pub(crate) groups: &'a Groups,
    pub(crate) key: &'a Handle<AwsKmsKey>,
    pub(crate) profile: &'a Handle<AwsIamInstanceProfile>,
    pub(crate) vars: &'a Vars,
    pub(crate) buckets: &'a Buckets,
    pub(crate) db: &'a Db,
    pub(crate) telemetry: &'a Telemetry,
    pub(crate) runtime: &'a Runtime,
}

const USER_DATA: &str = include_str!("../../templates/user_data.yaml.j2");
const SETUP_SCRIPT: &str = include_str!("../../templates/etl-host-setup.sh");
const COMPOSE: &str = include_str!("../../../etl/deploy/compose.yaml");
const DEPLOY_SCRIPT: &str = include_str!("../../../etl/deploy/deploy.sh");
const SERVICE: &str = include_str!("../../../etl/deploy/hadrian-etl.service");

/// The systemd `OnCalendar=` expression for a run every `minutes` (which divides an hour or a
/// day), aligned to the hour or to midnight so runs happen at predictable times.
fn on_calendar(minutes: u32) -> String {
    if minutes < 60 {
        format!("*-*-* *:00/{minutes}:00")
    } else {
        format!("*-*-* 00/{}:00:00", minutes / 60)
    }
}

/// Renders the cloud-init document. The template is compiled into the binary and tested, so a
/// failure here is a bug in this crate, reported as a serialization error of the instance.
fn user_data(ctx: &Ctx<'_>, deps: &HostDeps<'_>) -> Result<TfString, TfError> {
    let platform = ctx.platform;
    let values = context! {
        name => platform.name.to_string(),
        environment => &platform.environment,
        bucket => hole("bucket"),
        db_secret_arn => hole("db_secret_arn"),
        db_address => hole("db_address"),
        db_port => hole("db_port"),
        db_name => &platform.database.db_name,
        region => hole("region"),
        log_group => hole("log_group"),
        agent_parameter => hole("agent_parameter"),
        repository_url => hole("repository_url"),
        image_parameter => platform.etl_image_parameter_name(),
        interval_minutes => platform.etl.schedule_minutes,
        on_calendar => on_calendar(platform.etl.schedule_minutes),
        compose => COMPOSE,
        deploy_script => DEPLOY_SCRIPT,
        service => SERVICE,
        setup_script => SETUP_SCRIPT,
    };
    let text = Environment::new()
        .render_str(USER_DATA, values)
        .map_err(|e| TfError::Serialize {
            address: "aws_instance.etl_host.user_data".into(),
            message: e.to_string(),
        })?;
    // References, not names: the host then also waits for the bucket, the log group and the
    // agent configuration it loads on first boot.
    let holes = BTreeMap::from([
        ("bucket", deps.buckets.data.attr("bucket")),
        ("log_group", deps.telemetry.etl_logs.attr("name")),
        (
            "agent_parameter",
            deps.telemetry.agent_parameter.attr("name"),
        ),
        ("db_secret_arn", deps.db.secret_arn()),
        ("db_address", deps.db.instance.attr("address")),
        ("db_port", deps.db.instance.attr("port")),
        ("region", ctx.region.attr("name")),
        (
            "repository_url",
            deps.runtime.repository.attr("repository_url"),
        ),
    ]);
    TfString::with_holes(&text, &holes)
}

pub(crate) fn lower(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    deps: &HostDeps<'_>,
) -> Result<Host, TfError> {
    let HostDeps {
        net,
        groups,
        key,
        profile,
        vars,
        ..
    } = deps;
    let host = &ctx.platform.compute;
    let mut tags = ctx.tags("etl-host");
    tags.insert(
        ETL_HOST_TAG_KEY.to_owned(),
        TfString::lit(ctx.platform.etl_host_tag_value()),
    );
    let ami = doc.data(
        COMPUTE,
        "ubuntu_ami",
        &AwsSsmParameter {
            name: vars.ami_parameter.string(),
        },
    )?;
    let instance = doc.resource_with(
        COMPUTE,
        "etl_host",
        &AwsInstance {
            ami: ami.attr("insecure_value"),
            instance_type: TfString::lit(&host.instance_type),
            subnet_id: net.public[0].id(),
            vpc_security_group_ids: vec![groups.etl.id()],
            iam_instance_profile: profile.id(),
            monitoring: true,
            ebs_optimized: true,
            user_data: user_data(ctx, deps)?,
            user_data_replace_on_change: true,
            metadata_options: MetadataOptions {
                http_endpoint: "enabled",
                http_tokens: "required",
                http_put_response_hop_limit: 2,
                instance_metadata_tags: "disabled",
            },
            root_block_device: RootBlockDevice {
                volume_type: "gp3",
                volume_size: host.root_volume_gb,
                encrypted: true,
                kms_key_id: key.arn(),
                delete_on_termination: true,
            },
            tags,
        },
        // A newer AMI in the parameter must not replace the running host by surprise.
        Meta {
            ignore_changes: vec!["ami"],
            ..Meta::default()
        },
    )?;
    let eip = doc.resource(
        COMPUTE,
        "etl_host",
        &AwsEip {
            domain: "vpc",
            tags: ctx.tags("etl-host"),
        },
    )?;
    doc.resource(
        COMPUTE,
        "etl_host",
        &AwsEipAssociation {
            instance_id: instance.id(),
            allocation_id: eip.id(),
        },
    )?;
    Ok(Host { instance, eip })
}

#[cfg(test)]
mod tests {
    use crate::lower::compute::on_calendar;
    use crate::model::monitoring::Etl;

    #[test]
    fn every_schedule_becomes_an_aligned_calendar() {
        assert_eq!(on_calendar(15), "*-*-* *:00/15:00");
        assert_eq!(on_calendar(60), "*-*-* 00/1:00:00");
        assert_eq!(on_calendar(1440), "*-*-* 00/24:00:00");
        for minutes in Etl::SCHEDULE_MINUTES {
            assert!(minutes < 60 && 60 % minutes == 0 || minutes % 60 == 0 && 1440 % minutes == 0);
        }
    }
}
