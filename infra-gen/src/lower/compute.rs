//! The ETL host: Ubuntu 24.04 LTS from Canonical's SSM parameter, IMDSv2 only, encrypted gp3
//! root volume, detailed monitoring, an Elastic IP, and a cloud-init document.

use minijinja::{Environment, context};

use crate::lower::network::Net;
use crate::lower::providers::Vars;
use crate::lower::security::Groups;
use crate::lower::{COMPUTE, Ctx};
use crate::tf::compute::{
    AwsEip, AwsEipAssociation, AwsInstance, MetadataOptions, RootBlockDevice,
};
use crate::tf::data::AwsSsmParameter;
use crate::tf::iam::AwsIamInstanceProfile;
use crate::tf::storage::AwsKmsKey;
use crate::tf::{Document, Handle, Meta, TfError, TfString};

/// Handles the outputs read.
pub(crate) struct Host {
    pub(crate) instance: Handle<AwsInstance>,
    pub(crate) eip: Handle<AwsEip>,
}

const USER_DATA: &str = include_str!("../../templates/user_data.yaml.j2");

/// Renders the cloud-init document. The template is compiled into the binary and tested, so a
/// failure here is a bug in this crate, reported as a serialization error of the instance.
fn user_data(ctx: &Ctx<'_>) -> Result<String, TfError> {
    let env = Environment::new();
    let values = context! {
        name => ctx.platform.name.to_string(),
        environment => &ctx.platform.environment,
    };
    env.render_str(USER_DATA, values)
        .map_err(|e| TfError::Serialize {
            address: "aws_instance.etl_host.user_data".into(),
            message: e.to_string(),
        })
}

pub(crate) fn lower(
    doc: &mut Document,
    ctx: &Ctx<'_>,
    net: &Net,
    groups: &Groups,
    key: &Handle<AwsKmsKey>,
    profile: &Handle<AwsIamInstanceProfile>,
    vars: &Vars,
) -> Result<Host, TfError> {
    let host = &ctx.platform.compute;
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
            user_data: TfString::lit(user_data(ctx)?),
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
            tags: ctx.tags("etl-host"),
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
